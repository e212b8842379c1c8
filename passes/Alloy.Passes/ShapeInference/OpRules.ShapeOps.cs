using Alloy.IR;

namespace Alloy.Passes.ShapeInference;

internal static partial class OpRules
{
    /// <summary>Ends at or beyond this mean "to the end" of a slice even when the dimension is symbolic.</summary>
    private const long SliceToEnd = int.MaxValue;

    private static void AddShapeOps(Dictionary<string, Action<NodeContext>> t)
    {
        t["Shape"] = ShapeOp;
        t["Size"] = c =>
        {
            c.Set(0, DataType.Int64, Shape.Scalar);
            if (c.ShapeOf(0) is { } s) c.SetKnown(0, KnownValue.OfInts(DataType.Int64, [], [DimMath.Product(s.Dims)]));
        };
        t["Reshape"] = Reshape;
        t["Flatten"] = Flatten;
        t["Squeeze"] = Squeeze;
        t["Unsqueeze"] = Unsqueeze;
        t["Transpose"] = Transpose;
        t["Concat"] = Concat;
        t["Split"] = Split;
        t["Slice"] = Slice;
        t["Expand"] = Expand;
        t["Tile"] = Tile;
        t["Pad"] = Pad;
        t["DepthToSpace"] = c => BlockRearrange(c, toSpace: true);
        t["SpaceToDepth"] = c => BlockRearrange(c, toSpace: false);
        t["Resize"] = Resize;
        t["Upsample"] = Upsample;
        t["ConstantOfShape"] = ConstantOfShape;
        t["Constant"] = Constant;
        t["Range"] = Range;
        t["EyeLike"] = c => c.Set(0, c.TypeAttr("dtype", c.Elem(0)), c.ShapeOf(0));
    }

    /// <summary>Shape: i64[rank] (or the [start, end) part), known element by element: sizes and symbols.</summary>
    private static void ShapeOp(NodeContext c)
    {
        var s = c.ShapeOf(0);
        if (s is null) { c.Set(0, DataType.Int64, Vector(null)); return; }
        int rank = s.Rank;
        long start = c.Int("start", 0);
        long end = c.IntOrNull("end") ?? rank;
        start = Math.Clamp(start < 0 ? start + rank : start, 0, rank);
        end = Math.Clamp(end < 0 ? end + rank : end, 0, rank);
        var dims = s.Dims[(int)start..(int)Math.Max(start, end)];
        c.Set(0, DataType.Int64, Vector(dims.Length));
        c.SetKnown(0, KnownValue.Vector(dims));
    }

    /// <summary>The target of a Reshape / Expand / ConstantOfShape: known elements (numbers or symbols), or only the length.</summary>
    private static Dim[]? ShapeOperand(NodeContext c, int input, out int? length)
    {
        length = null;
        if (c.Known(input) is { Ints: { } ints } k && k.Rank <= 1)
        {
            length = ints.Length;
            return ints;
        }
        if (c.ShapeOf(input) is { Rank: 1 } s && s[0].Size is { } n) length = (int)n;
        return null;
    }

    private static void Reshape(NodeContext c)
    {
        var elem = c.Elem(0);
        var input = c.ShapeOf(0);
        Dim[]? target;
        int? length;
        if (c.Opset < 5)
        {
            target = c.Ints("shape")?.Select(Dim.Of).ToArray();
            length = target?.Length;
        }
        else target = ShapeOperand(c, 1, out length);
        if (target is null)
        {
            c.Set(0, elem, length is { } n ? UnknownShape(n) : null);
            return;
        }
        bool allowZero = c.Int("allowzero", 0) != 0;
        var dims = new Dim[target.Length];
        int inferred = -1;
        for (int i = 0; i < target.Length; i++)
        {
            var e = target[i];
            if (e.Size is { } v)
            {
                if (v == 0 && !allowZero) dims[i] = input is not null && i < input.Rank ? input[i] : Dim.Unknown;
                else if (v == -1) inferred = i;
                else dims[i] = v < 0 ? Dim.Unknown : Dim.Of(v);
            }
            else dims[i] = e;
        }
        if (inferred >= 0)
        {
            dims[inferred] = input is null
                ? Dim.Unknown
                : DimMath.ExactDiv(DimMath.Product(input.Dims), DimMath.Product(dims.Where((_, i) => i != inferred)));
        }
        c.SetDims(0, elem, dims);
        if (c.Known(0) is { } k && dims.All(d => d.IsKnown))
            c.SetKnown(0, k.WithDims(dims.Select(d => d.Size!.Value).ToArray()));
    }

    private static void Flatten(NodeContext c)
    {
        var s = c.ShapeOf(0);
        if (s is null) { c.Set(0, c.Elem(0), UnknownShape(2)); return; }
        long axis = c.Int("axis", 1);
        int a = (int)(axis < 0 ? axis + s.Rank : axis);
        if (a < 0 || a > s.Rank) throw new ArgumentException($"Flatten axis {axis} is out of range for rank {s.Rank}");
        var dims = new[] { DimMath.Product(s.Dims[..a]), DimMath.Product(s.Dims[a..]) };
        c.SetDims(0, c.Elem(0), dims);
        if (c.Known(0) is { } k && dims.All(d => d.IsKnown)) c.SetKnown(0, k.WithDims([dims[0].Size!.Value, dims[1].Size!.Value]));
    }

    /// <summary>Axes from the attribute (before <paramref name="inputSince"/>) or operand 1; <paramref name="given"/> says whether any were given.</summary>
    private static long[]? AxesOperand(NodeContext c, long inputSince, out bool given, out int? count)
    {
        count = null;
        if (c.Opset < inputSince)
        {
            var a = c.Ints("axes");
            given = a is not null;
            count = a?.Length;
            return a;
        }
        given = c.Has(1);
        if (!given) return null;
        var known = c.KnownInts(1);
        count = known?.Length ?? (c.ShapeOf(1) is { Rank: 1 } s && s[0].Size is { } n ? (int)n : null);
        return known;
    }

    private static void Squeeze(NodeContext c)
    {
        var elem = c.Elem(0);
        var s = c.ShapeOf(0);
        var axes = AxesOperand(c, 13, out bool given, out int? count);
        if (s is null) { c.Set(0, elem, null); return; }
        Dim[] dims;
        if (!given || axes is { Length: 0 })
        {
            // Every dimension of size 1 goes: the rank is known only when no dimension could be 1 unseen.
            if (s.Dims.Any(d => !d.IsKnown)) { c.Set(0, elem, null); return; }
            dims = s.Dims.Where(d => d.Size != 1).ToArray();
        }
        else if (axes is null)
        {
            c.Set(0, elem, count is { } k ? UnknownShape(s.Rank - k) : null);
            return;
        }
        else
        {
            var set = axes.Select(a => Axis(a, s.Rank)).ToHashSet();
            dims = s.Dims.Where((_, k) => !set.Contains(k)).ToArray();
        }
        c.SetDims(0, elem, dims);
        if (c.Known(0) is { } kv && dims.All(d => d.IsKnown)) c.SetKnown(0, kv.WithDims(dims.Select(d => d.Size!.Value).ToArray()));
    }

    private static void Unsqueeze(NodeContext c)
    {
        var elem = c.Elem(0);
        var s = c.ShapeOf(0);
        var axes = AxesOperand(c, 13, out _, out int? count);
        if (s is null) { c.Set(0, elem, null); return; }
        if (axes is null)
        {
            c.Set(0, elem, count is { } k ? UnknownShape(s.Rank + k) : null);
            return;
        }
        int rank = s.Rank + axes.Length;
        var set = axes.Select(a => Axis(a, rank)).ToHashSet();
        var dims = new Dim[rank];
        int src = 0;
        for (int k = 0; k < rank; k++) dims[k] = set.Contains(k) ? Dim.Of(1) : s[src++];
        c.SetDims(0, elem, dims);
        if (c.Known(0) is { } kv && dims.All(d => d.IsKnown)) c.SetKnown(0, kv.WithDims(dims.Select(d => d.Size!.Value).ToArray()));
    }

    private static void Transpose(NodeContext c)
    {
        var s = c.ShapeOf(0);
        if (s is null) { c.Set(0, c.Elem(0), null); return; }
        var perm = c.Ints("perm") ?? Enumerable.Range(0, s.Rank).Reverse().Select(i => (long)i).ToArray();
        if (perm.Length != s.Rank) throw new ArgumentException($"Transpose perm has {perm.Length} entries for rank {s.Rank}");
        var dims = new Dim[perm.Length];
        for (int i = 0; i < dims.Length; i++) dims[i] = s[Axis(perm[i], s.Rank)];
        c.Set(0, c.Elem(0), NodeContext.Owned(dims));
        if (c.Known(0) is { Rank: <= 1 } k) c.SetKnown(0, k);
    }

    private static void Concat(NodeContext c)
    {
        var inputs = Enumerable.Range(0, c.InputCount).Where(c.Has).ToArray();
        var elem = c.FirstElem(inputs);
        var shapes = inputs.Select(c.ShapeOf).ToArray();
        var any = shapes.FirstOrDefault(s => s is not null);
        if (any is null) { c.Set(0, elem, null); return; }
        int rank = any.Rank;
        int axis = Axis(c.Int("axis", 0), rank);
        var dims = new Dim[rank];
        for (int k = 0; k < rank; k++)
        {
            if (k == axis)
            {
                dims[k] = shapes.Any(s => s is null) ? Dim.Unknown : shapes.Aggregate(Dim.Of(0), (acc, s) => DimMath.Add(acc, s![k]));
                continue;
            }
            // The other dimensions agree across operands: take the most precise one.
            dims[k] = Dim.Unknown;
            foreach (var s in shapes)
            {
                if (s is null || s.Rank != rank) continue;
                if (s[k].IsKnown) { dims[k] = s[k]; break; }
                if (dims[k].IsUnknown) dims[k] = s[k];
            }
        }
        c.SetDims(0, elem, dims);
        KnownConcat(c, inputs, axis);
    }

    private static void KnownConcat(NodeContext c, int[] inputs, int axis)
    {
        var parts = inputs.Select(c.Known).ToArray();
        if (parts.Length == 0 || parts.Any(p => p is null)) return;
        var first = parts[0]!;
        int rank = first.Rank;
        if (parts.Any(p => p!.Rank != rank || (p.Ints is null) != (first.Ints is null))) return;
        long outer = 1, axisTotal = 0;
        for (int k = 0; k < axis; k++) outer *= first.Dims[k];
        foreach (var p in parts) axisTotal += p!.Dims[axis];
        var dims = (long[])first.Dims.Clone();
        dims[axis] = axisTotal;
        if (KnownValue.Product(dims) > KnownValue.MaxElements) return;
        var type = first.Type;
        if (first.Ints is not null)
        {
            var r = new List<Dim>();
            for (long o = 0; o < outer; o++)
                foreach (var p in parts)
                {
                    int block = (int)(p!.Count / Math.Max(outer, 1));
                    r.AddRange(p.Ints!.Skip((int)o * block).Take(block));
                }
            c.SetKnown(0, KnownValue.OfInts(type, dims, [.. r]));
        }
        else
        {
            var r = new List<double>();
            for (long o = 0; o < outer; o++)
                foreach (var p in parts)
                {
                    int block = (int)(p!.Count / Math.Max(outer, 1));
                    r.AddRange(p.Floats!.Skip((int)o * block).Take(block));
                }
            c.SetKnown(0, KnownValue.OfFloats(type, dims, [.. r]));
        }
    }

    private static void Split(NodeContext c)
    {
        var elem = c.Elem(0);
        var s = c.ShapeOf(0);
        int n = c.OutputCount;
        if (s is null)
        {
            for (int i = 0; i < n; i++) c.Set(i, elem, null);
            return;
        }
        int axis = Axis(c.Int("axis", 0), s.Rank);
        long[]? splits = c.Opset >= 13 ? (c.Has(1) ? c.KnownInts(1) : null) : c.Ints("split");
        bool splitGiven = c.Opset >= 13 ? c.Has(1) : c.HasAttr("split");
        var dim = s[axis];
        var sizes = new Dim[n];
        if (splits is { } sp && sp.Length == n) sizes = sp.Select(Dim.Of).ToArray();
        else if (splitGiven) sizes = NodeContext.Unknowns(n).ToArray();
        else if (c.IntOrNull("num_outputs") is { } parts && dim.Size is { } total)
        {
            long chunk = CeilDiv(total, parts);
            for (int i = 0; i < n; i++) sizes[i] = Dim.Of(Math.Max(0, Math.Min(chunk, total - chunk * i)));
        }
        else
        {
            var each = DimMath.ExactDiv(dim, Dim.Of(n));
            for (int i = 0; i < n; i++) sizes[i] = each;
        }
        for (int i = 0; i < n; i++) c.Set(i, elem, WithDim(s, axis, sizes[i]));
        if (c.Known(0) is { Rank: 1, Ints: { } ints } k && sizes.All(d => d.IsKnown))
        {
            int offset = 0;
            for (int i = 0; i < n; i++)
            {
                int len = (int)sizes[i].Size!.Value;
                if (offset + len > ints.Length) return;
                c.SetKnown(i, KnownValue.OfInts(k.Type, [len], ints[offset..(offset + len)]));
                offset += len;
            }
        }
    }

    /// <summary>Number of elements a slice takes from a dimension of <paramref name="n"/>, as the reference kernel clamps.</summary>
    internal static long SliceCount(long n, long start, long end, long step)
    {
        if (start < 0) start += n;
        if (end < 0) end += n;
        if (step > 0)
        {
            start = Math.Clamp(start, 0, n);
            end = Math.Clamp(end, 0, n);
            return end - start <= 0 ? 0 : (end - start - 1) / step + 1;
        }
        start = Math.Clamp(start, 0, Math.Max(n - 1, 0));
        end = Math.Clamp(end, -1, n - 1);
        return n == 0 || start - end <= 0 ? 0 : (start - end - 1) / -step + 1;
    }

    private static void Slice(NodeContext c)
    {
        var elem = c.Elem(0);
        var s = c.ShapeOf(0);
        long[]? starts, ends, axes, steps;
        bool axesUnknown = false;
        if (c.Opset < 10)
        {
            starts = c.Ints("starts");
            ends = c.Ints("ends");
            axes = c.Ints("axes");
            steps = null;
        }
        else
        {
            starts = c.KnownInts(1);
            ends = c.KnownInts(2);
            axes = c.Has(3) ? c.KnownInts(3) : null;
            axesUnknown = c.Has(3) && axes is null;
            steps = c.Has(4) ? c.KnownInts(4) : null;
            if (c.Has(4) && steps is null) starts = null; // unknown steps: sizes unknown
        }
        if (s is null) { c.Set(0, elem, null); return; }
        if (starts is null || ends is null || axesUnknown || starts.Length != ends.Length)
        {
            // The rank stays; the sliced axes (all, when not known) lose their sizes.
            var unknownAxes = axes?.Select(a => Axis(a, s.Rank)).ToHashSet();
            c.SetDims(0, elem, s.Dims.Select((d, k) => unknownAxes is null || unknownAxes.Contains(k) ? Dim.Unknown : d));
            return;
        }
        axes ??= Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
        var dims = s.Dims.AsSpan().ToArray();
        for (int i = 0; i < axes.Length; i++)
        {
            int a = Axis(axes[i], s.Rank);
            long step = steps?[i] ?? 1;
            if (step == 0) throw new ArgumentException("Slice step is 0");
            if (dims[a].Size is { } n) dims[a] = Dim.Of(SliceCount(n, starts[i], ends[i], step));
            else if (step == 1 && starts[i] == 0 && ends[i] >= SliceToEnd) { /* the whole dimension */ }
            else if (step == -1 && starts[i] == -1 && ends[i] <= -SliceToEnd) { /* the whole dimension, reversed */ }
            else dims[a] = Dim.Unknown;
        }
        c.SetDims(0, elem, dims);
        if (c.Known(0) is { Rank: 1 } k && axes.Length == 1 && Axis(axes[0], 1) == 0)
        {
            long n = k.Count, step = steps?[0] ?? 1;
            long count = SliceCount(n, starts[0], ends[0], step);
            long first = starts[0] < 0 ? starts[0] + n : starts[0];
            first = step > 0 ? Math.Clamp(first, 0, n) : Math.Clamp(first, 0, n - 1);
            var index = Enumerable.Range(0, (int)count).Select(i => (int)(first + i * step)).ToArray();
            c.SetKnown(0, k.Ints is { } ints
                ? KnownValue.OfInts(k.Type, [count], index.Select(i => ints[i]).ToArray())
                : KnownValue.OfFloats(k.Type, [count], index.Select(i => k.Floats![i]).ToArray()));
        }
    }

    private static void Expand(NodeContext c)
    {
        var elem = c.Elem(0);
        var target = ShapeOperand(c, 1, out int? length);
        var input = c.ShapeOf(0);
        if (target is null)
        {
            c.Set(0, elem, length is { } n && input is not null ? Broadcast(input, UnknownShape(n)) : null);
            return;
        }
        var shape = Broadcast(input, new Shape(target));
        c.Set(0, elem, shape);
        if (c.Known(0) is { Count: 1 } k && shape is { IsFullyKnown: true })
            c.SetKnown(0, KnownValue.Filled(k.Type, shape.Dims.Select(d => d.Size!.Value).ToArray(), k));
    }

    private static void Tile(NodeContext c)
    {
        var s = c.ShapeOf(0);
        if (s is null) { c.Set(0, c.Elem(0), null); return; }
        var repeats = c.Known(1) is { Ints: { } r } ? r : null;
        c.SetDims(0, c.Elem(0), s.Dims.Select((d, k) => repeats is { } rp && k < rp.Length ? DimMath.Mul(d, rp[k]) : Dim.Unknown));
    }

    private static void Pad(NodeContext c)
    {
        var elem = c.Elem(0);
        var s = c.ShapeOf(0);
        if (s is null) { c.Set(0, elem, null); return; }
        long[]? pads = c.Opset < 11 ? c.Ints("pads") ?? c.Ints("paddings") : c.KnownInts(1);
        long[]? axes = c.Opset >= 18 && c.Has(3) ? c.KnownInts(3) : null;
        if (pads is null || (c.Opset >= 18 && c.Has(3) && axes is null))
        {
            c.Set(0, elem, UnknownShape(s.Rank));
            return;
        }
        var axisList = axes?.Select(a => Axis(a, s.Rank)).ToArray() ?? Enumerable.Range(0, s.Rank).ToArray();
        if (pads.Length != 2 * axisList.Length) throw new ArgumentException($"Pad has {pads.Length} pads for {axisList.Length} axes");
        var dims = s.Dims.AsSpan().ToArray();
        for (int i = 0; i < axisList.Length; i++)
            dims[axisList[i]] = DimMath.Add(dims[axisList[i]], Dim.Of(pads[i] + pads[axisList.Length + i]));
        c.SetDims(0, elem, dims);
    }

    private static void BlockRearrange(NodeContext c, bool toSpace)
    {
        var s = c.ShapeOf(0);
        if (s is not { Rank: 4 }) { c.Set(0, c.Elem(0), s is null ? null : UnknownShape(s.Rank)); return; }
        var b = Dim.Of(c.Int("blocksize", 1));
        var bb = DimMath.Mul(b, b);
        c.SetDims(0, c.Elem(0), toSpace
            ? [s[0], DimMath.ExactDiv(s[1], bb), DimMath.Mul(s[2], b), DimMath.Mul(s[3], b)]
            : [s[0], DimMath.Mul(s[1], bb), DimMath.ExactDiv(s[2], b), DimMath.ExactDiv(s[3], b)]);
    }

    /// <summary>Known non-empty numbers of operand <paramref name="i"/>; <paramref name="present"/> says whether a non-empty operand was given at all.</summary>
    private static double[]? NonEmptyNumbers(NodeContext c, int i, out bool present)
    {
        present = false;
        if (!c.Has(i)) return null;
        if (c.Known(i) is { Count: 0 }) return null;
        if (c.ShapeOf(i) is { Rank: 1 } s && s[0].Size == 0) return null;
        present = true;
        return c.Known(i)?.AllNumbers();
    }

    /// <summary>Resize: sizes, or floor(scale × size), on all axes or the listed ones (opset 18).</summary>
    private static void Resize(NodeContext c)
    {
        var elem = c.Elem(0);
        var s = c.ShapeOf(0);
        if (s is null) { c.Set(0, elem, null); return; }
        int rank = s.Rank;
        var axes = c.Ints("axes")?.Select(a => Axis(a, rank)).ToArray() ?? Enumerable.Range(0, rank).ToArray();
        int scalesIndex = c.Opset < 11 ? 1 : 2;
        var scales = NonEmptyNumbers(c, scalesIndex, out bool scalesGiven);
        double[]? sizes = null;
        bool sizesGiven = false;
        if (c.Opset >= 11) sizes = NonEmptyNumbers(c, 3, out sizesGiven);
        var dims = s.Dims.AsSpan().ToArray();
        if (scales is not null && scales.Length == axes.Length)
        {
            for (int i = 0; i < axes.Length; i++)
            {
                var d = dims[axes[i]];
                dims[axes[i]] = d.Size is { } n ? Dim.Of((long)Math.Floor(scales[i] * n)) : scales[i] == 1 ? d : Dim.Unknown;
            }
        }
        else if (sizes is not null && sizes.Length == axes.Length)
        {
            var policy = c.Str("keep_aspect_ratio_policy", "stretch");
            if (policy == "stretch")
                for (int i = 0; i < axes.Length; i++) dims[axes[i]] = Dim.Of((long)sizes[i]);
            else if (axes.All(a => dims[a].IsKnown))
            {
                var ratios = axes.Select((a, i) => sizes[i] / dims[a].Size!.Value).ToArray();
                double r = policy == "not_larger" ? ratios.Min() : ratios.Max();
                foreach (var a in axes) dims[a] = Dim.Of((long)Math.Round(r * dims[a].Size!.Value, MidpointRounding.ToEven));
            }
            else foreach (var a in axes) dims[a] = Dim.Unknown;
        }
        else if (scalesGiven || sizesGiven)
            foreach (var a in axes) dims[a] = Dim.Unknown;
        c.SetDims(0, elem, dims);
    }

    private static void Upsample(NodeContext c)
    {
        var elem = c.Elem(0);
        var s = c.ShapeOf(0);
        if (s is null) { c.Set(0, elem, null); return; }
        var scales = c.Opset >= 9 ? c.Known(1)?.AllNumbers() : c.Floats("scales")?.Select(f => (double)f).ToArray();
        if (scales is null || scales.Length != s.Rank) { c.Set(0, elem, UnknownShape(s.Rank)); return; }
        c.SetDims(0, elem, s.Dims.Select((d, k) => d.Size is { } n ? Dim.Of((long)Math.Floor(scales[k] * n)) : scales[k] == 1 ? d : Dim.Unknown));
    }

    private static void ConstantOfShape(NodeContext c)
    {
        var value = c.Tensor("value");
        var elem = value?.ElementType ?? DataType.Float;
        var target = ShapeOperand(c, 0, out int? length);
        if (target is null) { c.Set(0, elem, length is { } n ? UnknownShape(n) : null); return; }
        c.SetDims(0, elem, target.Select(d => d.Size is < 0 ? Dim.Unknown : d));
        if (target.All(d => d.IsKnown))
        {
            var dims = target.Select(d => d.Size!.Value).ToArray();
            var fill = value is null ? KnownValue.OfFloats(DataType.Float, [], [0.0]) : KnownValue.FromConstant(value);
            if (fill is not null) c.SetKnown(0, KnownValue.Filled(elem, dims, fill));
        }
    }

    private static void Constant(NodeContext c)
    {
        foreach (var a in c.Node.Attributes)
        {
            switch (a.Name, a.Value)
            {
                case ("value", TensorAttr tv):
                    c.SetType(0, tv.Value.Type);
                    c.SetKnown(0, KnownValue.FromConstant(tv.Value));
                    return;
                case ("sparse_value", SparseTensorAttr sv):
                    c.SetType(0, new TensorType(sv.Value.Values.ElementType, Shape.Of([.. sv.Value.Dims])));
                    return;
                case ("value_float", FloatAttr f):
                    c.SetKnown(0, KnownValue.OfFloats(DataType.Float, [], [f.Value]));
                    return;
                case ("value_floats", FloatsAttr fs):
                    c.Set(0, DataType.Float, Shape.Of(fs.Value.Length));
                    c.SetKnown(0, KnownValue.OfFloats(DataType.Float, [fs.Value.Length], fs.Value.Select(v => (double)v).ToArray()));
                    return;
                case ("value_int", IntAttr i):
                    c.SetKnown(0, KnownValue.OfInts(DataType.Int64, [], [Dim.Of(i.Value)]));
                    return;
                case ("value_ints", IntsAttr@is):
                    c.Set(0, DataType.Int64, Shape.Of(@is.Value.Length));
                    c.SetKnown(0, KnownValue.OfInts(DataType.Int64, [@is.Value.Length], @is.Value.Select(Dim.Of).ToArray()));
                    return;
                case ("value_string", StringAttr):
                    c.Set(0, DataType.String, Shape.Scalar);
                    return;
                case ("value_strings", StringsAttr ss):
                    c.Set(0, DataType.String, Shape.Of(ss.Value.Length));
                    return;
            }
        }
    }

    /// <summary>Range: max(ceil((limit − start) / delta), 0) elements; Range(0, N, 1) has N elements.</summary>
    private static void Range(NodeContext c)
    {
        var elem = c.FirstElem(0, 1, 2);
        var start = c.Known(0);
        var limit = c.Known(1);
        var delta = c.Known(2);
        if (start?.Ints is { Length: 1 } si && delta?.Ints is { Length: 1 } di && limit?.Ints is { Length: 1 } li
            && si[0].Size == 0 && di[0].Size == 1 && !li[0].IsKnown)
        {
            c.SetDims(0, elem, [li[0]]);
            return;
        }
        if (start?.AllNumbers() is not [var s] || limit?.AllNumbers() is not [var l] || delta?.AllNumbers() is not [var d] || d == 0)
        {
            c.Set(0, elem, Vector(null));
            return;
        }
        long count;
        if (KnownValue.IsIntegerLike(elem))
        {
            long ls = (long)s, ll = (long)l, ld = (long)d, diff = ll - ls;
            count = ld > 0 ? (diff <= 0 ? 0 : (diff - 1) / ld + 1) : (diff >= 0 ? 0 : (-diff - 1) / -ld + 1);
            c.Set(0, elem, Vector(count));
            if (count <= KnownValue.MaxElements)
                c.SetKnown(0, KnownValue.OfInts(elem, [count], Enumerable.Range(0, (int)count).Select(i => Dim.Of(ls + i * ld)).ToArray()));
            return;
        }
        double n = Math.Ceiling((l - s) / d);
        if (double.IsNaN(n) || double.IsInfinity(n)) { c.Set(0, elem, Vector(null)); return; }
        count = (long)Math.Max(0, n);
        c.Set(0, elem, Vector(count));
        if (count <= KnownValue.MaxElements)
            c.SetKnown(0, KnownValue.OfFloats(elem, [count], Enumerable.Range(0, (int)count).Select(i => KnownValue.Round(s + i * d, elem)).ToArray()));
    }
}
