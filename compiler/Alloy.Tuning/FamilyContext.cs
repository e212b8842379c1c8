using System.Collections.Immutable;

namespace Alloy.Tuning;

/// <summary>
/// One precision family under search: its configuration, its tunable nodes and groups, each tunable node's MACs,
/// and the nodes the family keeps FP32 in every candidate (the rest type's FP32 choice for <c>int8+bf16</c>).
/// </summary>
internal sealed record FamilyContext(PrecisionConfig Family, TunableGraph Graph, IReadOnlyDictionary<string, double> Macs, ImmutableSortedSet<string> KeptFp32)
{
    public string Low => Family.LowType;

    public CandidateSpec AllLow => CandidateSpec.AllLow(Low) with { KeptFp32 = KeptFp32 };

    public CandidateSpec WithFp32(IEnumerable<string> nodes) => CandidateSpec.WithFp32(Low, nodes) with { KeptFp32 = KeptFp32 };

    /// <summary>Every tunable node except those of <paramref name="group"/>: the candidate that runs only that group low.</summary>
    public CandidateSpec OnlyLow(LayerGroup group) => WithFp32(Graph.Nodes.Select(n => n.Name).Except(group.Nodes, StringComparer.Ordinal));
}
