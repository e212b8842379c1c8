using Alloy.IR;

namespace Alloy.Passes.ShapeInference;

/// <summary>
/// Ops the runtime does not run but whose result types follow directly from their operands: sequences,
/// optionals and the random generators. They keep models that use them typed end to end.
/// </summary>
internal static partial class OpRules
{
    private static void AddSequences(Dictionary<string, Action<NodeContext>> t)
    {
        t["SequenceEmpty"] = c => c.SetType(0, new SequenceType(new TensorType(c.TypeAttr("dtype", DataType.Float), null)));
        t["SequenceConstruct"] = c =>
        {
            IrType? element = null;
            for (int i = 0; i < c.InputCount; i++)
                element = i == 0 ? c.InType(i) : Join(element, c.InType(i));
            c.SetType(0, new SequenceType(element));
        };
        t["SequenceInsert"] = c =>
        {
            var seq = c.InType(0) as SequenceType;
            c.SetType(0, new SequenceType(seq?.ElementType is { } e ? Join(e, c.InType(1)) : c.InType(1)));
        };
        t["SequenceErase"] = c => c.SameAs(0, 0);
        t["SequenceAt"] = c => c.SetType(0, (c.InType(0) as SequenceType)?.ElementType);
        t["SequenceLength"] = c => c.Set(0, DataType.Int64, Shape.Scalar);
        t["SplitToSequence"] = c => c.SetType(0, new SequenceType(new TensorType(c.Elem(0), c.RankOf(0) is { } r && c.Int("keepdims", 1) != 0 ? UnknownShape(r) : null)));
        t["ConcatFromSequence"] = c => c.Set(0, (c.InType(0) as SequenceType)?.ElementType is TensorType e ? e.ElementType : DataType.Undefined, null);
        t["SequenceMap"] = SequenceMap;

        t["Optional"] = c =>
        {
            var inner = c.Has(0) ? c.InType(0) : (c.Attribute("type")?.Value as TypeAttr)?.Value;
            c.SetType(0, new OptionalType(inner));
        };
        t["OptionalGetElement"] = c => c.SetType(0, c.InType(0) is OptionalType o ? o.ElementType : c.InType(0));
        t["OptionalHasElement"] = c => c.Set(0, DataType.Bool, Shape.Scalar);

        t["RandomNormal"] = c => c.Set(0, c.TypeAttr("dtype", DataType.Float), c.Ints("shape") is { } s ? Shape.Of(s) : null);
        t["RandomUniform"] = c => c.Set(0, c.TypeAttr("dtype", DataType.Float), c.Ints("shape") is { } s ? Shape.Of(s) : null);
        t["RandomNormalLike"] = c => c.Set(0, c.TypeAttr("dtype", c.Elem(0)), c.ShapeOf(0));
        t["RandomUniformLike"] = c => c.Set(0, c.TypeAttr("dtype", c.Elem(0)), c.ShapeOf(0));
        t["Bernoulli"] = c => c.Set(0, c.TypeAttr("dtype", c.Elem(0)), c.ShapeOf(0));
        t["Multinomial"] = c =>
            c.SetDims(0, c.TypeAttr("dtype", DataType.Int32), [c.ShapeOf(0) is { Rank: 2 } s ? s[0] : Dim.Unknown, Dim.Of(c.Int("sample_size", 1))]);
    }

    /// <summary>SequenceMap: the body runs once per sequence element; each result is a sequence of the body's result.</summary>
    private static void SequenceMap(NodeContext c)
    {
        var body = c.GraphAttr("body");
        if (body is null) return;
        var inputs = new List<IrType?>();
        for (int i = 0; i < c.InputCount; i++)
            inputs.Add(c.InType(i) is SequenceType s ? s.ElementType : c.InType(i));
        c.Engine.InferSubgraph(body, inputs, c.Node);
        for (int i = 0; i < c.OutputCount && i < body.Outputs.Count; i++)
            c.SetType(i, new SequenceType(body.Outputs[i].Type));
    }
}
