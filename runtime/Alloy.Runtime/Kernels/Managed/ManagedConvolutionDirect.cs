using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// A convolution group with few output channels on wide output rows (the first layers of a CNN), without im2col:
/// the input channels of the group are copied once into zero-padded column phases (<see cref="PhaseLayout"/>), where
/// the taps of a tap index k = (c, kh, kw) for 16 consecutive outputs of one output row are 16 consecutive floats.
/// An 8-channel × 32-column register tile then runs over the whole reduction with the weights' packed A panels, loading
/// its B vectors straight from the phases — where the GEMM path would pack every im2col element once for only M/8
/// uses. AVX-512 only.
/// <para>Numerics: as the GEMM path — per output, one fused multiply-add per tap in ascending (c, kh, kw), padding
/// taps multiplying a zero, then the epilogue (bias, clamp) in float32.</para>
/// </summary>
internal static unsafe class DirectConvolution
{
    private const int MR = SgemmMicroKernels.MR512;

    /// <summary>
    /// Whether a group of <paramref name="mg"/> output channels on this geometry takes this path: measured faster than
    /// the packed GEMM up to 128 channels on rows of 28 or more outputs (3×3 and 7×7, stride 1 and 2).
    /// </summary>
    public static bool Applies(ManagedIsa isa, long mg, ConvGeometry g) =>
        isa == ManagedIsa.Vector512 && mg <= 128 && g.KH * g.KW > 1 && g.OW >= 24 && g.OW * g.OH >= 256;

    /// <summary>
    /// One image and group: <paramref name="a"/> the packed weights (Aᵀ panels of MR channels), <paramref name="x"/>
    /// the group's first input channel (<paramref name="cg"/> planes of H×W, f32 / bf16 / f16), <paramref name="y"/> the
    /// group's first output plane (float32).
    /// </summary>
    public static void Run(int threads, PanelView a, void* x, ElementType type, long cg, ConvGeometry g, float* y, Epilogue e)
    {
        var layout = PhaseLayout.Of(g);
        long k = cg * g.KH * g.KW, mg = a.Width, outSize = g.OH * g.OW;
        long channelFloats = layout.Floats;
        int elementSize = type == ElementType.Float ? 4 : 2;
        // 32 floats of slack: a partial last tile loads whole vectors past the last row.
        var phases = ScratchPool.Rent((cg * channelFloats + 32) * sizeof(float));
        var offsets = new long[k];
        try
        {
            nint xData = (nint)x, phaseData = phases.Pointer;
            int workers = cg * channelFloats < (1L << 15) ? 1 : threads;
            Sgemm.ParallelFor(workers, cg, c =>
                layout.Fill(ManagedIsa.Vector512, (byte*)xData + c * g.H * g.W * elementSize, type, g, (float*)phaseData + c * channelFloats));
            for (long c = 0, q = 0; c < cg; c++)
                for (long i = 0; i < g.KH; i++)
                    for (long j = 0; j < g.KW; j++, q++)
                    {
                        long col = j * g.DW;
                        offsets[q] = c * channelFloats + col % g.SW * layout.PhaseFloats + i * g.DH * layout.Width + col / g.SW;
                    }
            long panels = a.Panels, rows = g.OH;
            nint yData = (nint)y;
            int tasksWorkers = mg * outSize * k < (1L << 18) ? 1 : threads;
            Sgemm.ParallelFor(tasksWorkers, rows, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (long oh) =>
            {
                fixed (long* off = offsets)
                {
                    float* src = (float*)phaseData + oh * g.SH * layout.Width;
                    float* tile = stackalloc float[MR * 32];
                    for (long p = 0; p < panels; p++)
                    {
                        long i0 = p * MR;
                        int mw = (int)Math.Min(MR, mg - i0);
                        for (long ow = 0; ow < g.OW; ow += 32)
                        {
                            int nw = (int)Math.Min(32, g.OW - ow);
                            float* ct = (float*)yData + i0 * outSize + oh * g.OW + ow;
                            if (mw == MR && nw == 32) Tile(a, p, k, off, src + ow, ct, outSize);
                            else
                            {
                                Tile(a, p, k, off, src + ow, tile, 32);
                                for (int r = 0; r < mw; r++)
                                    for (int j = 0; j < nw; j++) ct[r * outSize + j] = tile[r * 32 + j];
                            }
                            e.Apply(ct, outSize, i0, oh * g.OW + ow, mw, nw);
                        }
                    }
                }
            });
        }
        finally
        {
            ScratchPool.Return(phases);
        }
    }

    /// <summary>MR channels × 32 columns over the whole reduction, from the phases at <paramref name="src"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile(PanelView a, long panel, long k, long* off, float* src, float* c, long ldc)
    {
        Vector512<float> c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, c60, c61, c70, c71;
        c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = c60 = c61 = c70 = c71 = Vector512<float>.Zero;
        for (long pc = 0; pc < k; pc += Sgemm.KC)
        {
            int kc = (int)Math.Min(Sgemm.KC, k - pc);
            float* ap = a.Panel(pc, panel);
            long* o = off + pc;
            for (int q = 0; q < kc; q++)
            {
                float* b = src + o[q];
                var b0 = Vector512.Load(b);
                var b1 = Vector512.Load(b + 16);
                var a0 = Vector512.Create(ap[0]);
                c00 = Avx512F.FusedMultiplyAdd(a0, b0, c00);
                c01 = Avx512F.FusedMultiplyAdd(a0, b1, c01);
                var a1 = Vector512.Create(ap[1]);
                c10 = Avx512F.FusedMultiplyAdd(a1, b0, c10);
                c11 = Avx512F.FusedMultiplyAdd(a1, b1, c11);
                var a2 = Vector512.Create(ap[2]);
                c20 = Avx512F.FusedMultiplyAdd(a2, b0, c20);
                c21 = Avx512F.FusedMultiplyAdd(a2, b1, c21);
                var a3 = Vector512.Create(ap[3]);
                c30 = Avx512F.FusedMultiplyAdd(a3, b0, c30);
                c31 = Avx512F.FusedMultiplyAdd(a3, b1, c31);
                var a4 = Vector512.Create(ap[4]);
                c40 = Avx512F.FusedMultiplyAdd(a4, b0, c40);
                c41 = Avx512F.FusedMultiplyAdd(a4, b1, c41);
                var a5 = Vector512.Create(ap[5]);
                c50 = Avx512F.FusedMultiplyAdd(a5, b0, c50);
                c51 = Avx512F.FusedMultiplyAdd(a5, b1, c51);
                var a6 = Vector512.Create(ap[6]);
                c60 = Avx512F.FusedMultiplyAdd(a6, b0, c60);
                c61 = Avx512F.FusedMultiplyAdd(a6, b1, c61);
                var a7 = Vector512.Create(ap[7]);
                c70 = Avx512F.FusedMultiplyAdd(a7, b0, c70);
                c71 = Avx512F.FusedMultiplyAdd(a7, b1, c71);
                ap += MR;
            }
        }
        c00.Store(c + 0 * ldc); c01.Store(c + 0 * ldc + 16);
        c10.Store(c + 1 * ldc); c11.Store(c + 1 * ldc + 16);
        c20.Store(c + 2 * ldc); c21.Store(c + 2 * ldc + 16);
        c30.Store(c + 3 * ldc); c31.Store(c + 3 * ldc + 16);
        c40.Store(c + 4 * ldc); c41.Store(c + 4 * ldc + 16);
        c50.Store(c + 5 * ldc); c51.Store(c + 5 * ldc + 16);
        c60.Store(c + 6 * ldc); c61.Store(c + 6 * ldc + 16);
        c70.Store(c + 7 * ldc); c71.Store(c + 7 * ldc + 16);
    }
}
