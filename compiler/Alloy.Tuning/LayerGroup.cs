namespace Alloy.Tuning;

/// <summary>
/// Nodes that should share one precision: a compute op (Conv, Gemm, MatMul, recurrent ops …) with the
/// elementwise, normalization, pooling and reshaping ops that follow it on its data path. Giving a group one
/// precision puts casts only at group boundaries.
/// </summary>
public sealed record LayerGroup(int Index, IReadOnlyList<string> Nodes, IReadOnlyList<string> OpTypes)
{
    /// <summary>The group's first node and how many follow it: <c>Conv 'conv1' +2</c>.</summary>
    public string Label => $"{OpTypes[0]} '{Nodes[0]}'" + (Nodes.Count > 1 ? $" +{Nodes.Count - 1}" : "");
}
