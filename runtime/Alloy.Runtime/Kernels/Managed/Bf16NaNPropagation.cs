using System.Runtime.Intrinsics;

namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// Which NaN a bf16 add / sub / mul / div returns, as the reference computes it: the first operand's when it is a
/// NaN, else the second's when that is one (made quiet, sign and payload kept), else the default NaN of an invalid
/// operation. Vector code may swap the operands of a commutative instruction, which changes the NaN returned when
/// both are NaNs; this pass puts the reference's NaN back into every NaN result of a broadcast binary op. Results
/// without NaNs are left untouched, and a tensor without NaN results costs one vectorized scan.
/// </summary>
internal static unsafe class Bf16NaNPropagation
{
    public static void Apply(Tensor a, Tensor b, Tensor y)
    {
        ushort* py = (ushort*)y.Pointer;
        long n = y.Length;
        if (!AnyNaN(py, n)) return;
        ushort* pa = (ushort*)a.Pointer, pb = (ushort*)b.Pointer;
        int rank = y.Rank;
        var sa = BroadcastStrides(a.Shape, y.Shape);
        var sb = BroadcastStrides(b.Shape, y.Shape);
        for (long i = 0; i < n; i++)
        {
            if ((py[i] & 0x7FFF) <= 0x7F80) continue;
            long ia = 0, ib = 0, rest = i;
            for (int d = rank - 1; d >= 0; d--)
            {
                long dim = y.Shape[d];
                long k = rest % dim;
                rest /= dim;
                ia += k * sa[d];
                ib += k * sb[d];
            }
            ushort va = pa[ia], vb = pb[ib];
            if ((va & 0x7FFF) > 0x7F80) py[i] = (ushort)(va | 0x40);
            else if ((vb & 0x7FFF) > 0x7F80) py[i] = (ushort)(vb | 0x40);
        }
    }

    private static bool AnyNaN(ushort* p, long n)
    {
        long i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var mask = Vector256.Create((ushort)0x7FFF);
            var inf = Vector256.Create((ushort)0x7F80);
            var any = Vector256<ushort>.Zero;
            for (; i + 16 <= n; i += 16) any |= Vector256.GreaterThan(Vector256.Load(p + i) & mask, inf);
            if (any != Vector256<ushort>.Zero) return true;
        }
        for (; i < n; i++)
            if ((p[i] & 0x7FFF) > 0x7F80) return true;
        return false;
    }

    /// <summary>Element strides of <paramref name="shape"/> right-aligned to <paramref name="output"/>, 0 on broadcast dims.</summary>
    private static long[] BroadcastStrides(long[] shape, long[] output)
    {
        var strides = new long[output.Length];
        long stride = 1;
        for (int d = output.Length - 1, s = shape.Length - 1; d >= 0; d--, s--)
        {
            long dim = s >= 0 ? shape[s] : 1;
            strides[d] = dim == 1 ? 0 : stride;
            stride *= dim;
        }
        return strides;
    }
}
