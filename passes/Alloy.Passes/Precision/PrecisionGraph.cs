using Alloy.IR;

namespace Alloy.Passes.Precision;

/// <summary>
/// The dataflow the propagation works on: the painted nodes of the main graph and of every If/Loop/Scan body, joined
/// by their float values across body boundaries. A capture is the value it stands for; a body output is an operand
/// of the node that owns the body (If/Loop/Scan), and a Loop/Scan body input is a result of it, so a control-flow
/// node is one unit with one precision for every float value crossing its boundary. Graph inputs are FP32 sources,
/// graph outputs FP32 sinks; constants (initializers and Constant/ConstantOfShape results) convert for free.
/// Adjacency is stored in flat arrays (offsets + items) so building it allocates O(1) objects per graph; a value's
/// dense id is kept in its <see cref="Value.Scratch"/> while the graph is built (checked against the id's value, so
/// numbers left there by earlier passes do no harm).
/// </summary>
internal sealed class PrecisionGraph
{
    /// <summary>A value's source: a node index, or one of these.</summary>
    public const int ExternalFp32 = -1;
    public const int Free = -2;

    /// <summary>The value of each id; a value's id is kept in <see cref="Value.Scratch"/> and valid when this list agrees.</summary>
    private readonly List<Value> _values = [];
    private readonly List<int> _valueSource = [];
    // Uses of each value as a linked list in flat lists: head per value, next/consumer/fixed per use.
    private readonly List<int> _useHead = [];
    private readonly List<int> _useNext = [];
    private readonly List<int> _useConsumer = [];
    private readonly List<bool> _useFixed = [];

    /// <summary>Builds the graph of every node carrying a <c>color</c> annotation, in one walk over all nodes.</summary>
    public PrecisionGraph(FloatFacts facts)
    {
        Facts = facts;
        int total = 0;
        foreach (var g in facts.Model.Graph.SelfAndSubgraphs()) total += g.NodeCount;
        Nodes = new Node[total];
        Colors = new string[total];
        Reasons = new string?[total];
        _values.EnsureCapacity(total * 2);
        _valueSource.EnsureCapacity(total * 2);
        _useHead.EnsureCapacity(total * 2);
        _useNext.EnsureCapacity(total * 3);
        _useConsumer.EnsureCapacity(total * 3);
        _useFixed.EnsureCapacity(total * 3);
        var inOffsets = new List<int> { 0 };
        var outOffsets = new List<int> { 0 };
        var ins = new List<int>(total * 2);
        var outs = new List<int>(total);
        int count = 0;
        foreach (var g in facts.Model.Graph.SelfAndSubgraphs())
        {
            for (var n = g.FirstNode; n is not null; n = n.Next)
            {
                var annotations = n.Annotations;
                if (!annotations.TryGetValue(PrecisionAnnotations.Color, out var color))
                {
                    // An unpainted node reads float values only where they stay FP32 (schema-fixed operands, int8 nodes).
                    for (int k = 0; k < n.Inputs.Count; k++)
                        if (n.Inputs[k] is { } v && facts.IsFloat(v)) AddUse(ValueId(v), ExternalFp32, true);
                    continue;
                }
                int i = count++;
                Nodes[i] = n;
                Colors[i] = color;
                Reasons[i] = annotations.TryGetValue(PrecisionAnnotations.Reason, out var why) ? why : null;
                int inStart = ins.Count, outStart = outs.Count;
                for (int k = 0; k < n.Inputs.Count; k++)
                {
                    if (n.Inputs[k] is not { } v || !facts.IsFloat(v)) continue;
                    int id = ValueId(v);
                    bool isFixed = PrecisionPolicy.KeepsFp32Operand(n, k);
                    AddUse(id, i, isFixed);
                    if (!isFixed) AddOnce(ins, inStart, id);
                }
                bool constantSource = PrecisionPolicy.IsConstantSource(n);
                var results = n.Outputs;
                for (int k = 0; k < results.Count; k++)
                {
                    var r = results[k];
                    if (!facts.IsFloat(r)) continue;
                    int id = ValueId(r);
                    if (!constantSource) _valueSource[id] = i;
                    AddOnce(outs, outStart, id);
                }
                if (FloatFacts.HasSubgraphs(n) && PrecisionPolicy.IsControlFlow(n))
                    foreach (var body in n.Subgraphs)
                    {
                        foreach (var o in body.Outputs)
                        {
                            if (!facts.IsFloat(o)) continue;
                            int id = ValueId(o);
                            AddUse(id, i, false);
                            AddOnce(ins, inStart, id);
                        }
                        foreach (var o in body.Inputs)
                        {
                            if (!facts.IsFloat(o)) continue;
                            int id = ValueId(o);
                            _valueSource[id] = i;
                            AddOnce(outs, outStart, id);
                        }
                    }
                inOffsets.Add(ins.Count);
                outOffsets.Add(outs.Count);
            }
        }
        foreach (var o in facts.Model.Graph.Outputs)
            if (facts.IsFloat(o)) AddUse(ValueId(o), ExternalFp32, true);

        Count = count;
        InStart = [.. inOffsets];
        InItems = [.. ins];
        OutStart = [.. outOffsets];
        OutItems = [.. outs];

        var producers = new List<int>(ins.Count);
        var consumers = new List<int>(ins.Count);
        var prodOffsets = new int[count + 1];
        var consOffsets = new int[count + 1];
        for (int i = 0; i < count; i++)
        {
            int start = producers.Count;
            for (int k = InStart[i]; k < InStart[i + 1]; k++)
                if (_valueSource[InItems[k]] is var src and >= 0 && src != i) AddOnce(producers, start, src);
            prodOffsets[i + 1] = producers.Count;
            start = consumers.Count;
            for (int k = OutStart[i]; k < OutStart[i + 1]; k++)
                for (int u = _useHead[OutItems[k]]; u >= 0; u = _useNext[u])
                    if (!_useFixed[u] && _useConsumer[u] is var c and >= 0 && c != i) AddOnce(consumers, start, c);
            consOffsets[i + 1] = consumers.Count;
        }
        Producers = new Adjacency(prodOffsets, [.. producers]);
        Consumers = new Adjacency(consOffsets, [.. consumers]);
    }

    /// <summary>Adds to the current node's segment of a flat list unless present there (segments are short).</summary>
    private static void AddOnce(List<int> list, int segmentStart, int item)
    {
        for (int k = segmentStart; k < list.Count; k++)
            if (list[k] == item) return;
        list.Add(item);
    }

    private void AddUse(int value, int consumer, bool isFixed)
    {
        _useNext.Add(_useHead[value]);
        _useConsumer.Add(consumer);
        _useFixed.Add(isFixed);
        _useHead[value] = _useNext.Count - 1;
    }

    public FloatFacts Facts { get; }

    /// <summary>The painted nodes, in graph order (main graph first, then bodies); only the first <see cref="Count"/> entries are used.</summary>
    public Node[] Nodes { get; }
    public int Count { get; }

    /// <summary>The <c>color</c> of each node.</summary>
    public string[] Colors { get; }
    /// <summary>The <c>why</c> mark-* wrote on each node (null when missing).</summary>
    public string?[] Reasons { get; }

    /// <summary>Float values a node reads at converted operands (control flow: also its body outputs): <c>InItems[InStart[i]..InStart[i+1]]</c>.</summary>
    public int[] InStart { get; }
    public int[] InItems { get; }
    /// <summary>Float values a node defines (control flow: also its Loop/Scan body inputs).</summary>
    public int[] OutStart { get; }
    public int[] OutItems { get; }
    /// <summary>Painted nodes defining a node's in-values.</summary>
    public Adjacency Producers { get; }
    /// <summary>Painted nodes reading a node's out-values at converted operands.</summary>
    public Adjacency Consumers { get; }

    /// <summary>The number of Casts the value needs when <paramref name="low"/> says which nodes run low: 1 when some reader needs the other type than its source gives (Casts are shared per target type), 0 for free sources.</summary>
    public int Casts(int value, bool[] low)
    {
        int src = _valueSource[value];
        if (src == Free) return 0;
        bool sourceLow = src >= 0 && low[src];
        for (int u = _useHead[value]; u >= 0; u = _useNext[u])
        {
            int consumer = _useConsumer[u];
            bool needLow = !_useFixed[u] && consumer >= 0 && low[consumer];
            if (needLow != sourceLow) return 1;
        }
        return 0;
    }

    /// <summary>Casts needed around node <paramref name="n"/> (its in- and out-values).</summary>
    public int CastsAround(int n, bool[] low)
    {
        int total = 0;
        for (int k = InStart[n]; k < InStart[n + 1]; k++) total += Casts(InItems[k], low);
        for (int k = OutStart[n]; k < OutStart[n + 1]; k++)
            if (Array.IndexOf(InItems, OutItems[k], InStart[n], InStart[n + 1] - InStart[n]) < 0) total += Casts(OutItems[k], low);
        return total;
    }

    /// <summary>True when every reader of the node's out-values runs low (graph outputs and schema-fixed operands read FP32).</summary>
    public bool AllReadersLow(int n, bool[] low)
    {
        for (int k = OutStart[n]; k < OutStart[n + 1]; k++)
            for (int u = _useHead[OutItems[k]]; u >= 0; u = _useNext[u])
                if (_useFixed[u] || _useConsumer[u] < 0 || !low[_useConsumer[u]]) return false;
        return true;
    }

    /// <summary>Casts of the whole graph under an assignment (every float value once).</summary>
    public int TotalCasts(bool[] low)
    {
        int total = 0;
        for (int v = 0; v < _valueSource.Count; v++) total += Casts(v, low);
        return total;
    }

    private int ValueId(Value v)
    {
        while (v.Kind == ValueKind.Capture && v.Outer is { } o) v = o;
        int id = v.Scratch;
        if ((uint)id < (uint)_values.Count && ReferenceEquals(_values[id], v)) return id;
        id = _valueSource.Count;
        v.Scratch = id;
        _values.Add(v);
        // Initial source by kind; a painted producer (or a Loop/Scan owning a body input) sets itself later.
        _valueSource.Add(v.Kind == ValueKind.Constant || (v.Producer is { } p && PrecisionPolicy.IsConstantSource(p)) ? Free : ExternalFp32);
        _useHead.Add(-1);
        return id;
    }
}

/// <summary>Adjacency lists in flat form: the neighbours of node i are <c>Items[Start[i]..Start[i+1]]</c>.</summary>
internal readonly record struct Adjacency(int[] Start, int[] Items)
{
    public ReadOnlySpan<int> Of(int node) => Items.AsSpan(Start[node], Start[node + 1] - Start[node]);
}
