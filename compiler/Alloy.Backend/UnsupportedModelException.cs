namespace Alloy.Backend;

/// <summary>One node no kernel can run.</summary>
public sealed record UnsupportedNode(string Graph, string Node, string Op, long Opset, string Types, string Reason)
{
    public override string ToString() => $"graph '{Graph}', node {Node} ({Op}, opset {Opset}, inputs {Types}): {Reason}";
}

/// <summary>The model cannot run: every node without a kernel is listed, before anything runs.</summary>
public sealed class UnsupportedModelException(IReadOnlyList<UnsupportedNode> nodes)
    : Exception($"{nodes.Count} node(s) cannot run:\n  " + string.Join("\n  ", nodes))
{
    public IReadOnlyList<UnsupportedNode> Nodes { get; } = nodes;
}
