using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Alloy.Runtime.Kernels.Reference;
using Alloy.Runtime.Numerics;

namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// 2-D (NCHW) integer convolution on uint8 / int8 data: QLinearConv (requantised uint8 / int8 output), ConvInteger
/// (int32 output) and the fused <c>com.alloy::QLinearConv</c> the QDQ lowering binds (QLinearConv's operands plus
/// an optional <c>relu</c> attribute). Weight scales and zero points are per tensor or per output channel (axis 0);
/// the activation scale and zero point per tensor. Groups with several input channels run <see cref="Int8Gemm"/>
/// on the input planes themselves (1×1, stride 1, no padding) or a byte im2col matrix (padding holds the zero point),
/// which the GEMM widens while packing; depthwise groups (one input channel)
/// run <see cref="Int8DepthwiseConv"/>. Results are bit-exact with the reference QLinearConv: the int32 sum of
/// <c>(x − x_zp)(w − w_zp)</c> plus the bias, wrapping, requantised by <see cref="Int8Requantization"/>. Packed
/// weights are kept between runs while the weight tensor is the same object with the same bytes (the bytes are
/// compared unless the node says its weights are constants: <c>constant_weights = 1</c>). Configurations outside
/// this (other ranks, per-row activation parameters) run the reference kernel.
/// </summary>
internal sealed unsafe class QLinearConvKernel : IKernel
{
    private readonly Int8Isa _isa;
    private readonly IKernel? _fallback;
    private readonly SpatialAttributes _attrs;
    private readonly long _group;
    private readonly bool _integer, _relu, _constantWeights;
    private readonly string _op;
    private readonly Lock _cacheLock = new();
    private WeightCache? _cache;
    private readonly Int8ParameterCache _parameters = new();

    private QLinearConvKernel(Int8Isa isa, IKernel? fallback, SpatialAttributes attrs, long group, bool integer, bool relu, bool constantWeights, string op)
    {
        _isa = isa;
        _fallback = fallback;
        _attrs = attrs;
        _group = group;
        _integer = integer;
        _relu = relu;
        _constantWeights = constantWeights;
        _op = op;
    }

    /// <summary>The kernel for a QLinearConv (<paramref name="integer"/> false) or ConvInteger node.</summary>
    public static IKernel? Create(Int8Isa isa, KernelNode n, IKernel? fallback, bool integer, out string? reason)
    {
        var attrs = SpatialAttributes.Read(n, out reason);
        if (attrs is null) return null;
        long group = n.Attributes.GetInt("group", 1);
        if (group < 1)
        {
            reason = $"{n.OpType}: group {group} must be positive";
            return null;
        }
        int[] operands = integer ? [0, 1] : [0, 3];
        foreach (var i in operands)
            if (i < n.InputTypes.Count && n.InputTypes[i] is { } t && t is not (ElementType.Int8 or ElementType.UInt8))
            {
                reason = $"{n.OpType} supports int8/uint8 operands, input {i} is {t.Name()}";
                return null;
            }
        return new QLinearConvKernel(isa, fallback, attrs, group, integer, n.Attributes.GetInt("relu", 0) != 0,
            n.Attributes.GetInt("constant_weights", 0) != 0, n.OpType);
    }

    private static Tensor? At(ReadOnlySpan<Tensor?> inputs, int i) => i < inputs.Length ? inputs[i] : null;

    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = At(inputs, 0) ?? throw new KernelException($"{_op}: input x is missing");
        var w = At(inputs, _integer ? 1 : 3) ?? throw new KernelException($"{_op}: input w is missing");
        var xzpTensor = At(inputs, 2);
        var wzpTensor = At(inputs, _integer ? 3 : 5);
        Tensor? xScale = null, wScale = null, yScale = null, yzpTensor = null, bias = null;
        if (!_integer)
        {
            xScale = At(inputs, 1) ?? throw new KernelException($"{_op}: input x_scale is missing");
            wScale = At(inputs, 4) ?? throw new KernelException($"{_op}: input w_scale is missing");
            yScale = At(inputs, 6) ?? throw new KernelException($"{_op}: input y_scale is missing");
            yzpTensor = At(inputs, 7);
            bias = At(inputs, 8);
        }
        CheckInteger8(x, "x");
        CheckInteger8(w, "w");
        if (xzpTensor is not null && xzpTensor.Type != x.Type) throw new KernelException($"{_op}: x_zero_point is {xzpTensor.Type.Name()}, x is {x.Type.Name()}");
        if (wzpTensor is not null && wzpTensor.Type != w.Type) throw new KernelException($"{_op}: w_zero_point is {wzpTensor.Type.Name()}, w is {w.Type.Name()}");
        bool fast = x.Rank == 4 && w.Rank == 4 && (xzpTensor is null || xzpTensor.Length == 1)
            && (xScale is null || xScale.Length == 1) && (yScale is null || yScale.Length == 1) && (yzpTensor is null || yzpTensor.Length == 1);
        if (!fast)
        {
            if (_fallback is null) throw new KernelException($"{_op}: only 2-D convolutions with a per-tensor x_zero_point are supported, got x {x.ShapeText}, w {w.ShapeText}");
            _fallback.Run(context, inputs, outputs);
            return;
        }
        var outKind = _integer ? Int8OutputKind.Int32 : (yzpTensor?.Type ?? x.Type) switch
        {
            ElementType.UInt8 => Int8OutputKind.UInt8,
            ElementType.Int8 => Int8OutputKind.Int8,
            var t => throw new KernelException($"{_op}: y_zero_point must be int8 or uint8, got {t.Name()}"),
        };

        long n = x.Shape[0], c = x.Shape[1], m = w.Shape[0], cg = w.Shape[1], group = _group;
        if (c != cg * group) throw new KernelException($"{_op}: x has {c} channels but w {w.ShapeText} with group {group} expects {cg * group}");
        if (m % group != 0) throw new KernelException($"{_op}: w has {m} output channels, not a multiple of group {group}");
        long[] kernel = w.Shape[2..];
        if (_attrs.KernelShape is { } ks && !ks.SequenceEqual(kernel))
            throw new KernelException($"{_op}: kernel_shape [{string.Join(",", ks)}] does not match w {w.ShapeText}");
        var win = SpatialWindow.Forward(_op, _attrs, x.Shape[2..], kernel, ceilMode: false);
        var g = new ConvGeometry(x.Shape[2], x.Shape[3], kernel[0], kernel[1], win.Stride[0], win.Stride[1],
            win.Dilation[0], win.Dilation[1], win.PadBegin[0], win.PadBegin[1], win.Out[0], win.Out[1]);

        int xZp = xzpTensor is null ? 0 : (int)ElementConvert.GetLong(xzpTensor, 0);
        ReadOnlySpan<Tensor?> parameters = [xScale, wScale, yScale, yzpTensor, bias, wzpTensor];
        if (!_parameters.TryGet(parameters, outKind, m, out var wZp, out var requant))
        {
            wZp = PerChannel(wzpTensor, m, "w_zero_point");
            requant = _integer ? Int8Requantization.Raw((int)m) : Requantization(xScale!, wScale!, yScale!, yzpTensor, bias, m, outKind);
            _parameters.Store(parameters, outKind, m, wZp, requant);
        }
        var weights = Weights(w, wZp, m, cg, group, g);

        var y = Tensor.Create(_integer ? ElementType.Int32 : outKind == Int8OutputKind.UInt8 ? ElementType.UInt8 : ElementType.Int8,
            [n, m, g.OH, g.OW]);
        try
        {
            bool signed = x.Type == ElementType.Int8;
            if (cg == 1) Int8DepthwiseConv.Run(_isa, context.Threads, (byte*)x.Pointer, signed, xZp, weights.Depthwise!, requant, n, c, m, g, (byte*)y.Pointer);
            else Grouped(context.Threads, x, signed, xZp, weights.Packed!, requant, n, c, m, cg, g, (byte*)y.Pointer);
        }
        catch
        {
            y.Dispose();
            throw;
        }
        outputs[0] = y;
    }

    private void CheckInteger8(Tensor t, string name)
    {
        if (t.Type is not (ElementType.Int8 or ElementType.UInt8))
            throw new KernelException($"{_op}: {name} must be int8 or uint8, got {t.Type.Name()}");
    }

    private int[] PerChannel(Tensor? t, long m, string name)
    {
        if (t is null) return [0];
        if (t.Length != 1 && (t.Rank != 1 || t.Length != m)) throw new KernelException($"{_op}: {name} {t.ShapeText} must hold 1 or {m} values");
        return ElementConvert.ToLongs(t).Select(v => (int)v).ToArray();
    }

    private Int8Requantization Requantization(Tensor xScale, Tensor wScale, Tensor yScale, Tensor? yzp, Tensor? bias, long m, Int8OutputKind kind)
    {
        if (wScale.Length != 1 && (wScale.Rank != 1 || wScale.Length != m)) throw new KernelException($"{_op}: w_scale {wScale.ShapeText} must hold 1 or {m} values");
        if (bias is not null && (bias.Type != ElementType.Int32 || bias.Length != m)) throw new KernelException($"{_op}: B must be int32 with {m} values, got {bias}");
        float xs = (float)ElementConvert.GetDouble(xScale, 0), ys = (float)ElementConvert.GetDouble(yScale, 0);
        var multipliers = new double[m];
        for (long i = 0; i < m; i++)
            multipliers[i] = xs * (float)ElementConvert.GetDouble(wScale, wScale.Length == 1 ? 0 : i) / ys;
        var b = bias is null ? new int[m] : bias.ToArray<int>();
        return new Int8Requantization(kind, b, multipliers, yzp is null ? 0 : (int)ElementConvert.GetLong(yzp, 0), _relu);
    }

    /// <summary>The packed weights (per group) or the depthwise taps, rebuilt when the weight tensor changes.</summary>
    private WeightCache Weights(Tensor w, int[] zp, long m, long cg, long group, ConvGeometry g)
    {
        lock (_cacheLock)
        {
            if (_cache is { } cached && cached.Matches(w, zp, _constantWeights)) return cached;
            _cache?.Dispose();
            _cache = null;
            bool signed = w.Type == ElementType.Int8;
            long mg = m / group, k = cg * g.KH * g.KW;
            var bytes = (byte*)w.Pointer;
            WeightCache cache;
            if (cg == 1)
            {
                long taps = g.KH * g.KW;
                var dw = new int[m * taps];
                for (long o = 0; o < m; o++)
                    for (long t = 0; t < taps; t++)
                    {
                        int v = signed ? (sbyte)bytes[o * taps + t] : bytes[o * taps + t];
                        dw[o * taps + t] = v - (zp.Length == 1 ? zp[0] : zp[o]);
                    }
                cache = new WeightCache(w, zp, _constantWeights ? null : w.Bytes.ToArray(), null, dw);
            }
            else
            {
                var packed = new Int8PackedWeights[group];
                for (long gi = 0; gi < group; gi++)
                    packed[gi] = Int8PackedWeights.Pack(bytes + gi * mg * k, signed, (int)mg, (int)k, k, 1,
                        zp.Length == 1 ? zp : zp.AsSpan((int)(gi * mg), (int)mg));
                cache = new WeightCache(w, zp, _constantWeights ? null : w.Bytes.ToArray(), packed, null);
            }
            _cache = cache;
            return cache;
        }
    }

    private void Grouped(int threads, Tensor x, bool signed, int xZp, Int8PackedWeights[] packed, Int8Requantization e,
        long n, long c, long m, long cg, ConvGeometry g, byte* y)
    {
        long mg = m / _group, k = cg * g.KH * g.KW, outSize = g.OH * g.OW, inSize = g.H * g.W;
        // A 1×1 convolution with stride 1 and no padding reads every input element once, in order: its im2col
        // matrix is the input planes themselves, which the GEMM reads in place.
        bool identity = g is { KH: 1, KW: 1, SH: 1, SW: 1, PH: 0, PW: 0 } && g.OH == g.H && g.OW == g.W;
        var block = identity ? default : ScratchPool.Rent(k * outSize);
        try
        {
            for (long img = 0; img < n; img++)
                for (long grp = 0; grp < _group; grp++)
                {
                    byte* plane = (byte*)x.Pointer + (img * c + grp * cg) * inSize;
                    byte* cols = plane;
                    if (!identity)
                    {
                        cols = (byte*)block.Pointer;
                        FillParallel(threads, plane, (byte)xZp, cg, g, cols, outSize);
                    }
                    long row0 = grp * mg;
                    Int8Gemm.Multiply(_isa, threads, packed[grp], cols, signed, xZp, outSize, (int)outSize, e.Slice((int)row0),
                        y + (img * m + row0) * outSize * e.ElementSize, outSize, 1);
                }
        }
        finally
        {
            ScratchPool.Return(block);
        }
    }

    /// <summary>The byte im2col matrix, its channels split among the threads.</summary>
    private void FillParallel(int threads, byte* plane, byte zeroPoint, long channels, ConvGeometry g, byte* cols, long ld)
    {
        long rowsPerChannel = g.KH * g.KW, inSize = g.H * g.W;
        int workers = channels * rowsPerChannel * ld < (1 << 15) ? 1 : threads;
        int chunks = (int)Math.Min(channels, workers * 2L);
        nint planeData = (nint)plane, colData = (nint)cols;
        var isa = _isa;
        Sgemm.ParallelFor(workers, chunks, (long t) =>
        {
            long c0 = t * channels / chunks, c1 = (t + 1) * channels / chunks;
            Int8Im2Col.FillBytes(isa, (byte*)planeData + c0 * inSize, zeroPoint, c1 - c0, g, (byte*)colData + c0 * rowsPerChannel * ld, ld);
        });
    }

    /// <summary>Packed weights for one weight tensor and zero point.</summary>
    private sealed class WeightCache(Tensor source, int[] zeroPoints, byte[]? bytes, Int8PackedWeights[]? packed, int[]? depthwise) : IDisposable
    {
        public Int8PackedWeights[]? Packed { get; } = packed;
        public int[]? Depthwise { get; } = depthwise;

        public bool Matches(Tensor w, int[] zp, bool constant) =>
            ReferenceEquals(w, source) && zp.AsSpan().SequenceEqual(zeroPoints) && (constant || bytes is null || w.Bytes.SequenceEqual(bytes));

        public void Dispose()
        {
            if (Packed is not null) foreach (var p in Packed) p.Dispose();
        }
    }
}
