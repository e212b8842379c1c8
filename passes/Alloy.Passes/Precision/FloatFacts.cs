using Alloy.IR;

namespace Alloy.Passes.Precision;

/// <summary>
/// Which values and nodes of a model take part in a precision decision for one low type. A value is "float" when
/// its element type is FP32 (or already the low type); FP64, FP16-in-a-BF16-model and every integer, bool or
/// string value are not. A node is a float node when it reads a float value at an operand that is not
/// schema-fixed, produces a float value, or (If/Loop/Scan) carries a float value across its body boundary.
/// </summary>
internal sealed class FloatFacts
{
    public FloatFacts(Model model, DataType lowType)
    {
        Model = model;
        LowType = lowType;
        Types = new ElementTypeMap(model.Graph);
    }

    public Model Model { get; }
    public DataType LowType { get; }
    public ElementTypeMap Types { get; }

    public bool IsFloat(Value? v) => Types.Of(v) is { } d && (d == DataType.Float || d == LowType);

    /// <summary>Every node of the main graph and its subgraphs (bodies before the node that owns them is not guaranteed; order is graph by graph).</summary>
    public IEnumerable<Node> AllNodes => Model.Graph.SelfAndSubgraphs().SelectMany(g => g.Nodes);

    public bool IsFloatNode(Node n)
    {
        for (int i = 0; i < n.Inputs.Count; i++)
            if (IsFloat(n.Inputs[i]) && !PrecisionPolicy.KeepsFp32Operand(n, i)) return true;
        var outputs = n.Outputs;
        for (int i = 0; i < outputs.Count; i++)
            if (IsFloat(outputs[i])) return true;
        if (HasSubgraphs(n) && PrecisionPolicy.IsControlFlow(n))
            foreach (var g in n.Subgraphs)
            {
                foreach (var o in g.Outputs) if (IsFloat(o)) return true;
                foreach (var o in g.Inputs) if (IsFloat(o)) return true;
            }
        return false;
    }

    /// <summary>
    /// Nodes that compute shapes, indices or scales: every result is used (directly or through other such nodes)
    /// only at schema-fixed operands (Reshape's shape, Resize's scales, Slice's starts, …). Uses by Shape/Size count
    /// neither way, and Shape/Size themselves are not shape computations: they read only metadata, so they follow
    /// their data operand's precision. Computed in reverse order, so users are decided before their producers.
    /// </summary>
    public HashSet<Node> ShapeComputations()
    {
        var result = new HashSet<Node>();
        Reverse(Model.Graph, result);
        return result;
    }

    private static void Reverse(Graph g, HashSet<Node> shape)
    {
        for (var n = g.LastNode; n is not null; n = n.Prev)
        {
            if (HasSubgraphs(n))
                foreach (var sub in n.Subgraphs) Reverse(sub, shape);
            bool any = false;
            var outputs = n.Outputs;
            for (int i = 0; i < outputs.Count; i++)
                if (!OnlyShapeUses(outputs[i], shape, ref any)) goto next;
            if (any && !PrecisionPolicy.ReadsOnlyShape(n)) shape.Add(n);
            next:;
        }
    }

    /// <summary>False at the first use that reads the value as data; <paramref name="any"/> records whether a use counted.</summary>
    private static bool OnlyShapeUses(Value v, HashSet<Node> shape, ref bool any)
    {
        int count = v.UseCount;
        for (int i = 0; i < count; i++)
        {
            var u = v.UseAt(i);
            switch (u.Kind)
            {
                case UseKind.Operand:
                    var user = u.User!;
                    if (PrecisionPolicy.ReadsOnlyShape(user)) continue;
                    any = true;
                    if (!(shape.Count > 0 && shape.Contains(user)) && !PrecisionPolicy.KeepsFp32Operand(user, u.Index)) return false;
                    break;
                case UseKind.GraphOutput:
                    return false;
                case UseKind.Capture:
                    if (!OnlyShapeUses(u.Graph!.Captures[u.Index], shape, ref any)) return false;
                    break;
            }
        }
        return true;
    }

    /// <summary>True when the node holds a subgraph (without enumerating: a node without one returns an empty array).</summary>
    internal static bool HasSubgraphs(Node n) => n.Subgraphs is not Graph[] { Length: 0 };
}
