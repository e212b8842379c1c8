using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Alloy.Runtime.Numerics;

namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// <c>com.alloy::QLinearAdd(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp)</c> with attribute <c>relu</c>: the
/// QDQ chain <c>QuantizeLinear([Relu](DequantizeLinear(a) + DequantizeLinear(b)))</c> on uint8 / int8 tensors
/// (numpy broadcasting) with per-tensor parameters, in one pass and with the chain's float32 arithmetic (two float32 products, a
/// float32 sum, a float32 division, round half to even), so the result is bit-exact with running the chain.
/// </summary>
internal sealed unsafe class QLinearAddKernel(bool relu) : IKernel
{
    public static IKernel? Create(KernelNode n, out string? reason)
    {
        reason = null;
        return new QLinearAddKernel(n.Attributes.GetInt("relu", 0) != 0);
    }

    private static Tensor In(ReadOnlySpan<Tensor?> inputs, int i, string name) =>
        (i < inputs.Length ? inputs[i] : null) ?? throw new KernelException($"QLinearAdd: input {name} is missing");

    private static Tensor? Opt(ReadOnlySpan<Tensor?> inputs, int i) => i < inputs.Length ? inputs[i] : null;

    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var a = In(inputs, 0, "a");
        var b = In(inputs, 3, "b");
        var (sa, sb, sy) = (In(inputs, 1, "a_scale"), In(inputs, 4, "b_scale"), In(inputs, 6, "y_scale"));
        var (za, zb, zy) = (Opt(inputs, 2), Opt(inputs, 5), Opt(inputs, 7));
        foreach (var (t, name) in new[] { (a, "a"), (b, "b") })
            if (t.Type is not (ElementType.UInt8 or ElementType.Int8)) throw new KernelException($"QLinearAdd: {name} must be int8 or uint8, got {t.Type.Name()}");
        if (!QuantizeMath.PerTensor(sa, za) || !QuantizeMath.PerTensor(sb, zb) || !QuantizeMath.PerTensor(sy, zy))
            throw new KernelException("QLinearAdd: scales and zero points must be per-tensor (float32 scales)");
        var outType = zy?.Type ?? ElementType.UInt8;
        if (outType is not (ElementType.UInt8 or ElementType.Int8)) throw new KernelException($"QLinearAdd: y_zero_point must be int8 or uint8, got {outType.Name()}");
        static int Zp(Tensor? t) => t is null ? 0 : (int)ElementConvert.GetLong(t, 0);
        if (!a.Shape.SequenceEqual(b.Shape))
        {
            outputs[0] = Broadcasting(a, sa.Span<float>()[0], Zp(za), b, sb.Span<float>()[0], Zp(zb), sy.Span<float>()[0], Zp(zy), outType);
            return;
        }
        var y = Tensor.Create(outType, a.Shape);
        Add((byte*)a.Pointer, a.Type == ElementType.Int8, sa.Span<float>()[0], Zp(za),
            (byte*)b.Pointer, b.Type == ElementType.Int8, sb.Span<float>()[0], Zp(zb),
            sy.Span<float>()[0], Zp(zy), outType, relu, (byte*)y.Pointer, checked((int)a.Length));
        outputs[0] = y;
    }

    /// <summary>Operands of different shapes: numpy broadcasting, element by element with the same arithmetic.</summary>
    private Tensor Broadcasting(Tensor a, float sa, int za, Tensor b, float sb, int zb, float sy, int zy, ElementType outType)
    {
        var shape = Broadcast.Shape(a.Shape, b.Shape);
        var ai = Broadcast.SourceIndices(a.Shape, shape);
        var bi = Broadcast.SourceIndices(b.Shape, shape);
        var (lo, hi) = QuantizeMath.Range(outType);
        var y = Tensor.Create(outType, shape);
        byte* ap = (byte*)a.Pointer, bp = (byte*)b.Pointer, yp = (byte*)y.Pointer;
        bool aSigned = a.Type == ElementType.Int8, bSigned = b.Type == ElementType.Int8;
        for (long i = 0; i < y.Length; i++)
        {
            byte av = ap[ai[i]], bv = bp[bi[i]];
            float s = (float)((aSigned ? (sbyte)av : av) - za) * sa + (float)((bSigned ? (sbyte)bv : bv) - zb) * sb;
            if (relu) s = Math.Max(s, 0f);
            yp[i] = (byte)QuantizeMath.QuantizeOne(s, sy, zy, lo, hi);
        }
        return y;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Add(byte* a, bool aSigned, float sa, int za, byte* b, bool bSigned, float sb, int zb, float sy, int zy,
        ElementType outType, bool relu, byte* y, int count)
    {
        var (lo, hi) = QuantizeMath.Range(outType);
        int i = 0;
        if (Avx512F.IsSupported)
        {
            var (vsa, vsb, vsy) = (Vector512.Create(sa), Vector512.Create(sb), Vector512.Create(sy));
            var (vza, vzb, vzy) = (Vector512.Create(za), Vector512.Create(zb), Vector512.Create(zy));
            var (vlo, vhi) = (Vector512.Create((float)(lo - zy)), Vector512.Create((float)(hi - zy)));
            for (; i + 16 <= count; i += 16)
            {
                var da = Avx512F.ConvertToVector512Single(QuantizeMath.Widen(a + i, aSigned) - vza) * vsa;
                var db = Avx512F.ConvertToVector512Single(QuantizeMath.Widen(b + i, bSigned) - vzb) * vsb;
                var s = da + db;
                if (relu) s = Avx512F.Max(s, Vector512<float>.Zero);
                Avx512F.ConvertToVector128Byte(QuantizeMath.QuantizeVector(s, vsy, vlo, vhi, vzy)).Store(y + i);
            }
        }
        for (; i < count; i++)
        {
            float da = (float)((aSigned ? (sbyte)a[i] : a[i]) - za) * sa;
            float db = (float)((bSigned ? (sbyte)b[i] : b[i]) - zb) * sb;
            float s = da + db;
            if (relu) s = Math.Max(s, 0f);
            y[i] = (byte)QuantizeMath.QuantizeOne(s, sy, zy, lo, hi);
        }
    }
}
