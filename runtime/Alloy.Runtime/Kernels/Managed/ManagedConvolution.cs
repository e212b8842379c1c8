using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Alloy.Runtime.Kernels.Reference;

namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// Conv (opset 1, 11) with two spatial dims (NCHW) on f32 / bf16 / f16, any pads / auto_pad / strides / dilations /
/// group, fused bias. Groups with more than one input channel are GEMMs (per image and group: W[M/g, C/g·KH·KW] ×
/// im2col(X), the im2col matrix packed straight from the image, or X itself for a 1×1 stride-1 unpadded kernel);
/// depthwise groups (one input channel each) run a direct loop over output rows. Each output is the float32 sum of its
/// taps (channel, kernel row, kernel column ascending; fused multiply-adds; taps in the padding skipped or adding
/// zero), plus the bias, rounded once. Other ranks and types go to the reference kernel.
/// </summary>
internal sealed unsafe class ManagedConvKernel : IKernel
{
    private readonly ManagedIsa _isa;
    private readonly IKernel _fallback;
    private readonly SpatialAttributes _attrs;
    private readonly long _group;

    private ManagedConvKernel(ManagedIsa isa, IKernel fallback, SpatialAttributes attrs, long group)
    {
        _isa = isa;
        _fallback = fallback;
        _attrs = attrs;
        _group = group;
    }

    /// <summary>The managed kernel, or null (use the reference) when the attributes are not ones it handles.</summary>
    public static IKernel? Create(ManagedIsa isa, IKernel fallback, KernelNode n)
    {
        var attrs = SpatialAttributes.Read(n, out _);
        long group = n.Attributes.GetInt("group", 1);
        return attrs is null || group < 1 ? null : new ManagedConvKernel(isa, fallback, attrs, group);
    }

    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var bias = inputs.Length > 2 ? inputs[2] : null;
        if (inputs.Length < 2 || inputs[0] is not { } x || inputs[1] is not { } w || x.Rank != 4 || w.Rank != 4
            || x.Type != w.Type || !ManagedConvert.IsSupported(x.Type) || (bias is not null && bias.Type != x.Type))
        {
            _fallback.Run(context, inputs, outputs);
            return;
        }
        const string op = "Conv";
        long n = x.Shape[0], c = x.Shape[1], m = w.Shape[0], cg = w.Shape[1], group = _group;
        if (c != cg * group)
            throw new KernelException($"{op}: X has {c} channels but W {w.ShapeText} with group {group} expects {cg * group}");
        if (m % group != 0)
            throw new KernelException($"{op}: W has {m} output channels, not a multiple of group {group}");
        long[] kernel = w.Shape[2..];
        if (_attrs.KernelShape is { } ks && !ks.SequenceEqual(kernel))
            throw new KernelException($"{op}: kernel_shape [{string.Join(",", ks)}] does not match W {w.ShapeText}");
        if (bias is not null && (bias.Rank != 1 || bias.Length != m))
            throw new KernelException($"{op}: bias B {bias.ShapeText} must have shape [{m}]");
        var win = SpatialWindow.Forward(op, _attrs, x.Shape[2..], kernel, ceilMode: false);
        var geometry = new ConvGeometry(x.Shape[2], x.Shape[3], kernel[0], kernel[1], win.Stride[0], win.Stride[1],
            win.Dilation[0], win.Dilation[1], win.PadBegin[0], win.PadBegin[1], win.Out[0], win.Out[1]);

        var y = Tensor.Create(x.Type, [n, m, win.Out[0], win.Out[1]]);
        try
        {
            using var output = new FloatOutput(y);
            var b = bias is null ? null : ManagedConvert.ToFloats(bias);
            fixed (float* bp = b)
            {
                if (cg == 1) Depthwise(context.Threads, x, w, bp, n, c, m, geometry, output.Data);
                else Grouped(context.Threads, x, w, bp, n, c, m, cg, geometry, output.Data);
            }
            output.Complete();
        }
        catch
        {
            y.Dispose();
            throw;
        }
        outputs[0] = y;
    }

    private void Grouped(int threads, Tensor x, Tensor w, float* bias, long n, long c, long m, long cg, ConvGeometry g, float* y)
    {
        long mg = m / _group, kSize = cg * g.KH * g.KW, outSize = g.OH * g.OW, inSize = g.H * g.W;
        int elementSize = x.Type == ElementType.Float ? 4 : 2;
        bool direct = g.KH == 1 && g.KW == 1 && g.SH == 1 && g.SW == 1 && g.PH == 0 && g.PW == 0 && g.OH == g.H && g.OW == g.W;
        for (long img = 0; img < n; img++)
            for (long grp = 0; grp < _group; grp++)
            {
                var a = new StridedMatrix((byte*)w.Pointer + grp * mg * kSize * elementSize, w.Type, kSize, 1);
                long xOffset = (img * c + grp * cg) * inSize;
                float* ct = y + (img * m + grp * mg) * outSize;
                var e = bias == null ? Epilogue.None : Epilogue.RowBias(bias + grp * mg);
                if (direct)
                    Sgemm.Multiply(_isa, threads, mg, outSize, kSize, a,
                        new StridedMatrix((byte*)x.Pointer + xOffset * elementSize, x.Type, inSize, 1), ct, outSize, e);
                else
                    Sgemm.Multiply(_isa, threads, mg, outSize, kSize, a,
                        new Im2ColSource(x.Pointer, x.Type, xOffset, g.H, g.W, g.KH, g.KW, g.SH, g.SW, g.DH, g.DW, g.PH, g.PW, g.OH, g.OW), ct, outSize, e);
            }
    }

    /// <summary>One input channel per group: output channel o reads input channel o / (M / C).</summary>
    private void Depthwise(int threads, Tensor x, Tensor w, float* bias, long n, long c, long m, ConvGeometry g, float* y)
    {
        long mg = m / c, taps = g.KH * g.KW, outSize = g.OH * g.OW, inSize = g.H * g.W;
        var weights = ManagedConvert.ToFloats(w);
        var type = x.Type;
        nint xData = (nint)x.Pointer, yData = (nint)y, biasData = (nint)bias;
        var isa = _isa;
        int workers = n * m * outSize * taps < (1L << 16) ? 1 : threads;
        Sgemm.ParallelFor(workers, n * m, p =>
        {
            long img = p / m, oc = p - img * m, ic = oc / mg;
            float* plane = null;
            try
            {
                float* input;
                if (type == ElementType.Float) input = (float*)xData + (img * c + ic) * inSize;
                else
                {
                    plane = (float*)NativeMemory.Alloc((nuint)(inSize * sizeof(float)));
                    ManagedConvert.Widen(type, (byte*)xData + (img * c + ic) * inSize * 2, plane, inSize);
                    input = plane;
                }
                float* output = (float*)yData + p * outSize;
                fixed (float* wp = weights)
                    DepthwisePlane(isa, input, wp + oc * taps, output, g);
                if (biasData != 0)
                {
                    float bv = ((float*)biasData)[oc];
                    for (long i = 0; i < outSize; i++) output[i] += bv;
                }
            }
            finally
            {
                if (plane != null) NativeMemory.Free(plane);
            }
        });
    }

    /// <summary>One output plane: each output row accumulates its taps (kernel row, then column) with fused multiply-adds.</summary>
    private static void DepthwisePlane(ManagedIsa isa, float* x, float* wk, float* y, ConvGeometry g)
    {
        new Span<float>(y, checked((int)(g.OH * g.OW))).Clear();
        for (long oh = 0; oh < g.OH; oh++)
        {
            float* row = y + oh * g.OW;
            for (long kh = 0; kh < g.KH; kh++)
            {
                long ih = oh * g.SH - g.PH + kh * g.DH;
                if (ih < 0 || ih >= g.H) continue;
                float* xrow = x + ih * g.W;
                for (long kw = 0; kw < g.KW; kw++)
                {
                    float wv = wk[kh * g.KW + kw];
                    long iw0 = kw * g.DW - g.PW;
                    // Output columns whose tap is inside the row: 0 <= iw0 + ow*SW < W.
                    long lo = iw0 >= 0 ? 0 : (-iw0 + g.SW - 1) / g.SW;
                    long hi = iw0 > g.W - 1 ? 0 : (g.W - 1 - iw0) / g.SW + 1;
                    lo = Math.Min(lo, g.OW);
                    hi = Math.Clamp(hi, lo, g.OW);
                    AxpyRow(isa, wv, xrow + iw0, g.SW, row, lo, hi);
                }
            }
        }
    }

    /// <summary>row[o] = fma(wv, x[o·stride], row[o]) for o in [lo, hi).</summary>
    private static void AxpyRow(ManagedIsa isa, float wv, float* x, long stride, float* row, long lo, long hi)
    {
        long o = lo;
        if (stride == 1)
        {
            if (isa == ManagedIsa.Vector512)
            {
                var wv16 = Vector512.Create(wv);
                for (; o + 16 <= hi; o += 16)
                    Avx512F.FusedMultiplyAdd(wv16, Vector512.Load(x + o), Vector512.Load(row + o)).Store(row + o);
            }
            else if (isa == ManagedIsa.Vector256)
            {
                var wv8 = Vector256.Create(wv);
                for (; o + 8 <= hi; o += 8)
                    Fma.MultiplyAdd(wv8, Vector256.Load(x + o), Vector256.Load(row + o)).Store(row + o);
            }
        }
        else if (stride == 2 && isa == ManagedIsa.Vector512)
        {
            // Even lanes of two consecutive vectors: x[2o], x[2o+2], ... (the second load ends at x[2o+31] <= x[2(hi-1)+1],
            // which may be one element past the last tap: only when 2·hi <= row end, checked by o + 16 < hi).
            var wv16 = Vector512.Create(wv);
            var even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            for (; o + 16 < hi; o += 16)
            {
                var v = Avx512F.PermuteVar16x32x2(Vector512.Load(x + 2 * o), even, Vector512.Load(x + 2 * o + 16));
                Avx512F.FusedMultiplyAdd(wv16, v, Vector512.Load(row + o)).Store(row + o);
            }
        }
        for (; o < hi; o++) row[o] = MathF.FusedMultiplyAdd(wv, x[o * stride], row[o]);
    }
}

/// <summary>The 2-D window of a convolution: input H×W, kernel, strides, dilations, leading pads, output OH×OW.</summary>
internal readonly record struct ConvGeometry(long H, long W, long KH, long KW, long SH, long SW, long DH, long DW, long PH, long PW, long OH, long OW);
