using System.Runtime.CompilerServices;

namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// Single-precision GEMM, <c>C[M,N] = epilogue(A[M,K] · B[K,N])</c>, BLIS-style: the N dimension in chunks of
/// <see cref="NC"/> columns, K in blocks of <see cref="KC"/>; per block, A and B are packed (widened to float32)
/// into micro-panels of MR rows / NR columns, and the M×N block is cut into tiles of <see cref="MC"/> rows ×
/// <see cref="NT"/> columns that run in parallel (at most <c>threads</c> at a time). Inside a tile each A
/// micro-panel (MR×KC, kept in L1) meets the tile's B micro-panels (KC×NT, kept in L2) in the register micro-kernel.
/// Partial edge tiles go through a zero-padded scratch tile, so any M, N, K works. Pack buffers come from
/// <see cref="ScratchPool"/>.
/// <para>Numerics: each C element is the float32 sum of its K products in ascending k, one fused multiply-add per
/// product (the K blocks continue from the stored partial sums), then the epilogue in float32.</para>
/// </summary>
internal static unsafe class Sgemm
{
    /// <summary>K block (rows of the packed B panel).</summary>
    public const int KC = 256;
    /// <summary>Rows per parallel tile (a multiple of every MR).</summary>
    public const int MC = 96;
    /// <summary>Columns per parallel tile (a multiple of every NR).</summary>
    public const int NT = 256;
    /// <summary>Columns packed at once.</summary>
    public const int NC = 4096;

    /// <summary>Below this many multiply-adds per K block the work runs on the calling thread.</summary>
    private const long ParallelThreshold = 1 << 17;

    public static (int MR, int NR) Registers(ManagedIsa isa) => isa switch
    {
        ManagedIsa.Vector512 => (SgemmMicroKernels.MR512, SgemmMicroKernels.NR512),
        ManagedIsa.Vector256 => (SgemmMicroKernels.MR256, SgemmMicroKernels.NR256),
        _ => (SgemmMicroKernels.MRScalar, SgemmMicroKernels.NRScalar),
    };

    /// <summary>
    /// C (float32, row stride <paramref name="ldc"/>) = epilogue(A · B) with A an M×K strided matrix and B any
    /// K×N panel source.
    /// </summary>
    public static void Multiply<TB>(ManagedIsa isa, int threads, long m, long n, long k, StridedMatrix a, TB b, float* c, long ldc, Epilogue e)
        where TB : struct, IPanelSource
    {
        if (m <= 0 || n <= 0) return;
        if (k <= 0)
        {
            for (long i = 0; i < m; i++) new Span<float>(c + i * ldc, checked((int)n)).Clear();
            ApplyEpilogue(e, c, ldc, 0, 0, m, n);
            return;
        }
        if (m == 1 && b is StridedMatrix bm && bm.RowStride == 1 && bm.Type == ElementType.Float && a.Type == ElementType.Float && n * k < int.MaxValue)
        {
            // One row times a transposed B (a classifier's Gemm): dot products straight from B's contiguous rows.
            RowTimesTransposed(threads, n, k, a, bm, c, e);
            return;
        }
        var (mr, nr) = Registers(isa);
        var aT = a.Transposed;
        int kcMax = (int)Math.Min(k, KC);
        long ncMax = Math.Min(n, NC);
        long panelsA = (m + mr - 1) / mr, panelsBMax = (ncMax + nr - 1) / nr;
        var blockA = ScratchPool.Rent(panelsA * mr * kcMax * sizeof(float));
        var blockB = ScratchPool.Rent(panelsBMax * nr * kcMax * sizeof(float));
        float* packA = (float*)blockA.Pointer, packB = (float*)blockB.Pointer;
        try
        {
            for (long jc = 0; jc < n; jc += NC)
            {
                long ncur = Math.Min(NC, n - jc);
                long panelsB = (ncur + nr - 1) / nr;
                for (long pc = 0; pc < k; pc += KC)
                {
                    int kc = (int)Math.Min(KC, k - pc);
                    bool load = pc > 0, last = pc + kc == k;
                    int workers = m * ncur * kc < ParallelThreshold ? 1 : threads;

                    // Pack this K block of B (the column chunk) and of A (all rows).
                    long jcCopy = jc, pcCopy = pc;
                    var bCopy = b;
                    ParallelFor(workers, panelsB + panelsA, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (long p) =>
                    {
                        if (p < panelsB)
                        {
                            long j0 = p * nr;
                            bCopy.Pack(pcCopy, kc, jcCopy + j0, (int)Math.Min(nr, ncur - j0), nr, packB + p * nr * kc);
                        }
                        else
                        {
                            long q = p - panelsB, i0 = q * mr;
                            aT.Pack(pcCopy, kc, i0, (int)Math.Min(mr, m - i0), mr, packA + q * mr * kc);
                        }
                    });

                    long tilesM = (m + MC - 1) / MC, tilesN = (ncur + NT - 1) / NT;
                    ParallelFor(workers, tilesM * tilesN, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (long t) =>
                    {
                        long ti = t / tilesN, tj = t - ti * tilesN;
                        long iEnd = Math.Min(m, (ti + 1) * MC), jEnd = Math.Min(ncur, (tj + 1) * NT);
                        for (long i = ti * MC; i < iEnd; i += mr)
                        {
                            float* ap = packA + i / mr * mr * kc;
                            int mw = (int)Math.Min(mr, iEnd - i);
                            for (long j = tj * NT; j < jEnd; j += nr)
                            {
                                float* bp = packB + j / nr * nr * kc;
                                int nw = (int)Math.Min(nr, jEnd - j);
                                float* ct = c + i * ldc + jcCopy + j;
                                if (mw == mr && nw == nr) Micro(isa, kc, ap, bp, ct, ldc, load);
                                else EdgeTile(isa, kc, ap, bp, ct, ldc, load, mw, nw, mr, nr);
                                if (last) e.Apply(ct, ldc, i, jcCopy + j, mw, nw);
                            }
                        }
                    });
                }
            }
        }
        finally
        {
            ScratchPool.Return(blockA);
            ScratchPool.Return(blockB);
        }
    }

    /// <summary>
    /// c[j] = epilogue(Σ_k a[k]·B[k, j]) where column j of B is contiguous (B = Bᵀ stored row-major): eight columns at
    /// a time, each a sequential chain of fused multiply-adds in ascending k (the same sums as the packed path).
    /// </summary>
    private static void RowTimesTransposed(int threads, long n, long k, StridedMatrix a, StridedMatrix b, float* c, Epilogue e)
    {
        nint aData = (nint)a.Data, bData = (nint)b.Data, cData = (nint)c;
        long aStride = a.ColStride, bStride = b.ColStride, blocks = (n + 63) / 64;
        ParallelFor(n * k < ParallelThreshold ? 1 : threads, blocks, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (long block) =>
        {
            float* av = (float*)aData;
            long end = Math.Min(n, (block + 1) * 64);
            for (long j = block * 64; j < end; j += 8)
            {
                int w = (int)Math.Min(8, end - j);
                float* b0 = (float*)bData + j * bStride;
                float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
                if (w == 8)
                {
                    for (long q = 0; q < k; q++)
                    {
                        float x = av[q * aStride];
                        float* bq = b0 + q;
                        s0 = MathF.FusedMultiplyAdd(x, bq[0], s0);
                        s1 = MathF.FusedMultiplyAdd(x, bq[bStride], s1);
                        s2 = MathF.FusedMultiplyAdd(x, bq[2 * bStride], s2);
                        s3 = MathF.FusedMultiplyAdd(x, bq[3 * bStride], s3);
                        s4 = MathF.FusedMultiplyAdd(x, bq[4 * bStride], s4);
                        s5 = MathF.FusedMultiplyAdd(x, bq[5 * bStride], s5);
                        s6 = MathF.FusedMultiplyAdd(x, bq[6 * bStride], s6);
                        s7 = MathF.FusedMultiplyAdd(x, bq[7 * bStride], s7);
                    }
                    float* o = (float*)cData + j;
                    o[0] = s0; o[1] = s1; o[2] = s2; o[3] = s3; o[4] = s4; o[5] = s5; o[6] = s6; o[7] = s7;
                }
                else
                {
                    for (int t = 0; t < w; t++)
                    {
                        float sum = 0;
                        float* bt = b0 + t * bStride;
                        for (long q = 0; q < k; q++) sum = MathF.FusedMultiplyAdd(av[q * aStride], bt[q], sum);
                        ((float*)cData)[j + t] = sum;
                    }
                }
                e.Apply((float*)cData + j, 0, 0, j, 1, w);
            }
        });
    }

    private static void Micro(ManagedIsa isa, int kc, float* a, float* b, float* c, long ldc, bool load)
    {
        switch (isa)
        {
            case ManagedIsa.Vector512: SgemmMicroKernels.Kernel512(kc, a, b, c, ldc, load); break;
            case ManagedIsa.Vector256: SgemmMicroKernels.Kernel256(kc, a, b, c, ldc, load); break;
            default: SgemmMicroKernels.KernelScalar(kc, a, b, c, ldc, load); break;
        }
    }

    /// <summary>A partial tile: computed in a full-size scratch tile, the valid part copied out.</summary>
    private static void EdgeTile(ManagedIsa isa, int kc, float* a, float* b, float* c, long ldc, bool load, int rows, int cols, int mr, int nr)
    {
        float* tile = stackalloc float[mr * nr];
        if (load)
            for (int r = 0; r < rows; r++)
                for (int j = 0; j < cols; j++) tile[r * nr + j] = c[r * ldc + j];
        Micro(isa, kc, a, b, tile, nr, load);
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < cols; j++) c[r * ldc + j] = tile[r * nr + j];
    }

    private static void ApplyEpilogue(Epilogue e, float* c, long ldc, long i0, long j0, long rows, long cols)
    {
        for (long i = 0; i < rows; i++)
            for (long j = 0; j < cols; j += int.MaxValue)
                e.Apply(c + i * ldc + j, ldc, i0 + i, j0 + j, 1, (int)Math.Min(int.MaxValue, cols - j));
    }

    /// <summary>Runs <paramref name="body"/> for 0..count-1, on up to <paramref name="threads"/> threads.</summary>
    public static void ParallelFor(int threads, long count, Action<long> body)
    {
        if (threads <= 1 || count <= 1)
        {
            for (long i = 0; i < count; i++) body(i);
            return;
        }
        Parallel.For(0L, count, new ParallelOptions { MaxDegreeOfParallelism = threads }, body);
    }
}
