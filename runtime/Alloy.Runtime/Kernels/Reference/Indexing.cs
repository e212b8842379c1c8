using Alloy.Runtime.Numerics;
using static Alloy.Runtime.Kernels.Reference.ShapeHelpers;

namespace Alloy.Runtime.Kernels.Reference;

/// <summary>
/// Indexing family: Gather, GatherElements, GatherND, ScatterND, ScatterElements, Scatter (deprecated), Compress,
/// NonZero, TopK, OneHot, ReverseSequence, Trilu, Unique. Data is copied element by element without conversion
/// (every element type); scatter reductions compute in double (floats, one rounding on store) or long (integers,
/// wrapping on store).
/// </summary>
internal static partial class ReferenceKernels
{
    static partial void RegisterIndexing(KernelRegistry r)
    {
        r.Register("Gather", n => IndexingOps.Gather(n.Attributes.GetInt("axis", 0)));
        r.Register("GatherElements", n => IndexingOps.GatherElements(n.Attributes.GetInt("axis", 0)));
        r.Register("GatherND", n => IndexingOps.GatherND(n.Attributes.GetInt("batch_dims", 0)));
        r.Register("ScatterND", IndexingOps.ScatterND);
        r.Register("ScatterElements", IndexingOps.ScatterElements);
        r.Register("Scatter", IndexingOps.ScatterElements);
        r.Register("Compress", n => IndexingOps.Compress(n.Attributes.Has("axis") ? n.Attributes.GetInt("axis") : null));
        r.Register("NonZero", _ => IndexingOps.NonZero());
        r.Register("TopK", n => IndexingOps.TopK(n));
        r.Register("OneHot", n => IndexingOps.OneHot(n.Attributes.GetInt("axis", -1)));
        r.Register("ReverseSequence", n => IndexingOps.ReverseSequence(n.Attributes.GetInt("batch_axis", 1), n.Attributes.GetInt("time_axis", 0)));
        r.Register("Trilu", n => IndexingOps.Trilu(n.Attributes.GetInt("upper", 1) != 0));
        r.Register("Unique", n => IndexingOps.Unique(n.Attributes.GetInt("sorted", 1) != 0, n.Attributes.Has("axis") ? n.Attributes.GetInt("axis") : null));
    }
}

internal static class IndexingOps
{
    /// <summary>An index into a dimension of <paramref name="dim"/>, negative counting from the end.</summary>
    public static long Index(long i, long dim, string what)
    {
        long k = i < 0 ? i + dim : i;
        if (k < 0 || k >= dim) throw new KernelException($"{what} index {i} is out of range for a dimension of {dim}");
        return k;
    }

    public static IKernel Gather(long axis) => new MovementKernel((inputs, outputs) =>
    {
        var data = In(inputs, 0, "data");
        var indices = Ints(In(inputs, 1, "indices"), "indices");
        var indicesShape = inputs[1]!.Shape;
        int a = Axis(axis, data.Rank);
        long dim = data.Shape[a];
        long outer = Count(data.Shape.AsSpan(0, a));
        long inner = Count(data.Shape.AsSpan(a + 1));
        var outShape = data.Shape[..a].Concat(indicesShape).Concat(data.Shape[(a + 1)..]).ToArray();
        var y = Tensor.Create(data.Type, outShape);
        outputs[0] = y;
        long k = 0;
        for (long o = 0; o < outer; o++)
            foreach (var i in indices)
            {
                CopyElements(data, (o * dim + Index(i, dim, "Gather")) * inner, y, k, inner);
                k += inner;
            }
    });

    public static IKernel GatherElements(long axis) => new MovementKernel((inputs, outputs) =>
    {
        var data = In(inputs, 0, "data");
        var indicesTensor = In(inputs, 1, "indices");
        var indices = Ints(indicesTensor, "indices");
        int rank = data.Rank;
        int a = Axis(axis, rank);
        if (indicesTensor.Rank != rank) throw new KernelException($"indices {indicesTensor.ShapeText} must have the rank of data {data.ShapeText}");
        for (int d = 0; d < rank; d++)
            if (d != a && indicesTensor.Shape[d] > data.Shape[d])
                throw new KernelException($"indices {indicesTensor.ShapeText} exceed data {data.ShapeText} on axis {d}");
        var strides = Strides(data.Shape);
        outputs[0] = Take(data, indicesTensor.Shape, Map(indicesTensor.Shape, (idx, k) =>
        {
            long s = 0;
            for (int d = 0; d < rank; d++) s += (d == a ? Index(indices[k], data.Shape[a], "GatherElements") : idx[d]) * strides[d];
            return s;
        }));
    });

    /// <summary>Like <see cref="ShapeHelpers.Map"/> but the visitor also gets the flat position.</summary>
    private static long[] Map(long[] shape, Func<long[], long, long> source)
    {
        var map = new long[Count(shape)];
        ForEachIndex(shape, (idx, k) => map[k] = source(idx, k));
        return map;
    }

    public static IKernel GatherND(long batchDims) => new MovementKernel((inputs, outputs) =>
    {
        var data = In(inputs, 0, "data");
        var indicesTensor = In(inputs, 1, "indices");
        var indices = Ints(indicesTensor, "indices");
        int r = data.Rank, q = indicesTensor.Rank;
        if (batchDims < 0 || batchDims >= Math.Min(r, q)) throw new KernelException($"batch_dims {batchDims} must be in [0, {Math.Min(r, q) - 1}]");
        int b = (int)batchDims;
        if (q < 1) throw new KernelException("indices must have rank at least 1");
        long k = indicesTensor.Shape[^1];
        if (k < 1 || k > r - b) throw new KernelException($"the last dimension of indices ({k}) must be in [1, {r - b}]");
        for (int d = 0; d < b; d++)
            if (indicesTensor.Shape[d] != data.Shape[d])
                throw new KernelException($"batch dimension {d} differs: indices {indicesTensor.ShapeText}, data {data.ShapeText}");
        var outShape = indicesTensor.Shape[..^1].Concat(data.Shape[(b + (int)k)..]).ToArray();
        long batches = Count(data.Shape.AsSpan(0, b));
        long tuples = Count(indicesTensor.Shape.AsSpan(b, q - 1 - b));
        long slice = Count(data.Shape.AsSpan(b + (int)k));
        long batchStride = Count(data.Shape.AsSpan(b));
        var strides = Strides(data.Shape);
        var y = Tensor.Create(data.Type, outShape);
        outputs[0] = y;
        for (long bi = 0; bi < batches; bi++)
            for (long m = 0; m < tuples; m++)
            {
                long t = bi * tuples + m;
                long src = bi * batchStride;
                for (int j = 0; j < k; j++) src += Index(indices[t * k + j], data.Shape[b + j], "GatherND") * strides[b + j];
                CopyElements(data, src, y, t * slice, slice);
            }
    });

    public static IKernel? ScatterND(KernelNode n, out string? reason)
    {
        string reduction = n.Attributes.GetString("reduction", "none");
        reason = CheckReduction(reduction);
        if (reason is not null) return null;
        return new MovementKernel((inputs, outputs) =>
        {
            var data = In(inputs, 0, "data");
            var indicesTensor = In(inputs, 1, "indices");
            var updates = In(inputs, 2, "updates");
            var indices = Ints(indicesTensor, "indices");
            int r = data.Rank, q = indicesTensor.Rank;
            if (q < 1) throw new KernelException("indices must have rank at least 1");
            long k = indicesTensor.Shape[^1];
            if (k < 1 || k > r) throw new KernelException($"the last dimension of indices ({k}) must be in [1, {r}]");
            var expected = indicesTensor.Shape[..^1].Concat(data.Shape[(int)k..]).ToArray();
            if (!expected.SequenceEqual(updates.Shape))
                throw new KernelException($"updates {updates.ShapeText} must have shape {Text(expected)}");
            long tuples = Count(indicesTensor.Shape.AsSpan(0, q - 1));
            long slice = Count(data.Shape.AsSpan((int)k));
            var strides = Strides(data.Shape);
            var pairs = new List<(long, long)>();
            for (long t = 0; t < tuples; t++)
            {
                long dst = 0;
                for (int j = 0; j < k; j++) dst += Index(indices[t * k + j], data.Shape[j], "ScatterND") * strides[j];
                for (long e = 0; e < slice; e++) pairs.Add((dst + e, t * slice + e));
            }
            outputs[0] = Scatter(data, updates, pairs, reduction);
        });
    }

    public static IKernel? ScatterElements(KernelNode n, out string? reason)
    {
        string reduction = n.Attributes.GetString("reduction", "none");
        long axis = n.Attributes.GetInt("axis", 0);
        reason = CheckReduction(reduction);
        if (reason is not null) return null;
        return new MovementKernel((inputs, outputs) =>
        {
            var data = In(inputs, 0, "data");
            var indicesTensor = In(inputs, 1, "indices");
            var updates = In(inputs, 2, "updates");
            var indices = Ints(indicesTensor, "indices");
            int rank = data.Rank;
            int a = Axis(axis, rank);
            if (!updates.Shape.SequenceEqual(indicesTensor.Shape))
                throw new KernelException($"updates {updates.ShapeText} must have the shape of indices {indicesTensor.ShapeText}");
            if (indicesTensor.Rank != rank) throw new KernelException($"indices {indicesTensor.ShapeText} must have the rank of data {data.ShapeText}");
            for (int d = 0; d < rank; d++)
                if (d != a && indicesTensor.Shape[d] > data.Shape[d])
                    throw new KernelException($"indices {indicesTensor.ShapeText} exceed data {data.ShapeText} on axis {d}");
            var strides = Strides(data.Shape);
            var pairs = new List<(long, long)>();
            ForEachIndex(indicesTensor.Shape, (idx, k) =>
            {
                long dst = 0;
                for (int d = 0; d < rank; d++) dst += (d == a ? Index(indices[k], data.Shape[a], "ScatterElements") : idx[d]) * strides[d];
                pairs.Add((dst, k));
            });
            outputs[0] = Scatter(data, updates, pairs, reduction);
        });
    }

    private static string? CheckReduction(string reduction) =>
        reduction is "none" or "add" or "mul" or "max" or "min" ? null : $"reduction '{reduction}' is not supported (none, add, mul, max, min)";

    /// <summary>A copy of <paramref name="data"/> with updates applied in order (pairs of destination, update index).</summary>
    private static Tensor Scatter(Tensor data, Tensor updates, List<(long Dst, long Src)> pairs, string reduction)
    {
        if (updates.Type != data.Type) throw new KernelException($"updates are {updates.Type.Name()}, data is {data.Type.Name()}");
        var y = ElementConvert.Clone(data);
        try
        {
            if (reduction == "none")
            {
                foreach (var (dst, src) in pairs) CopyElement(updates, src, y, dst);
                return y;
            }
            if (data.Type == ElementType.String) throw new KernelException($"reduction '{reduction}' needs a numeric type");
            var touched = new SortedSet<long>();
            if (data.Type.IsFloat())
            {
                var d = ElementConvert.ToDoubles(data);
                var u = ElementConvert.ToDoubles(updates);
                foreach (var (dst, src) in pairs)
                {
                    d[dst] = reduction switch { "add" => d[dst] + u[src], "mul" => d[dst] * u[src], "max" => Math.Max(d[dst], u[src]), _ => Math.Min(d[dst], u[src]) };
                    touched.Add(dst);
                }
                foreach (var i in touched) ElementConvert.SetDouble(y, i, d[i]);
            }
            else if (data.Type == ElementType.UInt64)
            {
                var d = data.ToArray<ulong>();
                var u = updates.ToArray<ulong>();
                foreach (var (dst, src) in pairs)
                    d[dst] = reduction switch { "add" => d[dst] + u[src], "mul" => d[dst] * u[src], "max" => Math.Max(d[dst], u[src]), _ => Math.Min(d[dst], u[src]) };
                d.AsSpan().CopyTo(y.Span<ulong>());
            }
            else
            {
                var d = ElementConvert.ToLongs(data);
                var u = ElementConvert.ToLongs(updates);
                foreach (var (dst, src) in pairs)
                {
                    d[dst] = reduction switch { "add" => d[dst] + u[src], "mul" => d[dst] * u[src], "max" => Math.Max(d[dst], u[src]), _ => Math.Min(d[dst], u[src]) };
                    touched.Add(dst);
                }
                foreach (var i in touched) ElementConvert.SetLong(y, i, d[i]);
            }
            return y;
        }
        catch
        {
            y.Dispose();
            throw;
        }
    }

    public static IKernel Compress(long? axis) => new MovementKernel((inputs, outputs) =>
    {
        var x = In(inputs, 0, "input");
        var condTensor = In(inputs, 1, "condition");
        if (condTensor.Rank != 1) throw new KernelException($"condition must be 1-D, got {condTensor.ShapeText}");
        if (condTensor.Type == ElementType.String) throw new KernelException("condition must be bool");
        var cond = ElementConvert.ToLongs(condTensor);
        long[] shape = axis is null ? [x.Length] : x.Shape;
        int a = axis is null ? 0 : Axis(axis.Value, x.Rank);
        long dim = shape[a];
        var keep = new List<long>();
        for (long i = 0; i < cond.Length; i++)
            if (cond[i] != 0)
            {
                if (i >= dim) throw new KernelException($"condition selects index {i} beyond the {dim} elements of the axis");
                keep.Add(i);
            }
        var outShape = (long[])shape.Clone();
        outShape[a] = keep.Count;
        long outer = Count(shape.AsSpan(0, a));
        long inner = Count(shape.AsSpan(a + 1));
        var y = Tensor.Create(x.Type, outShape);
        outputs[0] = y;
        long k = 0;
        for (long o = 0; o < outer; o++)
            foreach (var i in keep)
            {
                CopyElements(x, (o * dim + i) * inner, y, k, inner);
                k += inner;
            }
    });

    public static IKernel NonZero() => new MovementKernel((inputs, outputs) =>
    {
        var x = In(inputs, 0, "X");
        long[] shape = x.Rank == 0 ? [1] : x.Shape;
        var hits = new List<long>();
        for (long i = 0; i < x.Length; i++)
        {
            bool nonZero = x.Type == ElementType.String ? x.Strings[i].Length > 0
                : x.Type.IsFloat() ? ElementConvert.GetDouble(x, i) != 0 || double.IsNaN(ElementConvert.GetDouble(x, i))
                : ElementConvert.GetLong(x, i) != 0;
            if (nonZero) hits.Add(i);
        }
        var strides = Strides(shape);
        var y = Tensor.Create(ElementType.Int64, [shape.Length, hits.Count]);
        var v = y.Span<long>();
        for (int h = 0; h < hits.Count; h++)
            for (int d = 0; d < shape.Length; d++) v[d * hits.Count + h] = hits[h] / strides[d] % shape[d];
        outputs[0] = y;
    });

    public static IKernel TopK(KernelNode n)
    {
        long axis = n.Attributes.GetInt("axis", -1);
        bool largest = n.Attributes.GetInt("largest", 1) != 0;
        long? kAttr = n.Opset < 10 ? n.Attributes.GetInt("k") : null;
        return new MovementKernel((inputs, outputs) =>
        {
            var x = In(inputs, 0, "X");
            long k = kAttr ?? ScalarInt(In(inputs, 1, "K"), "K");
            int a = Axis(axis, x.Rank);
            long dim = x.Shape[a];
            if (k < 0 || k > dim) throw new KernelException($"k = {k} is out of range for axis {a} of size {dim}");
            var keys = new ElementKeys(x);
            long outer = Count(x.Shape.AsSpan(0, a));
            long inner = Count(x.Shape.AsSpan(a + 1));
            var outShape = (long[])x.Shape.Clone();
            outShape[a] = k;
            var map = new long[Count(outShape)];
            var order = new long[dim];
            for (long o = 0; o < outer; o++)
                for (long i = 0; i < inner; i++)
                {
                    long bas = o * dim * inner + i;
                    for (long j = 0; j < dim; j++) order[j] = j;
                    Array.Sort(order, (p, q) =>
                    {
                        int c = keys.Compare(bas + p * inner, bas + q * inner);
                        if (largest) c = -c;
                        return c != 0 ? c : p.CompareTo(q);
                    });
                    for (long j = 0; j < k; j++) map[(o * k + j) * inner + i] = order[j];
                }
            var values = Take(x, outShape, map.Select((j, pos) => pos / inner / k * dim * inner + j * inner + pos % inner).ToArray());
            outputs[0] = values;
            if (outputs.Length > 1) outputs[1] = Tensor.FromArray<long>(ElementType.Int64, outShape, map);
        });
    }

    public static IKernel OneHot(long axis) => new MovementKernel((inputs, outputs) =>
    {
        var indicesTensor = In(inputs, 0, "indices");
        var depthTensor = In(inputs, 1, "depth");
        var values = In(inputs, 2, "values");
        if (values.Length != 2) throw new KernelException($"values must hold [off, on], got shape {values.ShapeText}");
        if (indicesTensor.Type == ElementType.String) throw new KernelException("indices must be numeric");
        double depthValue = ScalarDouble(depthTensor, "depth");
        long depth = (long)depthValue;
        if (depth < 1) throw new KernelException($"depth {depthValue} must be at least 1");
        var indices = ElementConvert.ToDoubles(indicesTensor);
        int rank = indicesTensor.Rank + 1;
        if (axis < -rank || axis >= rank) throw new KernelException($"axis {axis} is out of range for output rank {rank}");
        int a = (int)(axis < 0 ? axis + rank : axis);
        var outShape = indicesTensor.Shape[..a].Append(depth).Concat(indicesTensor.Shape[a..]).ToArray();
        outputs[0] = Take(values, outShape, ShapeHelpers.Map(outShape, idx =>
        {
            long pos = 0;
            for (int d = 0; d < rank; d++)
                if (d != a) pos = pos * outShape[d] + idx[d];
            long i = (long)indices[pos];
            if (i < 0) i += depth;
            return i == idx[a] ? 1 : 0;
        }));
    });

    public static IKernel ReverseSequence(long batchAxis, long timeAxis) => new MovementKernel((inputs, outputs) =>
    {
        var x = In(inputs, 0, "input");
        var lens = Ints1D(In(inputs, 1, "sequence_lens"), "sequence_lens");
        if (x.Rank < 2) throw new KernelException($"input must have rank at least 2, got {x.ShapeText}");
        if (batchAxis is not (0 or 1) || timeAxis is not (0 or 1) || batchAxis == timeAxis)
            throw new KernelException($"batch_axis {batchAxis} and time_axis {timeAxis} must be 0 and 1 in some order");
        int ba = (int)batchAxis, ta = (int)timeAxis;
        if (lens.Length != x.Shape[ba]) throw new KernelException($"sequence_lens has {lens.Length} entries for a batch of {x.Shape[ba]}");
        foreach (var l in lens)
            if (l < 0 || l > x.Shape[ta]) throw new KernelException($"sequence length {l} is out of range [0, {x.Shape[ta]}]");
        var strides = Strides(x.Shape);
        outputs[0] = Take(x, x.Shape, ShapeHelpers.Map(x.Shape, idx =>
        {
            long t = idx[ta], len = lens[idx[ba]];
            long src = 0;
            for (int d = 0; d < idx.Length; d++) src += (d == ta && t < len ? len - 1 - t : idx[d]) * strides[d];
            return src;
        }));
    });

    public static IKernel Trilu(bool upper) => new MovementKernel((inputs, outputs) =>
    {
        var x = In(inputs, 0, "input");
        long k = Opt(inputs, 1) is { } kt ? ScalarInt(kt, "k") : 0;
        if (x.Rank < 2) throw new KernelException($"input must have rank at least 2, got {x.ShapeText}");
        long cols = x.Shape[^1], rows = x.Shape[^2];
        var map = new long[x.Length];
        for (long p = 0; p < x.Length; p++)
        {
            long j = p % cols, i = p / cols % rows;
            map[p] = (upper ? j - i >= k : j - i <= k) ? p : -1;
        }
        outputs[0] = Take(x, x.Shape, map);
    });

    public static IKernel Unique(bool sorted, long? axis) => new MovementKernel((inputs, outputs) =>
    {
        var x = In(inputs, 0, "X");
        var keys = new ElementKeys(x);
        long[] shape = axis is null ? [x.Length] : x.Shape;
        int a = axis is null ? 0 : Axis(axis.Value, x.Rank);
        long dim = shape[a];
        long outer = Count(shape.AsSpan(0, a));
        long inner = Count(shape.AsSpan(a + 1));
        // Compare slices j and l along the axis element by element in row-major order.
        int CompareSlices(long j, long l)
        {
            for (long o = 0; o < outer; o++)
                for (long i = 0; i < inner; i++)
                {
                    int c = keys.Compare((o * dim + j) * inner + i, (o * dim + l) * inner + i);
                    if (c != 0) return c;
                }
            return 0;
        }
        var order = new long[dim];
        for (long j = 0; j < dim; j++) order[j] = j;
        Array.Sort(order, (p, q) =>
        {
            int c = CompareSlices(p, q);
            return c != 0 ? c : p.CompareTo(q);
        });
        // Groups of equal slices; each group's first member is its first occurrence.
        var groups = new List<List<long>>();
        foreach (var j in order)
        {
            if (groups.Count > 0 && CompareSlices(groups[^1][0], j) == 0) groups[^1].Add(j);
            else groups.Add([j]);
        }
        if (!sorted) groups.Sort((g, h) => g[0].CompareTo(h[0]));
        long u = groups.Count;
        var inverse = new long[dim];
        for (int g = 0; g < groups.Count; g++)
            foreach (var j in groups[g]) inverse[j] = g;
        var outShape = (long[])shape.Clone();
        outShape[a] = u;
        var map = ShapeHelpers.Map(outShape, idx =>
        {
            long src = 0;
            for (int d = 0; d < idx.Length; d++) src = src * shape[d] + (d == a ? groups[(int)idx[a]][0] : idx[d]);
            return src;
        });
        outputs[0] = Take(x, outShape, map);
        if (outputs.Length > 1) outputs[1] = Tensor.FromArray<long>(ElementType.Int64, [u], groups.Select(g => g[0]).ToArray());
        if (outputs.Length > 2) outputs[2] = Tensor.FromArray<long>(ElementType.Int64, [dim], inverse);
        if (outputs.Length > 3) outputs[3] = Tensor.FromArray<long>(ElementType.Int64, [u], groups.Select(g => (long)g.Count).ToArray());
    });
}
