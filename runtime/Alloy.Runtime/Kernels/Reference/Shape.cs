using Alloy.Runtime.Numerics;
using static Alloy.Runtime.Kernels.Reference.ShapeHelpers;

namespace Alloy.Runtime.Kernels.Reference;

/// <summary>A kernel body: operands in, freshly created outputs out.</summary>
internal delegate void MovementRun(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs);

/// <summary>A kernel whose body is a delegate (the data-movement families use it for their small ops).</summary>
internal sealed class MovementKernel(MovementRun run) : IKernel
{
    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs) => run(inputs, outputs);
}

/// <summary>
/// Shape family: Shape, Size, Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Concat, Split, Slice, Expand, Tile,
/// Pad, DepthToSpace, SpaceToDepth, Identity (Resize and Upsample live in ShapeResize.cs). Every op copies elements
/// without converting them, so each works for every element type, strings and packed 4-bit types included.
/// </summary>
internal static partial class ReferenceKernels
{
    static partial void RegisterShape(KernelRegistry r)
    {
        r.Register("Shape", n => ShapeOps.Shape(n));
        r.Register("Size", _ => new MovementKernel((inputs, outputs) =>
            outputs[0] = Tensor.FromArray(ElementType.Int64, [], [In(inputs, 0, "data").Length])));
        r.Register("Reshape", n => ShapeOps.Reshape(n));
        r.Register("Flatten", n => ShapeOps.Flatten(n));
        r.Register("Squeeze", n => ShapeOps.Squeeze(n));
        r.Register("Unsqueeze", n => ShapeOps.Unsqueeze(n));
        r.Register("Transpose", n => ShapeOps.Transpose(n));
        r.Register("Concat", n => ShapeOps.Concat(n));
        r.Register("Split", n => ShapeOps.Split(n));
        r.Register("Slice", n => ShapeOps.Slice(n));
        r.Register("Expand", _ => ShapeOps.Expand());
        r.Register("Tile", _ => ShapeOps.Tile());
        r.Register("Pad", ShapeOps.Pad);
        r.Register("DepthToSpace", ShapeOps.DepthToSpace);
        r.Register("SpaceToDepth", n => ShapeOps.SpaceToDepth(n));
        r.Register("Identity", _ => new MovementKernel((inputs, outputs) => outputs[0] = ElementConvert.Clone(In(inputs, 0, "input"))));
        RegisterResize(r);
    }

    static partial void RegisterResize(KernelRegistry r);
}

internal static class ShapeOps
{
    public static IKernel Shape(KernelNode n)
    {
        long start = n.Attributes.GetInt("start", 0);
        long? end = n.Attributes.Has("end") ? n.Attributes.GetInt("end") : null;
        return new MovementKernel((inputs, outputs) =>
        {
            var shape = In(inputs, 0, "data").Shape;
            int rank = shape.Length;
            long s = Math.Clamp(start < 0 ? start + rank : start, 0, rank);
            long e = Math.Clamp(end is { } v ? (v < 0 ? v + rank : v) : rank, 0, rank);
            var dims = shape[(int)s..(int)Math.Max(s, e)];
            outputs[0] = Tensor.FromArray<long>(ElementType.Int64, [dims.Length], dims);
        });
    }

    public static IKernel Reshape(KernelNode n)
    {
        bool allowZero = n.Attributes.GetInt("allowzero", 0) != 0;
        long[]? shapeAttr = n.Opset < 5 ? n.Attributes.GetInts("shape") ?? throw new KernelException("attribute 'shape' is required before opset 5") : null;
        return new MovementKernel((inputs, outputs) =>
        {
            var data = In(inputs, 0, "data");
            var requested = shapeAttr ?? Ints1D(In(inputs, 1, "shape"), "shape");
            outputs[0] = Reshaped(data, ReshapeDims(data.Shape, requested, allowZero));
        });
    }

    /// <summary>Reshape's target: 0 copies the input dimension (unless allowzero), one -1 is inferred.</summary>
    public static long[] ReshapeDims(long[] input, long[] requested, bool allowZero)
    {
        var dims = (long[])requested.Clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < dims.Length; i++)
        {
            if (dims[i] == -1)
            {
                if (infer >= 0) throw new KernelException($"shape {Text(requested)} has more than one -1");
                infer = i;
                continue;
            }
            if (dims[i] < -1) throw new KernelException($"shape {Text(requested)} has invalid dimension {dims[i]}");
            if (dims[i] == 0 && !allowZero)
            {
                if (i >= input.Length) throw new KernelException($"shape {Text(requested)} copies dimension {i} (0) but the input {Text(input)} has rank {input.Length}");
                dims[i] = input[i];
            }
            known = checked(known * dims[i]);
        }
        long total = Count(input);
        if (infer >= 0)
        {
            if (known == 0 || total % known != 0)
                throw new KernelException($"cannot infer the -1 in shape {Text(requested)} for {total} elements {Text(input)}");
            dims[infer] = total / known;
        }
        else if (known != total) throw new KernelException($"cannot reshape {total} elements {Text(input)} to {Text(requested)}");
        return dims;
    }

    public static IKernel Flatten(KernelNode n)
    {
        long axis = n.Attributes.GetInt("axis", 1);
        return new MovementKernel((inputs, outputs) =>
        {
            var x = In(inputs, 0, "input");
            int rank = x.Rank;
            if (axis < -rank || axis > rank) throw new KernelException($"axis {axis} is out of range for rank {rank} (valid: [{-rank}, {rank}])");
            int a = (int)(axis < 0 ? axis + rank : axis);
            outputs[0] = Reshaped(x, [Count(x.Shape.AsSpan(0, a)), Count(x.Shape.AsSpan(a))]);
        });
    }

    public static IKernel Squeeze(KernelNode n)
    {
        long[]? attr = n.Opset < 13 ? n.Attributes.GetInts("axes") : null;
        bool fromInput = n.Opset >= 13;
        return new MovementKernel((inputs, outputs) =>
        {
            var x = In(inputs, 0, "data");
            long[]? axesValues = fromInput ? (Opt(inputs, 1) is { } t ? Ints1D(t, "axes") : null) : attr;
            if (axesValues is { Length: 0 }) axesValues = null; // an empty list squeezes every 1, like an absent one
            var drop = new bool[x.Rank];
            if (axesValues is null)
                for (int i = 0; i < x.Rank; i++) drop[i] = x.Shape[i] == 1;
            else
                foreach (var a in Axes(axesValues, x.Rank))
                {
                    if (x.Shape[a] != 1) throw new KernelException($"cannot squeeze axis {a} of size {x.Shape[a]} (shape {x.ShapeText})");
                    drop[a] = true;
                }
            outputs[0] = Reshaped(x, x.Shape.Where((_, i) => !drop[i]).ToArray());
        });
    }

    public static IKernel Unsqueeze(KernelNode n)
    {
        long[]? attr = n.Opset < 13 ? n.Attributes.GetInts("axes") ?? throw new KernelException("attribute 'axes' is required before opset 13") : null;
        return new MovementKernel((inputs, outputs) =>
        {
            var x = In(inputs, 0, "data");
            var axesValues = attr ?? Ints1D(In(inputs, 1, "axes"), "axes");
            int outRank = x.Rank + axesValues.Length;
            var insert = new bool[outRank];
            foreach (var a in Axes(axesValues, outRank)) insert[a] = true;
            var dims = new long[outRank];
            for (int i = 0, k = 0; i < outRank; i++) dims[i] = insert[i] ? 1 : x.Shape[k++];
            outputs[0] = Reshaped(x, dims);
        });
    }

    public static IKernel Transpose(KernelNode n)
    {
        long[]? perm = n.Attributes.GetInts("perm");
        return new MovementKernel((inputs, outputs) =>
        {
            var x = In(inputs, 0, "data");
            int rank = x.Rank;
            var p = perm ?? Enumerable.Range(0, rank).Reverse().Select(i => (long)i).ToArray();
            if (p.Length != rank) throw new KernelException($"perm [{string.Join(",", p)}] has {p.Length} entries for rank {rank}");
            var axes = Axes(p, rank, "perm");
            var inStrides = Strides(x.Shape);
            var outShape = axes.Select(a => x.Shape[a]).ToArray();
            outputs[0] = Take(x, outShape, Map(outShape, idx =>
            {
                long s = 0;
                for (int i = 0; i < rank; i++) s += idx[i] * inStrides[axes[i]];
                return s;
            }));
        });
    }

    public static IKernel Concat(KernelNode n)
    {
        long axis = n.Attributes.GetInt("axis");
        return new MovementKernel((inputs, outputs) =>
        {
            if (inputs.Length == 0) throw new KernelException("Concat needs at least one input");
            var xs = new Tensor[inputs.Length];
            for (int i = 0; i < xs.Length; i++) xs[i] = In(inputs, i, $"inputs[{i}]");
            var first = xs[0];
            int rank = first.Rank;
            int a = Axis(axis, rank);
            var outShape = (long[])first.Shape.Clone();
            outShape[a] = 0;
            foreach (var x in xs)
            {
                if (x.Type != first.Type) throw new KernelException($"inputs mix {first.Type.Name()} and {x.Type.Name()}");
                if (x.Rank != rank) throw new KernelException($"inputs have ranks {rank} and {x.Rank}");
                for (int d = 0; d < rank; d++)
                    if (d != a && x.Shape[d] != first.Shape[d])
                        throw new KernelException($"input shapes {first.ShapeText} and {x.ShapeText} differ outside axis {a}");
                outShape[a] += x.Shape[a];
            }
            var y = Tensor.Create(first.Type, outShape);
            long outer = Count(outShape.AsSpan(0, a));
            long offset = 0;
            for (long o = 0; o < outer; o++)
                foreach (var x in xs)
                {
                    long block = Count(x.Shape.AsSpan(a));
                    CopyElements(x, o * block, y, offset, block);
                    offset += block;
                }
            outputs[0] = y;
        });
    }

    public static IKernel Split(KernelNode n)
    {
        long axis = n.Attributes.GetInt("axis", 0);
        long[]? splitAttr = n.Opset < 13 ? n.Attributes.GetInts("split") : null;
        long? numOutputs = n.Opset >= 18 && n.Attributes.Has("num_outputs") ? n.Attributes.GetInt("num_outputs") : null;
        long opset = n.Opset;
        int outputCount = n.OutputCount;
        return new MovementKernel((inputs, outputs) =>
        {
            var x = In(inputs, 0, "input");
            int a = Axis(axis, x.Rank);
            long dim = x.Shape[a];
            long[]? split = splitAttr;
            if (split is null && (opset >= 13 || opset < 2) && Opt(inputs, 1) is { } s) split = Ints1D(s, "split");
            int count = outputs.Length;
            if (split is null)
            {
                long parts = numOutputs ?? count;
                if (parts != count) throw new KernelException($"num_outputs is {parts} but the node has {count} outputs");
                if (parts <= 0) throw new KernelException("Split needs at least one output");
                split = new long[parts];
                if (dim % parts == 0) Array.Fill(split, dim / parts);
                else if (numOutputs is not null)
                {
                    long chunk = (dim + parts - 1) / parts;
                    for (int i = 0; i < parts; i++) split[i] = Math.Max(0, Math.Min(chunk, dim - i * chunk));
                    if (split[^1] == 0) throw new KernelException($"cannot split {dim} elements into {parts} chunks of {chunk}");
                }
                else throw new KernelException($"cannot split axis {a} of size {dim} into {parts} equal parts");
            }
            if (split.Length != count) throw new KernelException($"split [{string.Join(",", split)}] has {split.Length} entries for {count} outputs");
            if (split.Any(v => v < 0) || split.Sum() != dim)
                throw new KernelException($"split [{string.Join(",", split)}] does not add up to the size {dim} of axis {a}");
            long outer = Count(x.Shape.AsSpan(0, a));
            long inner = Count(x.Shape.AsSpan(a + 1));
            long start = 0;
            for (int i = 0; i < count; i++)
            {
                var shape = (long[])x.Shape.Clone();
                shape[a] = split[i];
                var y = Tensor.Create(x.Type, shape);
                outputs[i] = y;
                long block = split[i] * inner;
                for (long o = 0; o < outer; o++) CopyElements(x, o * dim * inner + start * inner, y, o * block, block);
                start += split[i];
            }
        });
    }

    public static IKernel Slice(KernelNode n)
    {
        bool fromAttributes = n.Opset < 10;
        long[]? startsAttr = fromAttributes ? n.Attributes.GetInts("starts") ?? throw new KernelException("attribute 'starts' is required before opset 10") : null;
        long[]? endsAttr = fromAttributes ? n.Attributes.GetInts("ends") ?? throw new KernelException("attribute 'ends' is required before opset 10") : null;
        long[]? axesAttr = fromAttributes ? n.Attributes.GetInts("axes") : null;
        return new MovementKernel((inputs, outputs) =>
        {
            var x = In(inputs, 0, "data");
            var starts = startsAttr ?? Ints1D(In(inputs, 1, "starts"), "starts");
            var ends = endsAttr ?? Ints1D(In(inputs, 2, "ends"), "ends");
            long[]? axesValues = fromAttributes ? axesAttr : Opt(inputs, 3) is { } ax ? Ints1D(ax, "axes") : null;
            long[]? steps = fromAttributes ? null : Opt(inputs, 4) is { } st ? Ints1D(st, "steps") : null;
            if (starts.Length != ends.Length) throw new KernelException($"starts has {starts.Length} entries, ends {ends.Length}");
            var axes = Axes(axesValues ?? Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray(), x.Rank);
            if (axes.Length != starts.Length) throw new KernelException($"axes has {axes.Length} entries, starts {starts.Length}");
            if (steps is not null && steps.Length != starts.Length) throw new KernelException($"steps has {steps.Length} entries, starts {starts.Length}");
            int rank = x.Rank;
            var first = new long[rank];
            var step = Enumerable.Repeat(1L, rank).ToArray();
            var outShape = (long[])x.Shape.Clone();
            for (int i = 0; i < axes.Length; i++)
            {
                int a = axes[i];
                long dim = x.Shape[a];
                long k = steps?[i] ?? 1;
                if (k == 0) throw new KernelException($"step for axis {a} is 0");
                long s = starts[i], e = ends[i];
                if (s < 0) s += dim;
                if (e < 0) e += dim;
                long count;
                if (k > 0)
                {
                    s = Math.Clamp(s, 0, dim);
                    e = Math.Clamp(e, 0, dim);
                    count = e - s <= 0 ? 0 : (e - s - 1) / k + 1;
                }
                else
                {
                    s = Math.Clamp(s, 0, dim - 1);
                    e = Math.Clamp(e, -1, dim - 1);
                    count = s - e <= 0 ? 0 : (s - e - 1) / -k + 1;
                }
                first[a] = s;
                step[a] = k;
                outShape[a] = count;
            }
            var strides = Strides(x.Shape);
            outputs[0] = Take(x, outShape, Map(outShape, idx =>
            {
                long src = 0;
                for (int d = 0; d < rank; d++) src += (first[d] + idx[d] * step[d]) * strides[d];
                return src;
            }));
        });
    }

    public static IKernel Expand() => new MovementKernel((inputs, outputs) =>
    {
        var x = In(inputs, 0, "input");
        var shape = Ints1D(In(inputs, 1, "shape"), "shape");
        if (shape.Any(d => d < 0)) throw new KernelException($"shape {Text(shape)} has a negative dimension");
        var outShape = Broadcast.Shape(x.Shape, shape);
        outputs[0] = Take(x, outShape, Broadcast.SourceIndices(x.Shape, outShape));
    });

    public static IKernel Tile() => new MovementKernel((inputs, outputs) =>
    {
        var x = In(inputs, 0, "input");
        var repeats = Ints1D(In(inputs, 1, "repeats"), "repeats");
        if (repeats.Length != x.Rank) throw new KernelException($"repeats has {repeats.Length} entries for rank {x.Rank}");
        if (repeats.Any(v => v < 0)) throw new KernelException($"repeats [{string.Join(",", repeats)}] has a negative value");
        var outShape = x.Shape.Select((d, i) => checked(d * repeats[i])).ToArray();
        var strides = Strides(x.Shape);
        outputs[0] = Take(x, outShape, Map(outShape, idx =>
        {
            long s = 0;
            for (int d = 0; d < idx.Length; d++) s += idx[d] % x.Shape[d] * strides[d];
            return s;
        }));
    });

    public static IKernel? Pad(KernelNode n, out string? reason)
    {
        reason = null;
        string mode = n.Attributes.GetString("mode", "constant");
        if (mode is not ("constant" or "reflect" or "edge" or "wrap"))
        {
            reason = $"Pad mode '{mode}' is not supported (constant, reflect, edge, wrap)";
            return null;
        }
        if (mode == "wrap" && n.Opset < 19)
        {
            reason = "Pad mode 'wrap' needs opset 19";
            return null;
        }
        bool fromAttributes = n.Opset < 11;
        long[]? padsAttr = fromAttributes ? n.Attributes.GetInts(n.Opset < 2 ? "paddings" : "pads") : null;
        if (fromAttributes && padsAttr is null) throw new KernelException("attribute 'pads' is required before opset 11");
        float valueAttr = n.Attributes.GetFloat("value", 0f);
        return new MovementKernel((inputs, outputs) =>
        {
            var x = In(inputs, 0, "data");
            int rank = x.Rank;
            var padsValues = padsAttr ?? Ints1D(In(inputs, 1, "pads"), "pads");
            Tensor? fill = null;
            try
            {
                if (mode == "constant")
                {
                    if (fromAttributes) fill = x.Type == ElementType.String ? null : ScalarOf(x.Type, valueAttr);
                    else if (Opt(inputs, 2) is { } cv)
                    {
                        if (cv.Type != x.Type) throw new KernelException($"constant_value is {cv.Type.Name()}, data is {x.Type.Name()}");
                        if (cv.Length != 1) throw new KernelException($"constant_value must hold one value, got shape {cv.ShapeText}");
                        fill = cv;
                    }
                }
                int[] axes = !fromAttributes && Opt(inputs, 3) is { } ax ? Axes(Ints1D(ax, "axes"), rank) : Enumerable.Range(0, rank).ToArray();
                if (padsValues.Length != 2 * axes.Length)
                    throw new KernelException($"pads has {padsValues.Length} entries, expected {2 * axes.Length} for {axes.Length} axes");
                var begin = new long[rank];
                var end = new long[rank];
                for (int i = 0; i < axes.Length; i++)
                {
                    begin[axes[i]] = padsValues[i];
                    end[axes[i]] = padsValues[i + axes.Length];
                }
                // Negative pads crop first; the remaining range [lo, lo + len) is then padded.
                var lo = new long[rank];
                var len = new long[rank];
                var outShape = new long[rank];
                for (int d = 0; d < rank; d++)
                {
                    lo[d] = Math.Max(0, -begin[d]);
                    len[d] = x.Shape[d] - lo[d] - Math.Max(0, -end[d]);
                    if (len[d] < 0) throw new KernelException($"pads crop more than the {x.Shape[d]} elements of axis {d}");
                    outShape[d] = len[d] + Math.Max(0, begin[d]) + Math.Max(0, end[d]);
                    if (mode != "constant" && len[d] == 0 && outShape[d] > 0)
                        throw new KernelException($"cannot pad an empty axis {d} in mode '{mode}'");
                }
                var strides = Strides(x.Shape);
                var y = Take(x, outShape, Map(outShape, idx =>
                {
                    long src = 0;
                    for (int d = 0; d < rank; d++)
                    {
                        long c = idx[d] - Math.Max(0, begin[d]);
                        long l = len[d];
                        if (c < 0 || c >= l)
                        {
                            switch (mode)
                            {
                                case "constant": return -1;
                                case "edge": c = Math.Clamp(c, 0, l - 1); break;
                                case "wrap": c = ((c % l) + l) % l; break;
                                default:
                                    if (l == 1) c = 0;
                                    else
                                    {
                                        long period = 2 * (l - 1);
                                        c = ((c % period) + period) % period;
                                        if (c >= l) c = period - c;
                                    }
                                    break;
                            }
                        }
                        src += (c + lo[d]) * strides[d];
                    }
                    return src;
                }), fill);
                outputs[0] = y;
            }
            finally
            {
                if (fromAttributes) fill?.Dispose();
            }
        });
    }

    public static IKernel? DepthToSpace(KernelNode n, out string? reason)
    {
        reason = null;
        long b = n.Attributes.GetInt("blocksize");
        string mode = n.Attributes.GetString("mode", "DCR");
        if (mode is not ("DCR" or "CRD"))
        {
            reason = $"DepthToSpace mode '{mode}' is not supported (DCR, CRD)";
            return null;
        }
        if (b <= 0) throw new KernelException($"blocksize {b} must be positive");
        return new MovementKernel((inputs, outputs) =>
        {
            var x = In(inputs, 0, "input");
            if (x.Rank != 4) throw new KernelException($"input must be 4-D [N,C,H,W], got {x.ShapeText}");
            long N = x.Shape[0], C = x.Shape[1], H = x.Shape[2], W = x.Shape[3];
            if (C % (b * b) != 0) throw new KernelException($"channels {C} are not divisible by blocksize² {b * b}");
            long c2 = C / (b * b);
            long[] outShape = [N, c2, H * b, W * b];
            outputs[0] = Take(x, outShape, Map(outShape, idx =>
            {
                long c = idx[1], h = idx[2] / b, i = idx[2] % b, w = idx[3] / b, j = idx[3] % b;
                long ci = mode == "DCR" ? (i * b + j) * c2 + c : c * b * b + i * b + j;
                return ((idx[0] * C + ci) * H + h) * W + w;
            }));
        });
    }

    public static IKernel SpaceToDepth(KernelNode n)
    {
        long b = n.Attributes.GetInt("blocksize");
        if (b <= 0) throw new KernelException($"blocksize {b} must be positive");
        return new MovementKernel((inputs, outputs) =>
        {
            var x = In(inputs, 0, "input");
            if (x.Rank != 4) throw new KernelException($"input must be 4-D [N,C,H,W], got {x.ShapeText}");
            long N = x.Shape[0], C = x.Shape[1], H = x.Shape[2], W = x.Shape[3];
            if (H % b != 0 || W % b != 0) throw new KernelException($"height {H} and width {W} must be divisible by blocksize {b}");
            long[] outShape = [N, C * b * b, H / b, W / b];
            outputs[0] = Take(x, outShape, Map(outShape, idx =>
            {
                long q = idx[1] / C, c = idx[1] % C, i = q / b, j = q % b;
                return ((idx[0] * C + c) * H + idx[2] * b + i) * W + idx[3] * b + j;
            }));
        });
    }
}
