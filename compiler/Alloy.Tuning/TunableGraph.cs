using Alloy.IR;
using Alloy.Passes.Precision;

namespace Alloy.Tuning;

/// <summary>
/// What tuning can change in a model for one low-precision type: the nodes that run low precision when nothing
/// is forced to FP32 (by name, with op type), and their layer groups, read from the use-def links of the
/// all-low candidate.
/// </summary>
public sealed class TunableGraph
{
    /// <summary>Ops that do the model's multiply-accumulate work; each starts a layer group.</summary>
    public static readonly IReadOnlySet<string> ComputeOps = new HashSet<string>(StringComparer.Ordinal)
    {
        "Conv", "ConvTranspose", "ConvInteger", "QLinearConv", "Gemm", "MatMul", "MatMulInteger", "QLinearMatMul",
        "Einsum", "GRU", "LSTM", "RNN", "Attention",
    };

    private TunableGraph(string lowType, IReadOnlyList<(string Name, string OpType)> nodes, IReadOnlyList<LayerGroup> groups)
    {
        LowType = lowType;
        Nodes = nodes;
        Groups = groups;
        OpTypes = nodes.Select(n => n.OpType).Distinct(StringComparer.Ordinal).ToList();
    }

    public string LowType { get; }

    /// <summary>The tunable nodes in graph order.</summary>
    public IReadOnlyList<(string Name, string OpType)> Nodes { get; }

    /// <summary>The op types of the tunable nodes, in order of first appearance.</summary>
    public IReadOnlyList<string> OpTypes { get; }

    public IReadOnlyList<LayerGroup> Groups { get; }

    public IEnumerable<string> NodesOfType(string opType) => Nodes.Where(n => n.OpType == opType).Select(n => n.Name);

    /// <summary>Conversions the passes insert (not in the source model, so no name override reaches them): never tunable, but groups follow through them.</summary>
    private static readonly IReadOnlySet<string> Conversions = new HashSet<string>(StringComparer.Ordinal) { "Cast", "QuantizeLinear", "DequantizeLinear" };

    /// <summary>
    /// Reads the tunable nodes and their groups from the all-low candidate (built with nothing forced to FP32):
    /// the nodes whose <c>prec</c> is <paramref name="precision"/> (default <paramref name="lowType"/>; <c>i8</c> for INT8).
    /// </summary>
    public static TunableGraph Analyze(Model allLow, string lowType, string? precision = null)
    {
        precision ??= lowType;
        var nodes = new List<(string, string)>();
        var groupOf = new Dictionary<Node, int>();
        var members = new List<List<Node>>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var g in allLow.Graph.SelfAndSubgraphs())
        {
            foreach (var n in g.Nodes)
            {
                if (PrecisionAnnotations.PrecisionOf(n) != precision) continue;
                if (Conversions.Contains(n.OpType))
                {
                    // A Q/DQ pair between two INT8 nodes: the consumer joins the producer's group through it.
                    if (n.Inputs.Count > 0 && n.Inputs[0]?.Producer is { } p && groupOf.TryGetValue(p, out var through)) groupOf[n] = through;
                    continue;
                }
                var name = NodeNames.Of(n);
                if (name.Length == 0 || !seen.Add(name)) continue; // a node the name overrides cannot single out
                nodes.Add((name, n.OpType));
                int group = -1;
                if (!ComputeOps.Contains(n.OpType))
                {
                    var producers = n.Inputs.Where(v => v?.Producer is { } p && groupOf.ContainsKey(p))
                        .Select(v => groupOf[v!.Producer!]).Distinct().ToList();
                    // One producing group: the node follows it. Several (a residual Add, a Concat): it joins the first operand's.
                    if (producers.Count > 0) group = producers[0];
                }
                if (group < 0)
                {
                    group = members.Count;
                    members.Add([]);
                }
                groupOf[n] = group;
                members[group].Add(n);
            }
        }
        var groups = members.Select((m, i) => new LayerGroup(i, m.Select(NodeNames.Of).ToList(), m.Select(n => n.OpType).ToList())).ToList();
        return new TunableGraph(lowType, nodes, groups);
    }
}
