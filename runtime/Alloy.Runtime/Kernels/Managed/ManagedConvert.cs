using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// Widening of f32 / bf16 / f16 data to float32 (exact: every bf16 and f16 value is a float32 value) and narrowing
/// of float32 results back with one rounding to nearest, ties to even (bf16 exactly as
/// <see cref="Numerics.BFloat16.FromFloat"/>, f16 exactly as the <see cref="Half"/> conversion). The contiguous
/// forms are vectorized with <see cref="Vector512"/> / <see cref="Vector256"/> as the caller's ISA allows.
/// </summary>
internal static unsafe class ManagedConvert
{
    private const float TwoPow112 = 5.192296858534827628530496329220096e33f; // 2^112, exact

    /// <summary>The element types the managed kernels compute on (everything else goes to the reference kernels).</summary>
    public static bool IsSupported(ElementType t) => t is ElementType.Float or ElementType.BFloat16 or ElementType.Float16;

    /// <summary>Element <paramref name="i"/> of f32 / bf16 / f16 data, widened to float32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load(ElementType t, void* p, long i) => t switch
    {
        ElementType.Float => ((float*)p)[i],
        ElementType.BFloat16 => BitConverter.UInt32BitsToSingle((uint)((ushort*)p)[i] << 16),
        _ => (float)BitConverter.UInt16BitsToHalf(((ushort*)p)[i]),
    };

    /// <summary><paramref name="dst"/>[j] = element <paramref name="offset"/> + j·<paramref name="stride"/>, widened, for j &lt; <paramref name="count"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Copy(ManagedIsa isa, ElementType t, void* src, long offset, long stride, float* dst, int count)
    {
        if (count <= 0) return;
        if (stride == 1)
        {
            Widen(isa, t, t == ElementType.Float ? (float*)src + offset : (ushort*)src + offset, dst, count);
            return;
        }
        switch (t)
        {
            case ElementType.Float:
            {
                float* s = (float*)src + offset;
                for (int j = 0; j < count; j++) dst[j] = s[j * stride];
                break;
            }
            case ElementType.BFloat16:
            {
                ushort* s = (ushort*)src + offset;
                for (int j = 0; j < count; j++) dst[j] = BitConverter.UInt32BitsToSingle((uint)s[j * stride] << 16);
                break;
            }
            default:
            {
                ushort* s = (ushort*)src + offset;
                for (int j = 0; j < count; j++) dst[j] = (float)BitConverter.UInt16BitsToHalf(s[j * stride]);
                break;
            }
        }
    }

    /// <summary>Widens <paramref name="count"/> contiguous elements starting at <paramref name="src"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Widen(ManagedIsa isa, ElementType t, void* src, float* dst, long count)
    {
        long i = 0;
        switch (t)
        {
            case ElementType.Float:
                Buffer.MemoryCopy(src, dst, count * 4, count * 4);
                return;
            case ElementType.BFloat16:
            {
                ushort* s = (ushort*)src;
                if (isa == ManagedIsa.Vector512)
                    for (; i + 32 <= count; i += 32)
                    {
                        var (lo, hi) = Vector512.Widen(Vector512.Load(s + i));
                        Vector512.ShiftLeft(lo, 16).AsSingle().Store(dst + i);
                        Vector512.ShiftLeft(hi, 16).AsSingle().Store(dst + i + 16);
                    }
                else if (isa == ManagedIsa.Vector256)
                    for (; i + 16 <= count; i += 16)
                    {
                        var (lo, hi) = Vector256.Widen(Vector256.Load(s + i));
                        Vector256.ShiftLeft(lo, 16).AsSingle().Store(dst + i);
                        Vector256.ShiftLeft(hi, 16).AsSingle().Store(dst + i + 8);
                    }
                for (; i < count; i++) dst[i] = BitConverter.UInt32BitsToSingle((uint)s[i] << 16);
                return;
            }
            case ElementType.Float16:
            {
                ushort* s = (ushort*)src;
                if (isa == ManagedIsa.Vector512)
                    for (; i + 32 <= count; i += 32)
                    {
                        var (lo, hi) = Vector512.Widen(Vector512.Load(s + i));
                        HalfBitsToSingle(lo).Store(dst + i);
                        HalfBitsToSingle(hi).Store(dst + i + 16);
                    }
                else if (isa == ManagedIsa.Vector256)
                    for (; i + 16 <= count; i += 16)
                    {
                        var (lo, hi) = Vector256.Widen(Vector256.Load(s + i));
                        HalfBitsToSingle(lo).Store(dst + i);
                        HalfBitsToSingle(hi).Store(dst + i + 8);
                    }
                for (; i < count; i++) dst[i] = (float)BitConverter.UInt16BitsToHalf(s[i]);
                return;
            }
            default:
                throw new Numerics.KernelTypeException(t);
        }
    }

    // f16 bits (zero-extended to 32) → float32, exactly: the exponent/fraction bits shifted into float32 position
    // and scaled by 2^112 (exact for normals and subnormals); infinities and NaNs get the all-ones exponent back.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> HalfBitsToSingle(Vector512<uint> h)
    {
        var em = h & Vector512.Create(0x7FFFu);
        var f = Vector512.ShiftLeft(em, 13).AsSingle() * Vector512.Create(TwoPow112);
        var special = Vector512.GreaterThanOrEqual(em, Vector512.Create(0x7C00u));
        var bits = f.AsUInt32() | (special & Vector512.Create(0x7F80_0000u));
        return (bits | Vector512.ShiftLeft(h & Vector512.Create(0x8000u), 16)).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> HalfBitsToSingle(Vector256<uint> h)
    {
        var em = h & Vector256.Create(0x7FFFu);
        var f = Vector256.ShiftLeft(em, 13).AsSingle() * Vector256.Create(TwoPow112);
        var special = Vector256.GreaterThanOrEqual(em, Vector256.Create(0x7C00u));
        var bits = f.AsUInt32() | (special & Vector256.Create(0x7F80_0000u));
        return (bits | Vector256.ShiftLeft(h & Vector256.Create(0x8000u), 16)).AsSingle();
    }

    /// <summary>Stores <paramref name="count"/> float32 values into f32 / bf16 / f16 data, each rounded once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Narrow(ManagedIsa isa, ElementType t, float* src, void* dst, long count)
    {
        long i = 0;
        switch (t)
        {
            case ElementType.Float:
                if (src != dst) Buffer.MemoryCopy(src, dst, count * 4, count * 4);
                return;
            case ElementType.BFloat16:
            {
                ushort* d = (ushort*)dst;
                if (isa == ManagedIsa.Vector512)
                    for (; i + 32 <= count; i += 32)
                        Vector512.Narrow(RoundToBFloat16(Vector512.Load(src + i)), RoundToBFloat16(Vector512.Load(src + i + 16))).Store(d + i);
                else if (isa == ManagedIsa.Vector256)
                    for (; i + 16 <= count; i += 16)
                        Vector256.Narrow(RoundToBFloat16(Vector256.Load(src + i)), RoundToBFloat16(Vector256.Load(src + i + 8))).Store(d + i);
                for (; i < count; i++) d[i] = Numerics.BFloat16.FromFloat(src[i]).Bits;
                return;
            }
            case ElementType.Float16:
            {
                ushort* d = (ushort*)dst;
                for (; i < count; i++) d[i] = BitConverter.HalfToUInt16Bits((Half)src[i]);
                return;
            }
            default:
                throw new Numerics.KernelTypeException(t);
        }
    }

    // The bf16 bit pattern (in the low 16 bits) of each float, as BFloat16.FromFloat computes it.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> RoundToBFloat16(Vector512<float> v)
    {
        var bits = v.AsUInt32();
        var rounded = Vector512.ShiftRightLogical(bits + Vector512.Create(0x7FFFu) + (Vector512.ShiftRightLogical(bits, 16) & Vector512.Create(1u)), 16);
        var nan = Vector512.GreaterThan(bits & Vector512.Create(0x7FFF_FFFFu), Vector512.Create(0x7F80_0000u));
        return Vector512.ConditionalSelect(nan, Vector512.ShiftRightLogical(bits, 16) | Vector512.Create(0x40u), rounded);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> RoundToBFloat16(Vector256<float> v)
    {
        var bits = v.AsUInt32();
        var rounded = Vector256.ShiftRightLogical(bits + Vector256.Create(0x7FFFu) + (Vector256.ShiftRightLogical(bits, 16) & Vector256.Create(1u)), 16);
        var nan = Vector256.GreaterThan(bits & Vector256.Create(0x7FFF_FFFFu), Vector256.Create(0x7F80_0000u));
        return Vector256.ConditionalSelect(nan, Vector256.ShiftRightLogical(bits, 16) | Vector256.Create(0x40u), rounded);
    }

    /// <summary>A tensor's elements widened into a new float array (small operands: bias, Gemm's C).</summary>
    public static float[] ToFloats(ManagedIsa isa, Tensor t)
    {
        var r = new float[t.Length];
        fixed (float* d = r) Widen(isa, t.Type, t.Pointer, d, t.Length);
        return r;
    }
}
