using Alloy.Runtime.Numerics;

namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// Integer matrix products with a 2-D right operand (weights): QLinearMatMul (requantised uint8 / int8),
/// MatMulInteger (int32) and the fused <c>com.alloy::QLinearMatMul</c> the QDQ lowering binds (QLinearMatMul's
/// operands plus an optional int32 bias as input 8, attributes <c>transB</c> and <c>relu</c>: a quantised Gemm or
/// MatMul + Add). The left operand (any rank, leading dims flattened into rows) is the activation side with a
/// per-tensor scale and zero point; the weights have per-tensor or per-column (per output feature) scales and zero
/// points. <see cref="Int8Gemm"/> computes <c>Yᵀ = Bᵀ · Aᵀ</c> so the weights are the packed side (packed once and
/// kept while the tensor is unchanged). Bit-exact with the reference: int32 sums of
/// <c>(a − a_zp)(b − b_zp)</c>, wrapping, requantised with the float32 multiplier <c>a_scale · b_scale / y_scale</c>
/// in double. Other configurations (batched right operands, per-row activation parameters) run the reference.
/// </summary>
internal sealed unsafe class QLinearMatMulKernel : IKernel
{
    private readonly Int8Isa _isa;
    private readonly IKernel? _fallback;
    private readonly bool _integer, _relu, _transB, _constantWeights;
    private readonly string _op;
    private readonly Lock _cacheLock = new();
    private (Tensor Source, int[] ZeroPoints, byte[]? Bytes, Int8PackedWeights Packed)? _cache;
    private readonly Int8ParameterCache _parameters = new();

    private QLinearMatMulKernel(Int8Isa isa, IKernel? fallback, bool integer, bool relu, bool transB, bool constantWeights, string op)
    {
        _isa = isa;
        _fallback = fallback;
        _integer = integer;
        _relu = relu;
        _transB = transB;
        _constantWeights = constantWeights;
        _op = op;
    }

    public static IKernel? Create(Int8Isa isa, KernelNode n, IKernel? fallback, bool integer, out string? reason)
    {
        reason = null;
        int[] operands = integer ? [0, 1] : [0, 3];
        foreach (var i in operands)
            if (i < n.InputTypes.Count && n.InputTypes[i] is { } t && t is not (ElementType.Int8 or ElementType.UInt8))
            {
                reason = $"{n.OpType} supports int8/uint8 operands, input {i} is {t.Name()}";
                return null;
            }
        return new QLinearMatMulKernel(isa, fallback, integer, n.Attributes.GetInt("relu", 0) != 0, n.Attributes.GetInt("transB", 0) != 0,
            n.Attributes.GetInt("constant_weights", 0) != 0, n.OpType);
    }

    private static Tensor? At(ReadOnlySpan<Tensor?> inputs, int i) => i < inputs.Length ? inputs[i] : null;

    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var a = At(inputs, 0) ?? throw new KernelException($"{_op}: input a is missing");
        var b = At(inputs, _integer ? 1 : 3) ?? throw new KernelException($"{_op}: input b is missing");
        var azp = At(inputs, 2);
        var bzp = At(inputs, _integer ? 3 : 5);
        Tensor? aScale = null, bScale = null, yScale = null, yzp = null, bias = null;
        if (!_integer)
        {
            aScale = At(inputs, 1) ?? throw new KernelException($"{_op}: input a_scale is missing");
            bScale = At(inputs, 4) ?? throw new KernelException($"{_op}: input b_scale is missing");
            yScale = At(inputs, 6) ?? throw new KernelException($"{_op}: input y_scale is missing");
            yzp = At(inputs, 7);
            bias = At(inputs, 8);
        }
        foreach (var (t, name) in new[] { (a, "a"), (b, "b") })
            if (t.Type is not (ElementType.Int8 or ElementType.UInt8))
                throw new KernelException($"{_op}: {name} must be int8 or uint8, got {t.Type.Name()}");
        if (azp is not null && azp.Type != a.Type) throw new KernelException($"{_op}: a_zero_point is {azp.Type.Name()}, a is {a.Type.Name()}");
        if (bzp is not null && bzp.Type != b.Type) throw new KernelException($"{_op}: b_zero_point is {bzp.Type.Name()}, b is {b.Type.Name()}");
        bool fast = a.Rank >= 1 && b.Rank == 2 && (azp is null || azp.Length == 1) && (aScale is null || aScale.Length == 1)
            && (yScale is null || yScale.Length == 1) && (yzp is null || yzp.Length == 1);
        if (!fast)
        {
            if (_fallback is null) throw new KernelException($"{_op}: needs a 2-D b and per-tensor a parameters, got a {a.ShapeText}, b {b.ShapeText}");
            _fallback.Run(context, inputs, outputs);
            return;
        }
        long k = a.Shape[^1];
        long bk = _transB ? b.Shape[1] : b.Shape[0], n = _transB ? b.Shape[0] : b.Shape[1];
        if (bk != k) throw new KernelException($"{_op}: cannot multiply {a.ShapeText} by {b.ShapeText}{(_transB ? " (transposed)" : "")}");
        long rows = a.Length / Math.Max(1, k);
        if (k == 0) rows = a.Rank == 1 ? 1 : a.Shape[..^1].Aggregate(1L, (p, d) => p * d);
        var outKind = _integer ? Int8OutputKind.Int32 : (yzp?.Type ?? a.Type) switch
        {
            ElementType.UInt8 => Int8OutputKind.UInt8,
            ElementType.Int8 => Int8OutputKind.Int8,
            var t => throw new KernelException($"{_op}: y_zero_point must be int8 or uint8, got {t.Name()}"),
        };
        if (bzp is not null && bzp.Length != 1 && (bzp.Rank != 1 || bzp.Length != n)) throw new KernelException($"{_op}: b_zero_point {bzp.ShapeText} must hold 1 or {n} values");
        ReadOnlySpan<Tensor?> parameters = [aScale, bScale, yScale, yzp, bias, bzp];
        if (!_parameters.TryGet(parameters, outKind, n, out var bZp, out var requant))
        {
            (bZp, requant) = Parameters(aScale, bScale, yScale, yzp, bias, bzp, n, outKind);
            _parameters.Store(parameters, outKind, n, bZp, requant);
        }
        var packed = Weights(b, bZp, (int)n, (int)k);
        long[] outShape = a.Rank == 1 ? [n] : [.. a.Shape[..^1], n];
        var y = Tensor.Create(_integer ? ElementType.Int32 : outKind == Int8OutputKind.UInt8 ? ElementType.UInt8 : ElementType.Int8, outShape);
        // The GEMM's activation side is Aᵀ (K × rows): one row of A is that matrix with row stride 1, read in place.
        var block = rows == 1 ? default : ScratchPool.Rent(Math.Max(1, k * rows));
        try
        {
            int aZp = azp is null ? 0 : (int)ElementConvert.GetLong(azp, 0);
            bool signed = a.Type == ElementType.Int8;
            byte* ap = (byte*)a.Pointer, x = ap;
            if (rows != 1)
            {
                x = (byte*)block.Pointer;
                for (long r = 0; r < rows; r++)
                    for (long kk = 0; kk < k; kk++) x[kk * rows + r] = ap[r * k + kk];
            }
            Int8Gemm.Multiply(_isa, context.Threads, packed, x, signed, aZp, rows, (int)rows, requant, (byte*)y.Pointer, 1, n);
        }
        catch
        {
            y.Dispose();
            throw;
        }
        finally
        {
            ScratchPool.Return(block);
        }
        outputs[0] = y;
    }

    /// <summary>The weights' zero points and the requantisation of this node's parameters (checked here).</summary>
    private (int[] ZeroPoints, Int8Requantization Requantization) Parameters(Tensor? aScale, Tensor? bScale, Tensor? yScale, Tensor? yzp, Tensor? bias,
        Tensor? bzp, long n, Int8OutputKind outKind)
    {
        var bZp = bzp is null ? new[] { 0 } : ElementConvert.ToLongs(bzp).Select(v => (int)v).ToArray();
        if (_integer) return (bZp, Int8Requantization.Raw((int)n));
        if (bScale!.Length != 1 && (bScale.Rank != 1 || bScale.Length != n)) throw new KernelException($"{_op}: b_scale {bScale.ShapeText} must hold 1 or {n} values");
        if (bias is not null && (bias.Type != ElementType.Int32 || bias.Length != n)) throw new KernelException($"{_op}: bias must be int32 with {n} values, got {bias}");
        float asv = (float)ElementConvert.GetDouble(aScale!, 0), ys = (float)ElementConvert.GetDouble(yScale!, 0);
        var multipliers = new double[n];
        for (long j = 0; j < n; j++) multipliers[j] = asv * (float)ElementConvert.GetDouble(bScale, bScale.Length == 1 ? 0 : j) / ys;
        return (bZp, new Int8Requantization(outKind, bias is null ? new int[n] : bias.ToArray<int>(), multipliers,
            yzp is null ? 0 : (int)ElementConvert.GetLong(yzp, 0), _relu));
    }

    private Int8PackedWeights Weights(Tensor b, int[] zp, int n, int k)
    {
        lock (_cacheLock)
        {
            if (_cache is { } c && ReferenceEquals(c.Source, b) && c.ZeroPoints.AsSpan().SequenceEqual(zp)
                && (_constantWeights || c.Bytes is null || b.Bytes.SequenceEqual(c.Bytes)))
                return c.Packed;
            _cache?.Packed.Dispose();
            var packed = _transB
                ? Int8PackedWeights.Pack((byte*)b.Pointer, b.Type == ElementType.Int8, n, k, k, 1, zp)
                : Int8PackedWeights.Pack((byte*)b.Pointer, b.Type == ElementType.Int8, n, k, 1, n, zp);
            _cache = (b, zp, _constantWeights ? null : b.Bytes.ToArray(), packed);
            return packed;
        }
    }
}
