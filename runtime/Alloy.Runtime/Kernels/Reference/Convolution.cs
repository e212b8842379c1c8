using Alloy.Runtime.Numerics;
using static Alloy.Runtime.Kernels.Reference.LinearAlgebraHelpers;

namespace Alloy.Runtime.Kernels.Reference;

internal static partial class ReferenceKernels
{
    static partial void RegisterConvolution(KernelRegistry r)
    {
        r.Register("Conv", CreateConv);
        r.Register("ConvInteger", CreateConvInteger);
        r.Register("ConvTranspose", CreateConvTranspose);
        RegisterConvolutionPooling(r);
    }

    private static IKernel? CreateConv(KernelNode n, out string? reason)
    {
        reason = FloatTypeReason(n, 0, "X") ?? FloatTypeReason(n, 1, "W");
        if (reason is not null) return null;
        var a = SpatialAttributes.Read(n, out reason);
        if (a is null) return null;
        long group = n.Attributes.GetInt("group", 1);
        if (group < 1)
        {
            reason = $"Conv: group {group} must be positive";
            return null;
        }
        return new ConvKernel(a, group, integer: false);
    }

    private static IKernel? CreateConvInteger(KernelNode n, out string? reason)
    {
        reason = null;
        for (int i = 0; i < Math.Min(4, n.InputTypes.Count); i++)
            if (n.InputTypes[i] is { } t && t is not (ElementType.Int8 or ElementType.UInt8))
            {
                reason = $"ConvInteger: input {i} of type {t.Name()} is not supported (int8 / uint8 only)";
                return null;
            }
        var a = SpatialAttributes.Read(n, out reason);
        if (a is null) return null;
        long group = n.Attributes.GetInt("group", 1);
        if (group < 1)
        {
            reason = $"ConvInteger: group {group} must be positive";
            return null;
        }
        return new ConvKernel(a, group, integer: true);
    }

    private static IKernel? CreateConvTranspose(KernelNode n, out string? reason)
    {
        reason = FloatTypeReason(n, 0, "X") ?? FloatTypeReason(n, 1, "W");
        if (reason is not null) return null;
        var a = SpatialAttributes.Read(n, out reason);
        if (a is null) return null;
        long group = n.Attributes.GetInt("group", 1);
        if (group < 1)
        {
            reason = $"ConvTranspose: group {group} must be positive";
            return null;
        }
        var outputPadding = n.Attributes.GetInts("output_padding");
        if (outputPadding?.Any(p => p < 0) == true)
        {
            reason = $"ConvTranspose: output_padding [{string.Join(",", outputPadding)}] must not be negative";
            return null;
        }
        return new ConvTransposeKernel(a, group, outputPadding, n.Attributes.GetInts("output_shape"));
    }
}

/// <summary>
/// Conv (opset 1, 11) over any number of spatial dims: X [N, C, D1..Dn], W [M, C/group, k1..kn], optional
/// bias B [M]; pads / auto_pad, strides, dilations, group (depthwise when group = C); kernel_shape defaults to
/// W's spatial dims. Each output is one dot product accumulated in double, plus the bias, rounded once.
/// With <c>integer</c> it is ConvInteger (opset 10): int8/uint8 operands minus their zero points
/// (x_zero_point a scalar, w_zero_point a scalar or one per output channel), exact int32 result.
/// </summary>
internal sealed class ConvKernel(SpatialAttributes attrs, long group, bool integer) : IKernel
{
    private string Op => integer ? "ConvInteger" : "Conv";

    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = Required(inputs, 0, Op, "X");
        var w = Required(inputs, 1, Op, integer ? "w" : "W");
        if (integer)
        {
            foreach (var (t, name) in new[] { (x, "x"), (w, "w") })
                if (t.Type is not (ElementType.Int8 or ElementType.UInt8))
                    throw new KernelException($"ConvInteger: input '{name}' is {t.Type.Name()}, expected int8 or uint8");
        }
        else
        {
            RequireFloat(x, Op, "X");
            RequireSameType(x, "X", w, "W", Op);
        }
        if (x.Rank < 3) throw new KernelException($"{Op}: X must have rank >= 3 ([N, C, spatial...]), got {x.ShapeText}");
        if (w.Rank != x.Rank) throw new KernelException($"{Op}: W {w.ShapeText} must have the rank of X {x.ShapeText}");
        long n = x.Shape[0], c = x.Shape[1], m = w.Shape[0], cg = w.Shape[1];
        if (c != cg * group)
            throw new KernelException($"{Op}: X has {c} channels but W {w.ShapeText} with group {group} expects {cg * group}");
        if (m % group != 0)
            throw new KernelException($"{Op}: W has {m} output channels, not a multiple of group {group}");
        var kernel = w.Shape[2..];
        if (attrs.KernelShape is { } ks && !ks.SequenceEqual(kernel))
            throw new KernelException($"{Op}: kernel_shape [{string.Join(",", ks)}] does not match W {w.ShapeText}");
        var win = SpatialWindow.Forward(Op, attrs, x.Shape[2..], kernel, ceilMode: false);
        long[] outShape = [n, m, .. win.Out];

        if (integer)
        {
            var xv = ElementConvert.ToLongs(x);
            var wv = ElementConvert.ToLongs(w);
            if (Optional(inputs, 2) is { } xzp)
            {
                if (xzp.Length != 1) throw new KernelException($"ConvInteger: x_zero_point must be a scalar, got {xzp.ShapeText}");
                if (xzp.Type != x.Type) throw new KernelException($"ConvInteger: x_zero_point is {xzp.Type.Name()} but x is {x.Type.Name()}");
                long z = ElementConvert.GetLong(xzp, 0);
                for (int i = 0; i < xv.Length; i++) xv[i] -= z;
            }
            if (Optional(inputs, 3) is { } wzp)
            {
                if (wzp.Type != w.Type) throw new KernelException($"ConvInteger: w_zero_point is {wzp.Type.Name()} but w is {w.Type.Name()}");
                if (wzp.Length != 1 && !(wzp.Rank == 1 && wzp.Length == m))
                    throw new KernelException($"ConvInteger: w_zero_point {wzp.ShapeText} must be a scalar or have one value per output channel ({m})");
                var z = ElementConvert.ToLongs(wzp);
                long per = w.Length / Math.Max(m, 1);
                for (int i = 0; i < wv.Length; i++) wv[i] -= z.Length == 1 ? z[0] : z[i / per];
            }
            // 8-bit products summed in double are exact (far below 2^53), so the double path serves here too.
            var yv = Compute(xv.Select(v => (double)v).ToArray(), wv.Select(v => (double)v).ToArray(), null, n, c, m, cg, win);
            outputs[0] = ElementConvert.FromLongs(ElementType.Int32, outShape, yv.Select(v => (long)v).ToArray());
        }
        else
        {
            double[]? bias = null;
            if (Optional(inputs, 2) is { } b)
            {
                RequireSameType(x, "X", b, "B", Op);
                if (b.Rank != 1 || b.Length != m) throw new KernelException($"Conv: bias B {b.ShapeText} must have shape [{m}]");
                bias = ElementConvert.ToDoubles(b);
            }
            outputs[0] = ElementConvert.FromDoubles(x.Type, outShape,
                Compute(ElementConvert.ToDoubles(x), ElementConvert.ToDoubles(w), bias, n, c, m, cg, win));
        }
    }

    /// <summary>
    /// y[n, m, o] = bias[m] + sum over (c in m's group, kernel tap inside the input) of x * w, in double. For each
    /// (n, m) the sum runs over the group's input channels, and for each channel over every output position's taps.
    /// </summary>
    private double[] Compute(double[] x, double[] w, double[]? bias, long n, long c, long m, long cg, SpatialWindow win)
    {
        int inSize = checked((int)win.InSize), kSize = checked((int)win.KernelSize), outSize = checked((int)win.OutSize);
        long mg = m / group;
        var y = new double[checked(n * m * outSize)];
        win.AllTaps(out var start, out var kOff, out var iOff);
        for (long b = 0; b < n; b++)
            for (long oc = 0; oc < m; oc++)
            {
                long g = oc / mg;
                var yRow = y.AsSpan(checked((int)((b * m + oc) * outSize)), outSize);
                if (bias is not null) yRow.Fill(bias[oc]);
                for (long ic = 0; ic < cg; ic++)
                {
                    var xs = x.AsSpan(checked((int)((b * c + g * cg + ic) * inSize)), inSize);
                    var ws = w.AsSpan(checked((int)((oc * cg + ic) * kSize)), kSize);
                    for (int o = 0; o < outSize; o++)
                    {
                        double sum = 0;
                        for (int t = start[o]; t < start[o + 1]; t++) sum += xs[iOff[t]] * ws[kOff[t]];
                        yRow[o] += sum;
                    }
                }
            }
        return y;
    }
}

/// <summary>
/// ConvTranspose (opset 1, 11): X [N, C, D1..Dn], W [C, M/group, k1..kn], optional B [M]. Each input element
/// scatters x * w to output position i * stride + k * dilation - pad_begin. The output size is
/// stride * (in - 1) + output_padding + (k - 1) * dilation + 1 - pad_begin - pad_end, or output_shape when
/// given (pads then derived: total = that formula's size minus output_shape; SAME_UPPER puts the smaller half
/// at the beginning, otherwise the larger half), or in * stride for auto_pad SAME_*. Sums in double, rounded once.
/// </summary>
internal sealed class ConvTransposeKernel(SpatialAttributes attrs, long group, long[]? outputPadding, long[]? outputShape) : IKernel
{
    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        const string op = "ConvTranspose";
        var x = Required(inputs, 0, op, "X");
        var w = Required(inputs, 1, op, "W");
        RequireFloat(x, op, "X");
        RequireSameType(x, "X", w, "W", op);
        if (x.Rank < 3) throw new KernelException($"{op}: X must have rank >= 3 ([N, C, spatial...]), got {x.ShapeText}");
        if (w.Rank != x.Rank) throw new KernelException($"{op}: W {w.ShapeText} must have the rank of X {x.ShapeText}");
        long n = x.Shape[0], c = x.Shape[1], mg = w.Shape[1], m = mg * group;
        if (w.Shape[0] != c) throw new KernelException($"{op}: X has {c} channels but W {w.ShapeText} has {w.Shape[0]}");
        if (c % group != 0) throw new KernelException($"{op}: X has {c} channels, not a multiple of group {group}");
        long cg = c / group;
        int rank = x.Rank - 2;
        var kernel = w.Shape[2..];
        if (attrs.KernelShape is { } ks && !ks.SequenceEqual(kernel))
            throw new KernelException($"{op}: kernel_shape [{string.Join(",", ks)}] does not match W {w.ShapeText}");
        var inS = x.Shape[2..];
        var stride = SpatialAttributes.PerDim(attrs.Strides, rank, 1, op, "strides");
        var dil = SpatialAttributes.PerDim(attrs.Dilations, rank, 1, op, "dilations");
        var opad = SpatialAttributes.PerDim(outputPadding, rank, 0, op, "output_padding");
        var padBegin = new long[rank];
        var padEnd = new long[rank];
        var outS = new long[rank];
        long[]? requested = null;
        if (outputShape is not null)
        {
            if (outputShape.Length != rank && outputShape.Length != rank + 2)
                throw new KernelException($"{op}: output_shape [{string.Join(",", outputShape)}] must have {rank} (spatial) or {rank + 2} values");
            requested = outputShape[^rank..];
        }
        else if (attrs.AutoPad is "SAME_UPPER" or "SAME_LOWER")
            requested = inS.Select((v, d) => v * stride[d]).ToArray();
        for (int d = 0; d < rank; d++)
        {
            long full = stride[d] * (inS[d] - 1) + opad[d] + (kernel[d] - 1) * dil[d] + 1;
            if (requested is not null)
            {
                long total = full - requested[d];
                long half = (long)Math.Floor(total / 2.0);   // floor division, as the ONNX reference
                padBegin[d] = attrs.AutoPad == "SAME_UPPER" ? half : total - half;
                padEnd[d] = total - padBegin[d];
                outS[d] = requested[d];
            }
            else
            {
                if (attrs.AutoPad == "NOTSET" && attrs.Pads is { } pads)
                {
                    if (pads.Length != 2 * rank)
                        throw new KernelException($"{op}: attribute 'pads' has {pads.Length} values, expected {2 * rank}");
                    padBegin[d] = pads[d];
                    padEnd[d] = pads[rank + d];
                }
                outS[d] = full - padBegin[d] - padEnd[d];
            }
            if (outS[d] < 0) throw new KernelException($"{op}: the computed output size {outS[d]} of spatial dim {d} is negative");
        }

        double[]? bias = null;
        if (Optional(inputs, 2) is { } b)
        {
            RequireSameType(x, "X", b, "B", op);
            if (b.Rank != 1 || b.Length != m) throw new KernelException($"{op}: bias B {b.ShapeText} must have shape [{m}]");
            bias = ElementConvert.ToDoubles(b);
        }
        var xv = ElementConvert.ToDoubles(x);
        var wv = ElementConvert.ToDoubles(w);
        long inSize = Product(inS), kSize = Product(kernel), outSize = Product(outS);
        var y = new double[n * m * outSize];

        // For every (input position, kernel tap) pair: the output position it lands on, or -1 outside.
        var target = new long[inSize * kSize];
        var ii = new long[rank];
        for (long i = 0; i < inSize; i++)
        {
            var kk = new long[rank];
            for (long k = 0; k < kSize; k++)
            {
                long flat = 0;
                for (int d = 0; d < rank && flat >= 0; d++)
                {
                    long pos = ii[d] * stride[d] + kk[d] * dil[d] - padBegin[d];
                    flat = pos < 0 || pos >= outS[d] ? -1 : flat * outS[d] + pos;
                }
                target[i * kSize + k] = flat;
                Next(kk, kernel);
            }
            Next(ii, inS);
        }

        for (long bt = 0; bt < n; bt++)
            for (long ic = 0; ic < c; ic++)
            {
                long g = ic / cg;
                long xBase = (bt * c + ic) * inSize;
                for (long om = 0; om < mg; om++)
                {
                    long oc = g * mg + om;
                    long wBase = (ic * mg + om) * kSize, yBase = (bt * m + oc) * outSize;
                    for (long i = 0; i < inSize; i++)
                    {
                        double xval = xv[xBase + i];
                        for (long k = 0; k < kSize; k++)
                        {
                            long t = target[i * kSize + k];
                            if (t >= 0) y[yBase + t] += xval * wv[wBase + k];
                        }
                    }
                }
            }
        if (bias is not null)
            for (long bt = 0; bt < n; bt++)
                for (long oc = 0; oc < m; oc++)
                    for (long o = 0; o < outSize; o++) y[(bt * m + oc) * outSize + o] += bias[oc];
        outputs[0] = ElementConvert.FromDoubles(x.Type, [n, m, .. outS], y);
    }
}
