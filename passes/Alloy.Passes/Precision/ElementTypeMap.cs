using Alloy.IR;

namespace Alloy.Passes.Precision;

/// <summary>
/// Element types of every value of a graph and its subgraphs: the declared type where the value has one, otherwise
/// a local inference from the producer (Cast → its <c>to</c>, Shape → i64, comparisons → bool, …, by default the
/// type of the first typed operand). The precision passes need only the element type (is this a float value?), so
/// they work whether or not infer-shapes ran before them. The local inference walks the graph only when a value
/// without a declared element type is asked for (after infer-shapes, none is), and then once for all values; the
/// graph's types must not change while the map is in use.
/// </summary>
internal sealed class ElementTypeMap
{
    private readonly Dictionary<Value, DataType> _inferred = [];
    private readonly Graph _graph;
    private bool _visited;

    public ElementTypeMap(Graph graph) => _graph = graph;

    /// <summary>The element type of a dense tensor value; null when unknown or not a dense tensor.</summary>
    public DataType? Of(Value? v)
    {
        if (v is null) return null;
        if (v.Type is TensorType t && t.ElementType != DataType.Undefined) return t.ElementType;
        if (v.Type is not null and not TensorType) return null;
        if (v.Kind == ValueKind.Capture && v.Outer is { } outer) return Of(outer);
        if (v.Constant is { } c) return c.ElementType;
        if (!_visited)
        {
            _visited = true;
            Visit(_graph);
        }
        return _inferred.TryGetValue(v, out var d) ? d : null;
    }

    private void Visit(Graph g)
    {
        for (var n = g.FirstNode; n is not null; n = n.Next)
        {
            if (FloatFacts.HasSubgraphs(n))
            {
                TypeBodyInputs(n);
                foreach (var sub in n.Subgraphs) Visit(sub);
            }
            for (int r = 0; r < n.Outputs.Count; r++)
            {
                var v = n.Outputs[r];
                if (v.Type is TensorType { ElementType: not DataType.Undefined } || v.Type is not null and not TensorType) continue;
                if (Infer(n, r) is { } d) _inferred[v] = d;
            }
        }
    }

    /// <summary>Loop and Scan body inputs take the types of the node's operands when they carry none.</summary>
    private void TypeBodyInputs(Node n)
    {
        if (!n.IsDefaultDomain) return;
        if (n.OpType == "Loop" && BodyOf(n, "body") is { } body)
        {
            Set(body.Inputs.ElementAtOrDefault(0), DataType.Int64);
            Set(body.Inputs.ElementAtOrDefault(1), DataType.Bool);
            for (int k = 2; k < body.Inputs.Count; k++)
                if (Of(n.Inputs.ElementAtOrDefault(k)) is { } d) Set(body.Inputs[k], d);
        }
        else if (n.OpType == "Scan" && BodyOf(n, "body") is { } scan)
        {
            for (int k = 0; k < scan.Inputs.Count && k < n.Inputs.Count; k++)
                if (Of(n.Inputs[k]) is { } d) Set(scan.Inputs[k], d);
        }
    }

    private void Set(Value? v, DataType d)
    {
        if (v is null || Of(v) is not null) return;
        _inferred[v] = d;
    }

    internal static Graph? BodyOf(Node n, string attribute) => n.FindAttribute(attribute)?.Value is GraphAttr g ? g.Value : null;

    private DataType? Input(Node n, int i) => Of(n.Inputs.ElementAtOrDefault(i));

    private DataType? FirstTyped(Node n)
    {
        var inputs = n.Inputs;
        for (int i = 0; i < inputs.Count; i++)
            if (Of(inputs[i]) is { } d) return d;
        return null;
    }

    private static DataType? AttrType(Node n, string name)
    {
        var code = n.GetInt(name, -1);
        return code >= 0 && DataTypes.IsKnown((int)code) ? (DataType)code : null;
    }

    private DataType? Infer(Node n, int r)
    {
        if (!n.IsDefaultDomain) return r == 0 ? FirstTyped(n) : null;
        switch (n.OpType)
        {
            case "Cast": return AttrType(n, "to");
            case "CastLike": return Input(n, 1);
            case "Constant":
                foreach (var a in n.Attributes)
                {
                    switch (a.Value)
                    {
                        case TensorAttr t: return t.Value.ElementType;
                        case SparseTensorAttr s: return s.Value.Values.ElementType;
                    }
                    if (a.Name is "value_float" or "value_floats") return DataType.Float;
                    if (a.Name is "value_int" or "value_ints") return DataType.Int64;
                    if (a.Name is "value_string" or "value_strings") return DataType.String;
                }
                return null;
            case "ConstantOfShape":
                return n.FindAttribute("value")?.Value is TensorAttr v ? v.Value.ElementType : DataType.Float;
            case "Shape" or "Size" or "NonZero" or "ArgMax" or "ArgMin" or "NonMaxSuppression":
                return DataType.Int64;
            case "Equal" or "Greater" or "Less" or "GreaterOrEqual" or "LessOrEqual" or "Not" or "And" or "Or" or "Xor"
                or "IsNaN" or "IsInf" or "RegexFullMatch":
                return DataType.Bool;
            case "TopK": return r == 0 ? Input(n, 0) : DataType.Int64;
            case "MaxPool": return r == 0 ? Input(n, 0) : DataType.Int64;
            case "Unique": return r == 0 ? Input(n, 0) : DataType.Int64;
            case "Dropout": return r == 0 ? Input(n, 0) : DataType.Bool;
            case "LayerNormalization": return r == 0 ? Input(n, 0) : AttrType(n, "stash_type") ?? DataType.Float;
            case "EyeLike": return AttrType(n, "dtype") ?? Input(n, 0);
            case "RandomNormal" or "RandomUniform": return AttrType(n, "dtype") ?? DataType.Float;
            case "RandomNormalLike" or "RandomUniformLike" or "Bernoulli": return AttrType(n, "dtype") ?? Input(n, 0);
            case "Multinomial": return AttrType(n, "dtype") ?? DataType.Int32;
            case "QuantizeLinear": return Input(n, 2) ?? AttrType(n, "output_dtype") ?? DataType.UInt8;
            case "DequantizeLinear": return Input(n, 1) ?? DataType.Float;
            case "DynamicQuantizeLinear": return r == 1 ? DataType.Float : DataType.UInt8;
            case "MatMulInteger" or "ConvInteger": return DataType.Int32;
            case "QLinearConv" or "QLinearMatMul": return Input(n, 7);
            case "OneHot": return Input(n, 2);
            case "Where": return Input(n, 1) ?? Input(n, 2);
            case "StringNormalizer" or "StringConcat": return DataType.String;
            case "StringSplit": return r == 0 ? DataType.String : DataType.Int64;
            case "TfIdfVectorizer": return DataType.Float;
            case "ImageDecoder": return DataType.UInt8;
            case "If":
                return Of(BodyOf(n, "then_branch")?.Outputs.ElementAtOrDefault(r)) ?? Of(BodyOf(n, "else_branch")?.Outputs.ElementAtOrDefault(r));
            case "Loop":
            {
                var body = BodyOf(n, "body");
                int carried = Math.Max(0, n.Inputs.Count - 2);
                return r < carried ? Input(n, 2 + r) ?? Of(body?.Outputs.ElementAtOrDefault(1 + r)) : Of(body?.Outputs.ElementAtOrDefault(1 + r));
            }
            case "Scan":
                return Of(BodyOf(n, "body")?.Outputs.ElementAtOrDefault(r));
            case "SequenceConstruct" or "SequenceEmpty" or "SequenceInsert" or "SequenceErase" or "SplitToSequence"
                or "Optional" or "OptionalGetElement" or "OptionalHasElement" or "SequenceLength" or "SequenceAt" or "ConcatFromSequence":
                return n.OpType is "OptionalHasElement" ? DataType.Bool : n.OpType is "SequenceLength" ? DataType.Int64 : null;
            default:
                return FirstTyped(n);
        }
    }
}
