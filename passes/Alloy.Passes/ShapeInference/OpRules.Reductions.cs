using Alloy.IR;

namespace Alloy.Passes.ShapeInference;

internal static partial class OpRules
{
    private static readonly string[] Reductions =
        ["ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum", "ReduceSumSquare"];

    private static void AddReductions(Dictionary<string, Action<NodeContext>> t)
    {
        foreach (var op in Reductions) t[op] = Reduce;
        t["ArgMax"] = ArgReduce;
        t["ArgMin"] = ArgReduce;
    }

    /// <summary>Reduce*: axes from the attribute (older opsets) or the second operand (ReduceSum from 13, the rest from 18).</summary>
    private static void Reduce(NodeContext c)
    {
        var elem = c.Elem(0);
        var shape = c.ShapeOf(0);
        bool keep = c.Int("keepdims", 1) != 0;
        bool axesAsInput = c.Opset >= (c.Node.OpType == "ReduceSum" ? 13 : 18);
        long[]? axes;
        if (axesAsInput)
        {
            if (!c.Has(1) || c.Known(1) is { Count: 0 }) axes = [];
            else if (c.KnownInts(1) is { } known) axes = known;
            else
            {
                // Axes not known: the rank is still known with keepdims, or from the number of axes.
                if (shape is null) { c.Set(0, elem, null); return; }
                if (keep) { c.Set(0, elem, UnknownShape(shape.Rank)); return; }
                c.Set(0, elem, c.ShapeOf(1) is { Rank: 1 } s && s[0].Size is { } k ? UnknownShape(shape.Rank - (int)k) : null);
                return;
            }
        }
        else axes = c.Ints("axes") ?? [];

        if (shape is null) { c.Set(0, elem, null); return; }
        if (axes.Length == 0)
        {
            if (axesAsInput && c.Int("noop_with_empty_axes", 0) != 0) { c.Set(0, elem, shape); KnownReduce(c, null); return; }
            axes = Enumerable.Range(0, shape.Rank).Select(i => (long)i).ToArray();
        }
        var set = axes.Select(a => Axis(a, shape.Rank)).ToHashSet();
        var dims = new List<Dim>();
        for (int k = 0; k < shape.Rank; k++)
        {
            if (!set.Contains(k)) dims.Add(shape[k]);
            else if (keep) dims.Add(Dim.Of(1));
        }
        c.SetDims(0, elem, dims);
        KnownReduce(c, set);
    }

    /// <summary>ReduceProd / ReduceSum / ReduceMax / ReduceMin of a known 1-D integer tensor (sizes computed from shapes).</summary>
    private static void KnownReduce(NodeContext c, HashSet<int>? axes)
    {
        if (c.Known(0) is not { Ints: { } ints, Rank: 1 } k) return;
        if (axes is null) { c.SetKnown(0, k); return; }
        Dim r;
        switch (c.Node.OpType)
        {
            case "ReduceProd": r = DimMath.Product(ints); break;
            case "ReduceSum": r = ints.Aggregate(Dim.Of(0), DimMath.Add); break;
            case "ReduceMax" when k.AllInts() is { Length: > 0 } v: r = Dim.Of(v.Max()); break;
            case "ReduceMin" when k.AllInts() is { Length: > 0 } v: r = Dim.Of(v.Min()); break;
            default: return;
        }
        bool keep = c.Int("keepdims", 1) != 0;
        c.SetKnown(0, KnownValue.OfInts(k.Type, keep ? [1] : [], [r]));
    }

    private static void ArgReduce(NodeContext c)
    {
        var shape = c.ShapeOf(0);
        if (shape is null) { c.Set(0, DataType.Int64, null); return; }
        int axis = Axis(c.Int("axis", 0), shape.Rank);
        bool keep = c.Int("keepdims", 1) != 0;
        var dims = shape.Dims.ToList();
        if (keep) dims[axis] = Dim.Of(1);
        else dims.RemoveAt(axis);
        c.SetDims(0, DataType.Int64, dims);
    }
}
