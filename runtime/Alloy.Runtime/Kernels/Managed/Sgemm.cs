using System.Runtime.CompilerServices;

namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// Single-precision GEMM, <c>C[M,N] = epilogue(A[M,K] · B[K,N])</c>, BLIS-style. A row-major float32 A is read in
/// place by the AVX-512 micro-kernel (its rows broadcast straight from memory, <see cref="SgemmMicroKernels.Kernel512Rows"/>;
/// only a partial last row panel is packed); any other A is packed once for every K block into micro-panels of MR
/// rows (or comes packed: constant weights are packed when the plan is compiled, see <see cref="PackedOperand"/>). The output is cut into tasks: column strips of up to <see cref="NT"/> columns (as
/// many strips as keep every thread busy), and row ranges only when there are fewer strips than threads. A task walks
/// the K blocks of <see cref="KC"/> rows; per block it packs its own strip of B into NR-column micro-panels (or reads
/// them prepacked) while they are hot in its core's L2, then runs every A micro-panel of its rows (MR×KC, kept in
/// L1) against them in the register micro-kernel. Tasks never share a packed B panel or an output element, so the only
/// synchronization is the end of the one parallel loop per call. Partial edge tiles go through a zero-padded
/// scratch tile, so any M, N, K works. Pack buffers come from <see cref="ScratchPool"/>.
/// <para>Numerics: each C element is the float32 sum of its K products in ascending k, one fused multiply-add per
/// product (the K blocks continue from the stored partial sums), then the epilogue in float32.</para>
/// </summary>
internal static unsafe class Sgemm
{
    /// <summary>
    /// K block (rows of a packed panel). 512: an A micro-panel (MR×KC, 16 KB) stays in L1 while the task's B strip
    /// (KC×NT, 512 KB) stays in L2, and C tiles are loaded and stored once per 512 products instead of per 256.
    /// </summary>
    public const int KC = 512;
    /// <summary>Most columns per task (a multiple of every NR): its packed B strip, KC×NT floats, stays in L2.</summary>
    public const int NT = 256;

    /// <summary>Below this many multiply-adds the work runs on the calling thread.</summary>
    internal const long ParallelThreshold = 1 << 18;

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
        where TB : struct, IPanelSource =>
        Multiply(isa, threads, m, n, k, a, null, b, null, c, ldc, e);

    /// <summary>
    /// As above, with A and / or B already packed (<paramref name="packedA"/>: Aᵀ in MR-column panels;
    /// <paramref name="packedB"/>: B in NR-column panels, see <see cref="Registers"/>); the packed form is used instead
    /// of the matrix when given.
    /// </summary>
    public static void Multiply<TB>(ManagedIsa isa, int threads, long m, long n, long k, StridedMatrix a, PanelView? packedA, TB b, PanelView? packedB,
        float* c, long ldc, Epilogue e)
        where TB : struct, IPanelSource
    {
        if (m <= 0 || n <= 0) return;
        if (k <= 0)
        {
            for (long i = 0; i < m; i++) new Span<float>(c + i * ldc, checked((int)n)).Clear();
            ApplyEpilogue(e, c, ldc, 0, 0, m, n);
            return;
        }
        if (SgemmRowTimesPacked.Applies(isa, m, n, k, a, packedB))
        {
            SgemmRowTimesPacked.Multiply(threads, n, k, a, packedB!.Value, c, e);
            return;
        }
        if (m == 1 && b is StridedMatrix bm && bm.RowStride == 1 && bm.Type == ElementType.Float && a.Type == ElementType.Float && n * k < int.MaxValue)
        {
            // One row times a transposed B (a classifier's Gemm): dot products straight from B's contiguous rows.
            RowTimesTransposed(threads, n, k, a, bm, c, e);
            return;
        }
        var (mr, nr) = Registers(isa);
        if (packedA is { } pa && (pa.PanelWidth != mr || pa.K != k || pa.Width != m)) throw new ArgumentException("packed A does not match the GEMM");
        if (packedB is { } pb && (pb.PanelWidth != nr || pb.K != k || pb.Width != n)) throw new ArgumentException("packed B does not match the GEMM");
        int workers = m * n * k < ParallelThreshold ? 1 : Math.Max(1, threads);
        long panelsM = (m + mr - 1) / mr, panelsN = (n + nr - 1) / nr;

        var (strips, rowRanges) = Partition(workers, panelsM, panelsN, mr, nr, packedB is null);
        long stripPanelsMax = (panelsN + strips - 1) / strips;
        int kcMax = (int)Math.Min(k, KC);

        (nint Pointer, long Bytes) blockA = default;
        try
        {
            // A row-major float32 A is read in place by the AVX-512 kernel (rows broadcast from memory); only a partial
            // last row panel is packed, by the task that needs it.
            bool directA = packedA is null && isa == ManagedIsa.Vector512 && a.Type == ElementType.Float && a.ColStride == 1;
            PanelView av = default;
            if (packedA is { } given) av = given;
            else if (!directA)
            {
                av = new PanelView(null, k, m, mr);
                blockA = ScratchPool.Rent(av.Floats * sizeof(float));
                av = new PanelView((float*)blockA.Pointer, k, m, mr);
                av.PackFrom(a.Transposed, workers);
            }
            var bCopy = b;
            var bPacked = packedB;
            ParallelFor(workers, strips * rowRanges, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (long task) =>
            {
                long s = task % strips, r = task / strips;
                long q0 = s * panelsN / strips, q1 = (s + 1) * panelsN / strips;
                long p0 = r * panelsM / rowRanges, p1 = (r + 1) * panelsM / rowRanges;
                var blockB = bPacked is null ? ScratchPool.Rent(stripPanelsMax * nr * kcMax * sizeof(float)) : default;
                bool edgeRows = directA && p1 * mr > m;
                var edgeA = edgeRows ? ScratchPool.Rent((long)mr * kcMax * sizeof(float)) : default;
                try
                {
                    for (long pc = 0; pc < k; pc += KC)
                    {
                        int kc = (int)Math.Min(KC, k - pc);
                        bool load = pc > 0, last = pc + kc == k;
                        float* bp;
                        if (bPacked is { } packed) bp = packed.Panel(pc, q0);
                        else
                        {
                            bp = (float*)blockB.Pointer;
                            for (long q = q0; q < q1; q++)
                            {
                                long j0 = q * nr;
                                bCopy.Pack(pc, kc, j0, (int)Math.Min(nr, n - j0), nr, bp + (q - q0) * nr * kc);
                            }
                        }
                        for (long p = p0; p < p1; p++)
                        {
                            long i = p * mr;
                            int mw = (int)Math.Min(mr, m - i);
                            float* ap, rows = null;
                            if (!directA) ap = av.Panel(pc, p);
                            else if (mw == mr)
                            {
                                ap = null;
                                rows = (float*)a.Data + i * a.RowStride + pc;
                            }
                            else
                            {
                                ap = (float*)edgeA.Pointer;
                                a.Transposed.Pack(pc, kc, i, mw, mr, ap);
                            }
                            for (long q = q0; q < q1; q++)
                            {
                                long j = q * nr;
                                int nw = (int)Math.Min(nr, n - j);
                                float* ct = c + i * ldc + j;
                                float* bq = bp + (q - q0) * nr * kc;
                                if (rows != null)
                                {
                                    if (nw == nr) SgemmMicroKernels.Kernel512Rows(kc, rows, a.RowStride, bq, ct, ldc, load);
                                    else EdgeTileRows(kc, rows, a.RowStride, bq, ct, ldc, load, nw);
                                }
                                else if (mw == mr && nw == nr) Micro(isa, kc, ap, bq, ct, ldc, load);
                                else EdgeTile(isa, kc, ap, bq, ct, ldc, load, mw, nw, mr, nr);
                                if (last) e.Apply(ct, ldc, i, j, mw, nw);
                            }
                        }
                    }
                }
                finally
                {
                    ScratchPool.Return(blockB);
                    ScratchPool.Return(edgeA);
                }
            });
        }
        finally
        {
            ScratchPool.Return(blockA);
        }
    }

    /// <summary>
    /// How to cut the output into tasks: column strips (of at most <see cref="NT"/> columns) × row ranges, chosen to
    /// minimize the time of the busiest worker when tasks are handed out in turn. A task's cost per K step is its
    /// micro-tiles' FMAs (MR·NR / 16 each) plus, when B is not prepacked, packing its strip (about half an
    /// instruction per element; every row range packs its strip again). Of equal choices the one with more tasks, up to
    /// four per worker, wins: a worker that loses its core for a while then holds up less of the loop.
    /// </summary>
    internal static (long Strips, long RowRanges) Partition(int workers, long panelsM, long panelsN, int mr, int nr, bool packB)
    {
        long maxStrip = Math.Max(1, NT / nr), minStrips = (panelsN + maxStrip - 1) / maxStrip;
        if (workers <= 1) return (minStrips, 1);
        double best = double.MaxValue;
        (long, long) choice = (minStrips, 1);
        long maxStrips = Math.Min(panelsN, Math.Max(minStrips, 8L * workers));
        for (long s = minStrips; s <= maxStrips; s++)
        {
            long stripPanels = (panelsN + s - 1) / s;
            if (s > minStrips && (panelsN + s - 2) / (s - 1) == stripPanels) continue; // same widest strip as s − 1
            for (long r = 1; r <= Math.Min(panelsM, 8L * workers); r++)
            {
                long rangePanels = (panelsM + r - 1) / r;
                if (r > 1 && (panelsM + r - 2) / (r - 1) == rangePanels) continue;
                double task = stripPanels * (rangePanels * (mr * nr / 16.0) + (packB ? nr * 0.5 : 0));
                double makespan = (s * r + workers - 1) / workers * task;
                long tasks = s * r, chosen = choice.Item1 * choice.Item2;
                if (makespan < best * 0.999 || (makespan <= best * 1.001 && tasks > chosen && tasks <= 4L * workers))
                {
                    best = Math.Min(best, makespan);
                    choice = (s, r);
                }
            }
        }
        return choice;
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

    /// <summary>A tile of full rows but fewer than NR columns, A read in place (<see cref="SgemmMicroKernels.Kernel512Rows"/>).</summary>
    private static void EdgeTileRows(int kc, float* rows, long lda, float* b, float* c, long ldc, bool load, int cols)
    {
        const int mr = SgemmMicroKernels.MR512, nr = SgemmMicroKernels.NR512;
        float* tile = stackalloc float[mr * nr];
        if (load)
            for (int r = 0; r < mr; r++)
                for (int j = 0; j < cols; j++) tile[r * nr + j] = c[r * ldc + j];
        SgemmMicroKernels.Kernel512Rows(kc, rows, lda, b, tile, nr, load);
        for (int r = 0; r < mr; r++)
            for (int j = 0; j < cols; j++) c[r * ldc + j] = tile[r * nr + j];
    }

    private static void ApplyEpilogue(Epilogue e, float* c, long ldc, long i0, long j0, long rows, long cols)
    {
        for (long i = 0; i < rows; i++)
            for (long j = 0; j < cols; j += int.MaxValue)
                e.Apply(c + i * ldc + j, ldc, i0 + i, j0 + j, 1, (int)Math.Min(int.MaxValue, cols - j));
    }

    /// <summary>
    /// Runs <paramref name="body"/> for 0..count-1, on up to <paramref name="threads"/> threads: the calling thread and
    /// the runtime's spinning workers (<see cref="Execution.WorkerPool"/>).
    /// </summary>
    public static void ParallelFor(int threads, long count, Action<long> body) => Execution.WorkerPool.For(threads, count, body);
}
