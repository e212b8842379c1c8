using Alloy.IR;

namespace Alloy.Tuning;

/// <summary>The name a candidate uses for a node: the node's name, or its first result's name when it has none (as mark-*'s name overrides match).</summary>
public static class NodeNames
{
    public static string Of(Node n) => n.Name.Length > 0 ? n.Name : n.Outputs.Count > 0 ? n.Outputs[0].Name : "";
}
