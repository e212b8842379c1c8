using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// Add / Sub / Mul / Div of two bf16 tensors of one shape (residual connections) in one pass: each 32 (AVX-512) or
/// 16 (AVX2) elements are widened in registers (a 16-bit shift), combined in float32 and rounded once to bf16 as
/// <see cref="Numerics.BFloat16.FromFloat"/> does (add 0x7FFF plus the lowest kept bit, shift; NaN made quiet): the
/// numerics of <see cref="Bf16ViaFloat32"/> without its float32 temporaries.
/// </summary>
internal static unsafe class Bf16SameShapeBinary
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Apply(ManagedIsa isa, ManagedElementwise.BinaryOp op, ushort* a, ushort* b, ushort* y, long n)
    {
        long i = 0;
        if (isa == ManagedIsa.Vector512)
            for (; i + 32 <= n; i += 32)
            {
                var (al, ah) = Vector512.Widen(Vector512.Load(a + i));
                var (bl, bh) = Vector512.Widen(Vector512.Load(b + i));
                var lo = Op(op, Vector512.ShiftLeft(al, 16).AsSingle(), Vector512.ShiftLeft(bl, 16).AsSingle());
                var hi = Op(op, Vector512.ShiftLeft(ah, 16).AsSingle(), Vector512.ShiftLeft(bh, 16).AsSingle());
                Vector512.Narrow(Round(lo), Round(hi)).Store(y + i);
            }
        else if (isa == ManagedIsa.Vector256)
            for (; i + 16 <= n; i += 16)
            {
                var (al, ah) = Vector256.Widen(Vector256.Load(a + i));
                var (bl, bh) = Vector256.Widen(Vector256.Load(b + i));
                var lo = Op(op, Vector256.ShiftLeft(al, 16).AsSingle(), Vector256.ShiftLeft(bl, 16).AsSingle());
                var hi = Op(op, Vector256.ShiftLeft(ah, 16).AsSingle(), Vector256.ShiftLeft(bh, 16).AsSingle());
                Vector256.Narrow(Round(lo), Round(hi)).Store(y + i);
            }
        for (; i < n; i++)
        {
            float fa = BitConverter.UInt32BitsToSingle((uint)a[i] << 16), fb = BitConverter.UInt32BitsToSingle((uint)b[i] << 16);
            float r = op switch
            {
                ManagedElementwise.BinaryOp.Add => fa + fb,
                ManagedElementwise.BinaryOp.Sub => fa - fb,
                ManagedElementwise.BinaryOp.Mul => fa * fb,
                _ => fa / fb,
            };
            y[i] = Numerics.BFloat16.FromFloat(r).Bits;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Op(ManagedElementwise.BinaryOp op, Vector512<float> a, Vector512<float> b) => op switch
    {
        ManagedElementwise.BinaryOp.Add => a + b,
        ManagedElementwise.BinaryOp.Sub => a - b,
        ManagedElementwise.BinaryOp.Mul => a * b,
        _ => a / b,
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Op(ManagedElementwise.BinaryOp op, Vector256<float> a, Vector256<float> b) => op switch
    {
        ManagedElementwise.BinaryOp.Add => a + b,
        ManagedElementwise.BinaryOp.Sub => a - b,
        ManagedElementwise.BinaryOp.Mul => a * b,
        _ => a / b,
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> Round(Vector512<float> v)
    {
        var bits = v.AsUInt32();
        var rounded = Vector512.ShiftRightLogical(bits + Vector512.Create(0x7FFFu) + (Vector512.ShiftRightLogical(bits, 16) & Vector512.Create(1u)), 16);
        var nan = Vector512.GreaterThan(bits & Vector512.Create(0x7FFF_FFFFu), Vector512.Create(0x7F80_0000u));
        return Vector512.ConditionalSelect(nan, Vector512.ShiftRightLogical(bits, 16) | Vector512.Create(0x40u), rounded);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> Round(Vector256<float> v)
    {
        var bits = v.AsUInt32();
        var rounded = Vector256.ShiftRightLogical(bits + Vector256.Create(0x7FFFu) + (Vector256.ShiftRightLogical(bits, 16) & Vector256.Create(1u)), 16);
        var nan = Vector256.GreaterThan(bits & Vector256.Create(0x7FFF_FFFFu), Vector256.Create(0x7F80_0000u));
        return Vector256.ConditionalSelect(nan, Vector256.ShiftRightLogical(bits, 16) | Vector256.Create(0x40u), rounded);
    }
}
