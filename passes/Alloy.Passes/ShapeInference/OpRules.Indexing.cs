using Alloy.IR;

namespace Alloy.Passes.ShapeInference;

internal static partial class OpRules
{
    private static void AddIndexing(Dictionary<string, Action<NodeContext>> t)
    {
        t["Gather"] = Gather;
        t["GatherElements"] = c => c.Set(0, c.Elem(0), c.ShapeOf(1));
        t["GatherND"] = GatherND;
        foreach (var op in new[] { "Scatter", "ScatterElements", "ScatterND" }) t[op] = c => c.SameAs(0, 0);
        t["TopK"] = TopK;
        t["NonZero"] = NonZero;
        t["Compress"] = Compress;
        t["OneHot"] = OneHot;
        t["Unique"] = Unique;
    }

    /// <summary>Gather: data.shape[:axis] + indices.shape + data.shape[axis+1:]; known elements are gathered too.</summary>
    private static void Gather(NodeContext c)
    {
        var elem = c.Elem(0);
        var data = c.ShapeOf(0);
        var indices = c.ShapeOf(1);
        if (data is null || indices is null) { c.Set(0, elem, null); return; }
        int axis = Axis(c.Int("axis", 0), data.Rank);
        var dims = data.Dims[..axis].Concat(indices.Dims).Concat(data.Dims[(axis + 1)..]).ToArray();
        c.SetDims(0, elem, dims);
        if (c.Known(0) is { Rank: 1 } k && axis == 0 && c.KnownInts(1) is { } idx && c.Known(1) is { } ik)
        {
            int n = k.Count;
            var at = new int[idx.Length];
            for (int i = 0; i < idx.Length; i++)
            {
                long j = idx[i] < 0 ? idx[i] + n : idx[i];
                if (j < 0 || j >= n) return;
                at[i] = (int)j;
            }
            c.SetKnown(0, k.Ints is { } ints
                ? KnownValue.OfInts(k.Type, ik.Dims, at.Select(i => ints[i]).ToArray())
                : KnownValue.OfFloats(k.Type, ik.Dims, at.Select(i => k.Floats![i]).ToArray()));
        }
    }

    private static void GatherND(NodeContext c)
    {
        var elem = c.Elem(0);
        var data = c.ShapeOf(0);
        var indices = c.ShapeOf(1);
        if (data is null || indices is null || indices.Rank == 0 || indices[indices.Rank - 1].Size is not { } last) { c.Set(0, elem, null); return; }
        int batch = (int)c.Int("batch_dims", 0);
        var dims = indices.Dims[..^1].Concat(data.Dims[(batch + (int)last)..]);
        c.SetDims(0, elem, dims);
    }

    private static void TopK(NodeContext c)
    {
        var elem = c.Elem(0);
        var s = c.ShapeOf(0);
        if (s is null) { c.Set(0, elem, null); c.Set(1, DataType.Int64, null); return; }
        int axis = Axis(c.Int("axis", -1), s.Rank);
        Dim k = c.Opset < 10 ? (c.IntOrNull("k") is { } ka ? Dim.Of(ka) : Dim.Unknown)
            : c.Known(1) is { Ints: [var kv] } ? kv : Dim.Unknown;
        var shape = WithDim(s, axis, k);
        c.Set(0, elem, shape);
        c.Set(1, DataType.Int64, shape);
    }

    private static void NonZero(NodeContext c)
    {
        var s = c.ShapeOf(0);
        Dim count = Dim.Unknown;
        if (c.Known(0) is { } k)
        {
            if (k.Ints is { } ints && ints.All(d => d.IsKnown)) count = Dim.Of(ints.Count(d => d.Size != 0));
            else if (k.Floats is { } f) count = Dim.Of(f.Count(v => v != 0));
        }
        c.SetDims(0, DataType.Int64, [s is null ? Dim.Unknown : Dim.Of(s.Rank), count]);
    }

    private static void Compress(NodeContext c)
    {
        var elem = c.Elem(0);
        var s = c.ShapeOf(0);
        Dim count = Dim.Unknown;
        var limit = s is null ? null : c.IntOrNull("axis") is { } ax ? s[Axis(ax, s.Rank)].Size : DimMath.Product(s.Dims).Size;
        if (c.KnownInts(1) is { } cond && limit is { } lim) count = Dim.Of(cond.Take((int)Math.Min(lim, cond.Length)).Count(v => v != 0));
        if (c.IntOrNull("axis") is { } axis)
        {
            if (s is null) { c.Set(0, elem, null); return; }
            c.Set(0, elem, WithDim(s, Axis(axis, s.Rank), count));
        }
        else c.SetDims(0, elem, [count]);
    }

    private static void OneHot(NodeContext c)
    {
        var elem = c.Elem(2);
        var s = c.ShapeOf(0);
        if (s is null) { c.Set(0, elem, null); return; }
        int rank = s.Rank + 1;
        int axis = Axis(c.Int("axis", -1), rank);
        Dim depth = c.Known(1)?.AllNumbers() is [var d] ? Dim.Of((long)d) : Dim.Unknown;
        var dims = s.Dims.ToList();
        dims.Insert(axis, depth);
        c.SetDims(0, elem, dims);
    }

    private static void Unique(NodeContext c)
    {
        var elem = c.Elem(0);
        var s = c.ShapeOf(0);
        var axisAttr = c.IntOrNull("axis");
        if (axisAttr is { } a && s is not null)
        {
            int axis = Axis(a, s.Rank);
            c.Set(0, elem, WithDim(s, axis, Dim.Unknown));
            c.SetDims(2, DataType.Int64, [s[axis]]);
        }
        else
        {
            c.Set(0, elem, axisAttr is null ? Vector(null) : null);
            c.Set(2, DataType.Int64, axisAttr is null && s is not null ? new Shape(DimMath.Product(s.Dims)) : Vector(null));
        }
        c.Set(1, DataType.Int64, Vector(null));
        c.Set(3, DataType.Int64, Vector(null));
    }
}
