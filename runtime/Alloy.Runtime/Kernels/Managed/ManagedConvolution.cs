using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Alloy.Runtime.Kernels.Reference;

namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// Conv (opset 1, 11) with two spatial dims (NCHW) on f32 / bf16 / f16, any pads / auto_pad / strides / dilations /
/// group, fused bias. Groups with more than one input channel are GEMMs (per image and group: W[M/g, C/g·KH·KW] ×
/// im2col(X), the im2col matrix packed straight from the image, or X itself for a 1×1 stride-1 unpadded kernel), or,
/// for few output channels on wide rows, <see cref="DirectConvolution"/> over zero-padded input phases; with
/// AVX-512 or AVX2 a float32 1×1 stride-1 unpadded convolution with one group runs <see cref="PointwiseConvolution"/>;
/// depthwise groups (one input channel each) run <see cref="DepthwiseConvolution"/>. Each output is the float32 sum of its
/// taps (channel, kernel row, kernel column ascending; fused multiply-adds; taps in the padding skipped or adding
/// zero), plus the bias, rounded once. Other ranks and types go to the reference kernel.
/// </summary>
internal sealed unsafe class ManagedConvKernel : IKernel, IActivationFusion, IWeightPrepacking
{
    private readonly ManagedIsa _isa;
    private readonly IKernel _fallback;
    private readonly SpatialAttributes _attrs;
    private readonly long _group;
    private readonly ElementType? _outputType;
    private readonly ActivationClamp _clamp;
    private WidenedWeights? _depthwiseWeights;
    private PointwiseConvolution.PackedWeights? _pointwiseWeights;
    private PackedConvWeights? _packedWeights;

    private ManagedConvKernel(ManagedIsa isa, IKernel fallback, SpatialAttributes attrs, long group, ElementType? outputType, ActivationClamp clamp = default)
    {
        _outputType = outputType;
        _isa = isa;
        _fallback = fallback;
        _attrs = attrs;
        _group = group;
        _clamp = clamp;
    }

    public IKernel? WithActivation(ActivationClamp clamp) =>
        _clamp.Enabled ? null : new ManagedConvKernel(_isa, _fallback, _attrs, _group, _outputType, clamp);

    /// <summary>
    /// Packs constant weights of a grouped (GEMM) convolution once: per group, the M/g × C/g·KH·KW weight matrix in the
    /// GEMM's A panels, and the bias widened to float32. Runs with that weight tensor skip packing it.
    /// </summary>
    public void Prepack(ReadOnlySpan<Tensor?> constantInputs, int threads)
    {
        if (constantInputs.Length < 2 || constantInputs[1] is not { Rank: 4 } w || !ManagedConvert.IsSupported(w.Type)) return;
        long m = w.Shape[0], cg = w.Shape[1], kSize = cg * w.Shape[2] * w.Shape[3];
        if (cg <= 1 || m % _group != 0 || m == 0 || kSize == 0) return;
        var bias = constantInputs.Length > 2 ? constantInputs[2] : null;
        if (bias is not null && (bias.Type != w.Type || bias.Rank != 1 || bias.Length != m)) return;
        if (WouldRunPointwise(w))
        {
            _pointwiseWeights = PointwiseConvolution.PackedWeights.Pack(w);
            return;
        }
        long mg = m / _group;
        int mr = Sgemm.Registers(_isa).MR, elementSize = w.Type == ElementType.Float ? 4 : 2;
        var groups = new PackedOperand[_group];
        for (long grp = 0; grp < _group; grp++)
        {
            long offset = grp * mg * kSize * elementSize;
            var a = new StridedMatrix(_isa, (byte*)w.Pointer + offset, w.Type, kSize, 1);
            groups[grp] = PackedOperand.Pack(w, a.Transposed, kSize, mg, mr, threads);
        }
        _packedWeights = new PackedConvWeights(groups, bias, bias is null ? null : ManagedConvert.ToFloats(_isa, bias));
    }

    /// <summary>
    /// Whether every run with these weights takes the <see cref="PointwiseConvolution"/> path (group 1, 1×1 kernel,
    /// unit strides, no padding), so its own packed copy is the one to prepare.
    /// </summary>
    private bool WouldRunPointwise(Tensor w) =>
        _group == 1 && w.Shape[2] == 1 && w.Shape[3] == 1 && PointwiseConvolution.Handles(_isa, w.Type)
        && (_attrs.Strides is null || _attrs.Strides.All(v => v == 1))
        && (_attrs.Pads is null || _attrs.Pads.All(v => v == 0))
        && _attrs.AutoPad is "NOTSET" or "VALID" or "SAME_UPPER" or "SAME_LOWER";

    /// <summary>The weights of every group packed once, and the widened bias (when it was constant too).</summary>
    private sealed record PackedConvWeights(PackedOperand[] Groups, Tensor? Bias, float[]? BiasFloats);

    /// <summary>The managed kernel, or null (use the reference) when the attributes are not ones it handles.</summary>
    public static IKernel? Create(ManagedIsa isa, IKernel fallback, KernelNode n, ElementType? outputType)
    {
        var attrs = SpatialAttributes.Read(n, out _);
        long group = n.Attributes.GetInt("group", 1);
        return attrs is null || group < 1 ? null : new ManagedConvKernel(isa, fallback, attrs, group, outputType);
    }

    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var bias = inputs.Length > 2 ? inputs[2] : null;
        if (inputs.Length < 2 || inputs[0] is not { } x || inputs[1] is not { } w || x.Rank != 4 || w.Rank != 4
            || x.Type != w.Type || !ManagedConvert.IsSupported(x.Type) || (bias is not null && bias.Type != x.Type))
        {
            _fallback.Run(context, inputs, outputs);
            if (outputs[0] is { } r) _clamp.ApplyInPlace(_isa, r);
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

        var y = Tensor.CreateUninitialized(_outputType ?? x.Type, [n, m, win.Out[0], win.Out[1]]);
        try
        {
            using var output = new FloatOutput(y);
            var packed = _packedWeights;
            if (packed is not null && (cg == 1 || packed.Groups.Length != group || !packed.Groups[0].Matches(w))) packed = null;
            var b = bias is null ? null : packed is not null && ReferenceEquals(packed.Bias, bias) ? packed.BiasFloats : ManagedConvert.ToFloats(_isa, bias);
            fixed (float* bp = b)
            {
                if (cg == 1) Depthwise(context.Threads, x, w, bp, n, c, m, geometry, output.Data);
                else if (_group == 1 && IsPointwise(geometry) && PointwiseConvolution.Handles(_isa, x.Type))
                    Pointwise(context.Threads, x, w, bp, n, c, m, geometry, output.Data);
                else Grouped(context.Threads, x, w, packed?.Groups, bp, n, c, m, cg, geometry, output.Data);
            }
            GC.KeepAlive(packed);
            output.Complete(_isa);
        }
        catch
        {
            y.Dispose();
            throw;
        }
        outputs[0] = y;
    }

    private void Grouped(int threads, Tensor x, Tensor w, PackedOperand[]? packed, float* bias, long n, long c, long m, long cg, ConvGeometry g, float* y)
    {
        long mg = m / _group, kSize = cg * g.KH * g.KW, outSize = g.OH * g.OW, inSize = g.H * g.W;
        int elementSize = x.Type == ElementType.Float ? 4 : 2;
        bool direct = g.KH == 1 && g.KW == 1 && g.SH == 1 && g.SW == 1 && g.PH == 0 && g.PW == 0 && g.OH == g.H && g.OW == g.W;
        for (long img = 0; img < n; img++)
            for (long grp = 0; grp < _group; grp++)
            {
                var a = new StridedMatrix(_isa, (byte*)w.Pointer + grp * mg * kSize * elementSize, w.Type, kSize, 1);
                PanelView? pa = packed is null ? null : packed[grp].View;
                long xOffset = (img * c + grp * cg) * inSize;
                float* ct = y + (img * m + grp * mg) * outSize;
                var e = (bias == null ? Epilogue.None : Epilogue.RowBias(bias + grp * mg)).With(_clamp);
                if (!direct && (DirectConvolution.Applies(_isa, mg, g)))
                {
                    var own = pa is null ? ScratchPool.Rent(new PanelView(null, kSize, mg, Sgemm.Registers(_isa).MR).Floats * sizeof(float)) : default;
                    try
                    {
                        var view = pa ?? new PanelView((float*)own.Pointer, kSize, mg, Sgemm.Registers(_isa).MR);
                        if (pa is null) view.PackFrom(a.Transposed, threads);
                        DirectConvolution.Run(threads, view, (byte*)x.Pointer + xOffset * elementSize, x.Type, cg, g, ct, e);
                    }
                    finally
                    {
                        ScratchPool.Return(own);
                    }
                }
                else if (direct)
                    Sgemm.Multiply(_isa, threads, mg, outSize, kSize, a, pa,
                        new StridedMatrix(_isa, (byte*)x.Pointer + xOffset * elementSize, x.Type, inSize, 1), null, ct, outSize, e);
                else
                {
                    var im2col = new Im2ColSource(_isa, x.Pointer, x.Type, xOffset, g.H, g.W, g.KH, g.KW, g.SH, g.SW, g.DH, g.DW, g.PH, g.PW, g.OH, g.OW);
                    if (SharesIm2Col(threads, mg, outSize, kSize))
                        MultiplySharedIm2Col(threads, mg, outSize, kSize, a, pa, im2col, ct, e);
                    else
                        Sgemm.Multiply(_isa, threads, mg, outSize, kSize, a, pa, im2col, null, ct, outSize, e);
                }
            }
    }

    /// <summary>
    /// Whether the GEMM of a small output plane would split its rows between threads, each packing the whole im2col
    /// matrix again (<see cref="Sgemm.Partition"/> picks row ranges when there are too few column panels to share
    /// out evenly: a 14×14 plane is 7 panels of 32 columns). Then the matrix is packed once, by all threads, first.
    /// </summary>
    private bool SharesIm2Col(int threads, long m, long n, long k)
    {
        if (threads <= 1 || m * n * k < Sgemm.ParallelThreshold) return false;
        var (mr, nr) = Sgemm.Registers(_isa);
        long panelsM = (m + mr - 1) / mr, panelsN = (n + nr - 1) / nr;
        return Sgemm.Partition(threads, panelsM, panelsN, mr, nr, packB: true).RowRanges > 1;
    }

    /// <summary>
    /// The im2col matrix packed into the GEMM's B panels by one parallel loop (every panel once), then the GEMM over
    /// the packed panels, whose tasks then split the rows without packing anything. The same products in the same
    /// order as packing inside the GEMM, so the results are bit-identical.
    /// </summary>
    private void MultiplySharedIm2Col(int threads, long m, long n, long k, StridedMatrix a, PanelView? pa, Im2ColSource im2col, float* c, Epilogue e)
    {
        int nr = Sgemm.Registers(_isa).NR;
        var shape = new PanelView(null, k, n, nr);
        var block = ScratchPool.Rent(shape.Floats * sizeof(float));
        try
        {
            var packed = new PanelView((float*)block.Pointer, k, n, nr);
            packed.PackFrom(im2col, threads);
            Sgemm.Multiply(_isa, threads, m, n, k, a, pa, im2col, packed, c, n, e);
        }
        finally
        {
            ScratchPool.Return(block);
        }
    }

    /// <summary>
    /// One input channel per group: <see cref="DepthwiseConvolution"/>, with the weights widened once per weight
    /// tensor and kept.
    /// </summary>
    private void Depthwise(int threads, Tensor x, Tensor w, float* bias, long n, long c, long m, ConvGeometry g, float* y)
    {
        var cached = _depthwiseWeights;
        if (cached is null || !ReferenceEquals(cached.Source, w) || cached.Pointer != (nint)w.Pointer)
            _depthwiseWeights = cached = new WidenedWeights(w, (nint)w.Pointer, ManagedConvert.ToFloats(_isa, w));
        DepthwiseConvolution.Run(_isa, threads, x, cached.Data, bias, _clamp, n, c, m, g, y);
    }

    /// <summary>A 1×1 kernel with stride 1 and no padding: the output plane is the input plane.</summary>
    private static bool IsPointwise(ConvGeometry g) =>
        g.KH == 1 && g.KW == 1 && g.SH == 1 && g.SW == 1 && g.PH == 0 && g.PW == 0 && g.OH == g.H && g.OW == g.W;

    /// <summary>Group 1, 1×1, float32: <see cref="PointwiseConvolution"/>, with the weights packed once per weight tensor.</summary>
    private void Pointwise(int threads, Tensor x, Tensor w, float* bias, long n, long c, long m, ConvGeometry g, float* y)
    {
        var packed = _pointwiseWeights;
        if (packed is null || !ReferenceEquals(packed.Source, w) || packed.Pointer != (nint)w.Pointer)
            _pointwiseWeights = packed = PointwiseConvolution.PackedWeights.Pack(w);
        PointwiseConvolution.Run(_isa, threads, x, packed, bias, _clamp, n, c, m, g.H * g.W, y);
    }

    /// <summary>A weight tensor widened to float32, kept while the kernel sees the same tensor.</summary>
    private sealed record WidenedWeights(Tensor Source, nint Pointer, float[] Data);
}

/// <summary>
/// The zero-padded input plane of a depthwise convolution split into SW column phases (phase p holds padded columns
/// p, p + SW, …), each <see cref="Rows"/> × <see cref="Width"/> floats with 16 columns of slack so whole vectors can
/// be loaded past the last output.
/// </summary>
internal readonly record struct PhaseLayout(long Rows, long Width, long PhaseFloats, long Floats)
{
    public static PhaseLayout Of(ConvGeometry g)
    {
        long rows = (g.OH - 1) * g.SH + (g.KH - 1) * g.DH + 1;
        long width = g.OW + (g.KW - 1) * g.DW / g.SW + 1 + 16;
        long phase = rows * width;
        return new PhaseLayout(rows, width, phase, phase * g.SW);
    }

    /// <summary>Writes the phases of one input plane (f32 / bf16 / f16, widened), <paramref name="padding"/> around it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public unsafe void Fill(ManagedIsa isa, void* plane, ElementType type, ConvGeometry g, float* phases, float padding = 0f)
    {
        new Span<float>(phases, checked((int)Floats)).Fill(padding);
        for (long r = 0; r < Rows; r++)
        {
            long ih = r - g.PH;
            if (ih < 0 || ih >= g.H) continue;
            for (long p = 0; p < g.SW; p++)
            {
                // Phase column t is padded column t·SW + p, input column t·SW + p − PW.
                if (g.W - 1 + g.PW - p < 0) continue;
                long first = (g.PW - p + g.SW - 1) / g.SW; // numerator >= 0: PW >= 0, p < SW
                long last = Math.Min(Width - 16 - 1, (g.W - 1 + g.PW - p) / g.SW);
                if (last < first) continue;
                long iw = first * g.SW + p - g.PW;
                ManagedConvert.Copy(isa, type, plane, ih * g.W + iw, g.SW, phases + p * PhaseFloats + r * Width + first, (int)(last - first + 1));
            }
        }
    }
}

/// <summary>The 2-D window of a convolution: input H×W, kernel, strides, dilations, leading pads, output OH×OW.</summary>
internal readonly record struct ConvGeometry(long H, long W, long KH, long KW, long SH, long SW, long DH, long DW, long PH, long PW, long OH, long OW);
