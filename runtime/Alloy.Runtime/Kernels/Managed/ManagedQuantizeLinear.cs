using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Alloy.Runtime.Numerics;

namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// The element-wise arithmetic of per-tensor quantisation on float32, vectorised and bit-exact with the reference
/// QuantizeLinear / DequantizeLinear: quantise <c>q = clamp(round_half_even(x / s) + z)</c> with the division in
/// float32 and NaN mapped to 0; dequantise <c>(q − z) · s</c> as one float32 product (the integer difference is
/// exact in float32, so the reference's double product rounded to float32 is the same value).
/// </summary>
internal static unsafe class QuantizeMath
{
    public static (int Lo, int Hi) Range(ElementType t) => t == ElementType.UInt8 ? (0, 255) : (-128, 127);

    /// <summary>Quantises <paramref name="count"/> floats; <paramref name="relu"/> first clamps negatives to 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Quantize(float* x, int count, float scale, int zeroPoint, ElementType type, byte* y)
    {
        var (lo, hi) = Range(type);
        int i = 0;
        if (Avx512F.IsSupported)
        {
            var vs = Vector512.Create(scale);
            var vlo = Vector512.Create((float)(lo - zeroPoint));
            var vhi = Vector512.Create((float)(hi - zeroPoint));
            var vz = Vector512.Create(zeroPoint);
            for (; i + 16 <= count; i += 16)
                Avx512F.ConvertToVector128Byte(QuantizeVector(Vector512.Load(x + i), vs, vlo, vhi, vz)).Store(y + i);
        }
        for (; i < count; i++) y[i] = (byte)QuantizeOne(x[i], scale, zeroPoint, lo, hi);
    }

    /// <summary>16 quantised values as int32 (NaN → 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> QuantizeVector(Vector512<float> v, Vector512<float> scale, Vector512<float> lo, Vector512<float> hi, Vector512<int> zp)
    {
        var q = Avx512F.Divide(v, scale);
        var ordered = Vector512.Equals(q, q).AsInt32();
        q = Avx512F.Min(Avx512F.Max(q, lo), hi);
        // cvtps2dq rounds with MXCSR's mode: round half to even; the bounds are integers, so clamping first is the same.
        return Avx512F.ConvertToVector512Int32(q) + zp & ordered;
    }

    public static int QuantizeOne(float x, float scale, int zeroPoint, int lo, int hi)
    {
        float q = x / scale;
        if (float.IsNaN(q)) return 0;
        double r = Math.Round((double)q, MidpointRounding.ToEven) + zeroPoint;
        return r <= lo ? lo : r >= hi ? hi : (int)r;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dequantize(byte* x, bool signed, int count, float scale, int zeroPoint, float* y)
    {
        int i = 0;
        if (Avx512F.IsSupported)
        {
            var vs = Vector512.Create(scale);
            var vz = Vector512.Create(zeroPoint);
            for (; i + 16 <= count; i += 16)
                (Widen(x + i, signed) - vz).ConvertToSingle().Multiply(vs).Store(y + i);
        }
        for (; i < count; i++) y[i] = (float)((signed ? (sbyte)x[i] : x[i]) - zeroPoint) * scale;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> Widen(byte* x, bool signed) => signed
        ? Avx512F.ConvertToVector512Int32(Vector128.Load((sbyte*)x))
        : Avx512F.ConvertToVector512Int32(Vector128.Load(x));

    private static Vector512<float> ConvertToSingle(this Vector512<int> v) => Avx512F.ConvertToVector512Single(v);
    private static Vector512<float> Multiply(this Vector512<float> a, Vector512<float> b) => a * b;

    /// <summary>A per-tensor scale / zero point pair (scale float32 of one element, zero point of one element or none).</summary>
    public static bool PerTensor(Tensor scale, Tensor? zeroPoint) =>
        scale.Type == ElementType.Float && scale.Length == 1 && scale.Rank <= 1 && (zeroPoint is null || (zeroPoint.Length == 1 && zeroPoint.Rank <= 1));
}

/// <summary>QuantizeLinear float32 → uint8 / int8 with a per-tensor scale; everything else runs the reference.</summary>
internal sealed unsafe class QuantizeLinearKernel(IKernel fallback, long outputDtype) : IKernel
{
    public static IKernel Create(KernelNode n, IKernel fallback) =>
        n.Attributes.GetInt("block_size", 0) != 0 ? fallback : new QuantizeLinearKernel(fallback, n.Attributes.GetInt("output_dtype", 0));

    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        if (inputs.Length < 2 || inputs[0] is not { Type: ElementType.Float } x || inputs[1] is not { } scale)
        {
            fallback.Run(context, inputs, outputs);
            return;
        }
        var zp = inputs.Length > 2 ? inputs[2] : null;
        var type = zp?.Type ?? (outputDtype != 0 ? (ElementType)outputDtype : ElementType.UInt8);
        if (!QuantizeMath.PerTensor(scale, zp) || type is not (ElementType.UInt8 or ElementType.Int8)
            || (outputDtype != 0 && (ElementType)outputDtype != type) || x.Length > int.MaxValue)
        {
            fallback.Run(context, inputs, outputs);
            return;
        }
        var y = Tensor.Create(type, x.Shape);
        QuantizeMath.Quantize((float*)x.Pointer, (int)x.Length, scale.Span<float>()[0], zp is null ? 0 : (int)ElementConvert.GetLong(zp, 0), type, (byte*)y.Pointer);
        outputs[0] = y;
    }
}

/// <summary>DequantizeLinear uint8 / int8 → float32 with a per-tensor scale; everything else runs the reference.</summary>
internal sealed unsafe class DequantizeLinearKernel(IKernel fallback) : IKernel
{
    public static IKernel Create(KernelNode n, IKernel fallback) =>
        n.Attributes.GetInt("block_size", 0) != 0 || n.Attributes.GetInt("output_dtype", 0) is not (0 or (long)ElementType.Float)
            ? fallback : new DequantizeLinearKernel(fallback);

    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var zp = inputs.Length > 2 ? inputs[2] : null;
        if (inputs.Length < 2 || inputs[0] is not { Type: ElementType.UInt8 or ElementType.Int8 } x || inputs[1] is not { } scale
            || !QuantizeMath.PerTensor(scale, zp) || (zp is not null && zp.Type != x.Type) || x.Length > int.MaxValue)
        {
            fallback.Run(context, inputs, outputs);
            return;
        }
        var y = Tensor.Create(ElementType.Float, x.Shape);
        QuantizeMath.Dequantize((byte*)x.Pointer, x.Type == ElementType.Int8, (int)x.Length, scale.Span<float>()[0],
            zp is null ? 0 : (int)ElementConvert.GetLong(zp, 0), (float*)y.Pointer);
        outputs[0] = y;
    }
}
