namespace Alloy.Tuning;

/// <summary>One precision family under search: its configuration, its tunable nodes and groups, and each tunable node's MACs.</summary>
internal sealed record FamilyContext(PrecisionConfig Family, TunableGraph Graph, IReadOnlyDictionary<string, double> Macs)
{
    public string Low => Family.LowType;

    public CandidateSpec WithFp32(IEnumerable<string> nodes) => CandidateSpec.WithFp32(Low, nodes);

    /// <summary>Every tunable node except those of <paramref name="group"/>: the candidate that runs only that group low.</summary>
    public CandidateSpec OnlyLow(LayerGroup group) => WithFp32(Graph.Nodes.Select(n => n.Name).Except(group.Nodes, StringComparer.Ordinal));
}
