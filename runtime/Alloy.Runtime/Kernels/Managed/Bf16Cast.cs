using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// Cast between float32 and bfloat16, vectorized: f32 → bf16 rounds once to nearest, ties to even
/// (<see cref="ManagedConvert.Narrow"/>, bit-exact with <see cref="Numerics.BFloat16.FromFloat"/>: NaN stays a quiet
/// NaN with its sign and top payload bits, values past the largest bf16 plus half an ulp become infinity); bf16 → f32
/// is a 16-bit left shift, with a signalling NaN made quiet as the reference's conversion through double does.
/// Every other Cast (other types, or a node whose input type is only known at run time and turns out different)
/// runs the reference kernel.
/// </summary>
internal static class Bf16Cast
{
    public static void Register(KernelRegistry r, ManagedIsa isa) =>
        r.Register("Cast", (KernelNode n, out string? reason) =>
        {
            var fallback = ManagedKernels.CreateReference(n, out reason);
            if (fallback is null || !n.Attributes.Has("to")) return fallback;
            long to = n.Attributes.GetInt("to");
            if (to != (long)ElementType.BFloat16 && to != (long)ElementType.Float) return fallback;
            var from = n.InputTypes.Count > 0 ? n.InputTypes[0] : null;
            if (from is { } f && f != ElementType.Float && f != ElementType.BFloat16) return fallback;
            return new Kernel(isa, (ElementType)to, fallback);
        });

    private sealed unsafe class Kernel(ManagedIsa isa, ElementType to, IKernel fallback) : IKernel
    {
        public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
        {
            if (inputs.Length != 1 || inputs[0] is not { } x
                || !((x.Type == ElementType.Float && to == ElementType.BFloat16) || (x.Type == ElementType.BFloat16 && to == ElementType.Float)))
            {
                fallback.Run(context, inputs, outputs);
                return;
            }
            var y = Tensor.CreateUninitialized(to, x.Shape);
            if (to == ElementType.BFloat16) ManagedConvert.Narrow(isa, ElementType.BFloat16, (float*)x.Pointer, y.Pointer, x.Length);
            else WidenQuietingNaN(isa, (ushort*)x.Pointer, (float*)y.Pointer, x.Length);
            outputs[0] = y;
        }
    }

    /// <summary>
    /// bf16 → f32 as the reference Cast computes it (through double, which makes a signalling NaN quiet): the bits
    /// shifted left by 16, and the quiet bit set on NaNs.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void WidenQuietingNaN(ManagedIsa isa, ushort* s, float* dst, long count)
    {
        long i = 0;
        if (isa == ManagedIsa.Vector512)
            for (; i + 32 <= count; i += 32)
            {
                var (lo, hi) = Vector512.Widen(Vector512.Load(s + i));
                Quiet(Vector512.ShiftLeft(lo, 16)).AsSingle().Store(dst + i);
                Quiet(Vector512.ShiftLeft(hi, 16)).AsSingle().Store(dst + i + 16);
            }
        else if (isa == ManagedIsa.Vector256)
            for (; i + 16 <= count; i += 16)
            {
                var (lo, hi) = Vector256.Widen(Vector256.Load(s + i));
                Quiet(Vector256.ShiftLeft(lo, 16)).AsSingle().Store(dst + i);
                Quiet(Vector256.ShiftLeft(hi, 16)).AsSingle().Store(dst + i + 8);
            }
        for (; i < count; i++)
        {
            uint bits = (uint)s[i] << 16;
            if ((bits & 0x7FFF_FFFF) > 0x7F80_0000) bits |= 0x0040_0000;
            dst[i] = BitConverter.UInt32BitsToSingle(bits);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> Quiet(Vector512<uint> bits) =>
        bits | (Vector512.GreaterThan(bits & Vector512.Create(0x7FFF_FFFFu), Vector512.Create(0x7F80_0000u)) & Vector512.Create(0x0040_0000u));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> Quiet(Vector256<uint> bits) =>
        bits | (Vector256.GreaterThan(bits & Vector256.Create(0x7FFF_FFFFu), Vector256.Create(0x7F80_0000u)) & Vector256.Create(0x0040_0000u));
}
