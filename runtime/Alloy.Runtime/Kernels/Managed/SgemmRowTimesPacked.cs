using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// One row of A times a B that was packed when the plan was compiled (a classifier's <c>Gemm</c> on a batch of one:
/// mobilenet's 1280→1000, resnet's 512→1000). The general path would pad the single row to a register tile of
/// <see cref="SgemmMicroKernels.MR512"/> rows and waste seven eighths of its multiply-adds; here each step
/// broadcasts one a[k] and multiplies it into four packed panels at once (128 outputs in eight zmm accumulators, so
/// the fused multiply-adds of one step are independent), reading B once, in the order it is stored.
/// <para>Numerics: every output is the float32 sum of its products in ascending k, one fused multiply-add per
/// product (K blocks continue from the running sums), the same sums as the tiled path and the reference.</para>
/// </summary>
internal static unsafe class SgemmRowTimesPacked
{
    /// <summary>Panels (of <see cref="SgemmMicroKernels.NR512"/> columns) one task multiplies together.</summary>
    private const int PanelsPerTask = 4;

    /// <summary>Whether this path computes <c>1×K · K×N</c> with these operands.</summary>
    public static bool Applies(ManagedIsa isa, long m, long n, long k, StridedMatrix a, PanelView? packedB) =>
        m == 1 && isa == ManagedIsa.Vector512 && a.Type == ElementType.Float
        && packedB is { PanelWidth: SgemmMicroKernels.NR512 } pb && pb.K == k && pb.Width == n;

    /// <summary>c[j] = epilogue(Σ_k a[k]·B[k, j]) for j in [0, n), B given as packed panels.</summary>
    public static void Multiply(int threads, long n, long k, StridedMatrix a, PanelView b, float* c, Epilogue e)
    {
        nint aData = (nint)a.Data, cData = (nint)c;
        long aStride = a.ColStride, panels = b.Panels, tasks = (panels + PanelsPerTask - 1) / PanelsPerTask;
        Sgemm.ParallelFor(n * k < Sgemm.ParallelThreshold ? 1 : threads, tasks, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (long task) =>
        {
            float* sums = stackalloc float[PanelsPerTask * SgemmMicroKernels.NR512];
            long q0 = task * PanelsPerTask;
            int count = (int)Math.Min(PanelsPerTask, panels - q0);
            if (count == PanelsPerTask) FourPanels((float*)aData, aStride, b, k, q0, sums);
            else
                for (int q = 0; q < count; q++) OnePanel((float*)aData, aStride, b, k, q0 + q, sums + q * SgemmMicroKernels.NR512);
            long j0 = q0 * SgemmMicroKernels.NR512;
            int width = (int)Math.Min((long)count * SgemmMicroKernels.NR512, n - j0);
            float* o = (float*)cData + j0;
            new ReadOnlySpan<float>(sums, width).CopyTo(new Span<float>(o, width));
            e.Apply(o, 0, 0, j0, 1, width);
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FourPanels(float* a, long aStride, PanelView b, long k, long q0, float* sums)
    {
        var c0 = Vector512<float>.Zero; var c1 = c0; var c2 = c0; var c3 = c0; var c4 = c0; var c5 = c0; var c6 = c0; var c7 = c0;
        for (long pc = 0; pc < k; pc += Sgemm.KC)
        {
            int kc = (int)Math.Min(Sgemm.KC, k - pc);
            float* p = b.Panel(pc, q0);
            long step = (long)SgemmMicroKernels.NR512 * kc;
            float* ak = a + pc * aStride;
            for (int kk = 0; kk < kc; kk++, p += SgemmMicroKernels.NR512, ak += aStride)
            {
                var x = Vector512.Create(*ak);
                c0 = Avx512F.FusedMultiplyAdd(x, Vector512.Load(p), c0);
                c1 = Avx512F.FusedMultiplyAdd(x, Vector512.Load(p + 16), c1);
                c2 = Avx512F.FusedMultiplyAdd(x, Vector512.Load(p + step), c2);
                c3 = Avx512F.FusedMultiplyAdd(x, Vector512.Load(p + step + 16), c3);
                c4 = Avx512F.FusedMultiplyAdd(x, Vector512.Load(p + 2 * step), c4);
                c5 = Avx512F.FusedMultiplyAdd(x, Vector512.Load(p + 2 * step + 16), c5);
                c6 = Avx512F.FusedMultiplyAdd(x, Vector512.Load(p + 3 * step), c6);
                c7 = Avx512F.FusedMultiplyAdd(x, Vector512.Load(p + 3 * step + 16), c7);
            }
        }
        c0.Store(sums); c1.Store(sums + 16); c2.Store(sums + 32); c3.Store(sums + 48);
        c4.Store(sums + 64); c5.Store(sums + 80); c6.Store(sums + 96); c7.Store(sums + 112);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OnePanel(float* a, long aStride, PanelView b, long k, long q, float* sums)
    {
        var c0 = Vector512<float>.Zero; var c1 = c0;
        for (long pc = 0; pc < k; pc += Sgemm.KC)
        {
            int kc = (int)Math.Min(Sgemm.KC, k - pc);
            float* p = b.Panel(pc, q);
            float* ak = a + pc * aStride;
            for (int kk = 0; kk < kc; kk++, p += SgemmMicroKernels.NR512, ak += aStride)
            {
                var x = Vector512.Create(*ak);
                c0 = Avx512F.FusedMultiplyAdd(x, Vector512.Load(p), c0);
                c1 = Avx512F.FusedMultiplyAdd(x, Vector512.Load(p + 16), c1);
            }
        }
        c0.Store(sums); c1.Store(sums + 16);
    }
}
