using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// A convolution group with few output channels on wide output rows (the first layers of a CNN), without im2col:
/// the input channels of the group are copied once into zero-padded column phases (<see cref="PhaseLayout"/>), where
/// the taps of a tap index k = (c, kh, kw) for 16 consecutive outputs of one output row are 16 consecutive floats.
/// An 8-channel × 32-column register tile (16 columns for the last outputs of a row) then runs over the whole
/// reduction with the weights' packed A panels, loading
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
    /// the packed GEMM up to 128 channels on rows of 28 or more outputs (3×3 and 7×7, stride 1 and 2), and on planes of
    /// 12 to 16 outputs square, whose rows are one 16-column tile (at least 75% of it used): resnet18_w32's 14×14
    /// stage, 128 channels, 0.65 instead of 0.78 ms on one thread and about 0.4 instead of 0.55 ms on two, since
    /// its 14 rows split evenly where the GEMM's 7 column panels do not. Rows of 17 to 23 outputs would leave a
    /// mostly empty tile, rows of 7 more than half of one (resnet18_w32's 7×7 stage ran 1.5x slower direct).
    /// </summary>
    public static bool Applies(ManagedIsa isa, long mg, ConvGeometry g) =>
        isa == ManagedIsa.Vector512 && mg <= 128 && g.KH * g.KW > 1
        && ((g.OW >= 24 && g.OW * g.OH >= 256) || (g.OW is >= 12 and <= 16 && g.OH >= 12));

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
            // The epilogue of a convolution: a bias per output channel (row), then the clamp.
            bool rowBias = e.Alpha == 1 && (e.Bias == null || (e.Beta == 1 && e.BiasRowStride == 1 && e.BiasColStride == 0));
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
                            // Full channel panels add the bias and clamp in registers; a partial one through the epilogue.
                            bool inRegisters = mw == MR && rowBias;
                            float* bias = inRegisters && e.Bias != null ? e.Bias + i0 : null;
                            var clamp = inRegisters ? e.Clamp : default;
                            if (mw == MR && nw == 32) Tile(a, p, k, off, src + ow, ct, outSize, bias, clamp);
                            else if (mw == MR && nw == 16) Tile16(a, p, k, off, src + ow, ct, outSize, bias, clamp);
                            else
                            {
                                // A partial tile: a 16-column tile when the row has at most 16 outputs left.
                                if (nw <= 16) Tile16(a, p, k, off, src + ow, tile, 32, bias, clamp);
                                else Tile(a, p, k, off, src + ow, tile, 32, bias, clamp);
                                for (int r = 0; r < mw; r++)
                                    for (int j = 0; j < nw; j++) ct[r * outSize + j] = tile[r * 32 + j];
                            }
                            if (!inRegisters) e.Apply(ct, outSize, i0, oh * g.OW + ow, mw, nw);
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

    /// <summary>MR channels × 16 columns over the whole reduction (the last outputs of a row).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile16(PanelView a, long panel, long k, long* off, float* src, float* c, long ldc, float* bias, ActivationClamp clamp)
    {
        Vector512<float> c0, c1, c2, c3, c4, c5, c6, c7;
        c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = Vector512<float>.Zero;
        for (long pc = 0; pc < k; pc += Sgemm.KC)
        {
            int kc = (int)Math.Min(Sgemm.KC, k - pc);
            float* ap = a.Panel(pc, panel);
            long* o = off + pc;
            for (int q = 0; q < kc; q++)
            {
                var b = Vector512.Load(src + o[q]);
                c0 = Avx512F.FusedMultiplyAdd(Vector512.Create(ap[0]), b, c0);
                c1 = Avx512F.FusedMultiplyAdd(Vector512.Create(ap[1]), b, c1);
                c2 = Avx512F.FusedMultiplyAdd(Vector512.Create(ap[2]), b, c2);
                c3 = Avx512F.FusedMultiplyAdd(Vector512.Create(ap[3]), b, c3);
                c4 = Avx512F.FusedMultiplyAdd(Vector512.Create(ap[4]), b, c4);
                c5 = Avx512F.FusedMultiplyAdd(Vector512.Create(ap[5]), b, c5);
                c6 = Avx512F.FusedMultiplyAdd(Vector512.Create(ap[6]), b, c6);
                c7 = Avx512F.FusedMultiplyAdd(Vector512.Create(ap[7]), b, c7);
                ap += MR;
            }
        }
        if (bias != null)
        {
            c0 += Vector512.Create(bias[0]); c1 += Vector512.Create(bias[1]); c2 += Vector512.Create(bias[2]); c3 += Vector512.Create(bias[3]);
            c4 += Vector512.Create(bias[4]); c5 += Vector512.Create(bias[5]); c6 += Vector512.Create(bias[6]); c7 += Vector512.Create(bias[7]);
        }
        if (clamp.Enabled)
        {
            var lo = Vector512.Create(clamp.Lo);
            var hi = Vector512.Create(clamp.Hi);
            c0 = Vector512.Min(Vector512.Max(c0, lo), hi); c1 = Vector512.Min(Vector512.Max(c1, lo), hi);
            c2 = Vector512.Min(Vector512.Max(c2, lo), hi); c3 = Vector512.Min(Vector512.Max(c3, lo), hi);
            c4 = Vector512.Min(Vector512.Max(c4, lo), hi); c5 = Vector512.Min(Vector512.Max(c5, lo), hi);
            c6 = Vector512.Min(Vector512.Max(c6, lo), hi); c7 = Vector512.Min(Vector512.Max(c7, lo), hi);
        }
        c0.Store(c + 0 * ldc); c1.Store(c + 1 * ldc); c2.Store(c + 2 * ldc); c3.Store(c + 3 * ldc);
        c4.Store(c + 4 * ldc); c5.Store(c + 5 * ldc); c6.Store(c + 6 * ldc); c7.Store(c + 7 * ldc);
    }

    /// <summary>MR channels × 32 columns over the whole reduction, from the phases at <paramref name="src"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile(PanelView a, long panel, long k, long* off, float* src, float* c, long ldc, float* bias, ActivationClamp clamp)
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
        if (bias != null)
        {
            var b0 = Vector512.Create(bias[0]); c00 += b0; c01 += b0;
            var b1 = Vector512.Create(bias[1]); c10 += b1; c11 += b1;
            var b2 = Vector512.Create(bias[2]); c20 += b2; c21 += b2;
            var b3 = Vector512.Create(bias[3]); c30 += b3; c31 += b3;
            var b4 = Vector512.Create(bias[4]); c40 += b4; c41 += b4;
            var b5 = Vector512.Create(bias[5]); c50 += b5; c51 += b5;
            var b6 = Vector512.Create(bias[6]); c60 += b6; c61 += b6;
            var b7 = Vector512.Create(bias[7]); c70 += b7; c71 += b7;
        }
        if (clamp.Enabled)
        {
            var lo = Vector512.Create(clamp.Lo);
            var hi = Vector512.Create(clamp.Hi);
            c00 = Vector512.Min(Vector512.Max(c00, lo), hi); c01 = Vector512.Min(Vector512.Max(c01, lo), hi);
            c10 = Vector512.Min(Vector512.Max(c10, lo), hi); c11 = Vector512.Min(Vector512.Max(c11, lo), hi);
            c20 = Vector512.Min(Vector512.Max(c20, lo), hi); c21 = Vector512.Min(Vector512.Max(c21, lo), hi);
            c30 = Vector512.Min(Vector512.Max(c30, lo), hi); c31 = Vector512.Min(Vector512.Max(c31, lo), hi);
            c40 = Vector512.Min(Vector512.Max(c40, lo), hi); c41 = Vector512.Min(Vector512.Max(c41, lo), hi);
            c50 = Vector512.Min(Vector512.Max(c50, lo), hi); c51 = Vector512.Min(Vector512.Max(c51, lo), hi);
            c60 = Vector512.Min(Vector512.Max(c60, lo), hi); c61 = Vector512.Min(Vector512.Max(c61, lo), hi);
            c70 = Vector512.Min(Vector512.Max(c70, lo), hi); c71 = Vector512.Min(Vector512.Max(c71, lo), hi);
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
