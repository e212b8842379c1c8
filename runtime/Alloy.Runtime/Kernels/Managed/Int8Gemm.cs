using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Alloy.Runtime.Cpu;

namespace Alloy.Runtime.Kernels.Managed;

/// <summary>The instruction set the integer GEMM runs on.</summary>
public enum Int8Isa
{
    /// <summary>Portable scalar code on the same packed operands.</summary>
    Scalar = 0,
    /// <summary>AVX-512 BW: <c>vpmaddwd</c> on int16 operands (exact pairwise products), int32 accumulators.</summary>
    Avx512BW = 1,
}

/// <summary>
/// Integer GEMM with int32 accumulation: <c>Y[r, j] = epilogue(Σ_k W[r, k] · (X[k, j] − z))</c>, where W is the packed
/// weight side (<see cref="Int8PackedWeights"/>: int8 / uint8 minus its zero point, widened to int16) and X a uint8 /
/// int8 matrix of activations with zero point z (a convolution's input planes themselves for a 1×1 convolution, its
/// byte im2col matrix otherwise), widened to int16 and z subtracted while a column panel is packed. Both operands lie in [−255, 255],
/// so the AVX-512 BW pairwise multiply-add (<c>vpmaddwd</c>) is exact; <c>vpmaddubsw</c> on the raw bytes would
/// saturate its int16 pair sums (2·255·127 &gt; 32767) and is not used. The sum of the products is accumulated in
/// int32 with wrap-around, which equals the reference's wrapping sum in any order. .NET 10 exposes no 512-bit VNNI
/// (<c>vpdpbusd</c> is only reachable as the VEX-encoded <see cref="AvxVnni"/>, which AVX-512 VNNI CPUs such as
/// Ice Lake and Zen 4 do not have), so the AVX-512 BW path is the fast one on those machines.
/// <para>Blocking: the columns are cut into panels of <see cref="NR"/>, the rows into panels of <see cref="MR"/>;
/// a work item packs one column panel (pairs of rows interleaved, over the whole K, widened from the bytes) and runs it against a group of
/// row panels in an 8×32 register tile (16 zmm accumulators) before the epilogue stores it. Items run in parallel on
/// up to <c>threads</c> threads. Fewer than <see cref="NarrowColumns"/> columns (a matrix-vector product) run a
/// per-column kernel over the row panels instead.</para>
/// </summary>
internal static unsafe class Int8Gemm
{
    public const int MR = 8, NR = 32;

    /// <summary>Below this many columns, each column runs as a matrix-vector product.</summary>
    public const int NarrowColumns = 4;

    private const long ParallelThreshold = 1 << 16;

    private static readonly Lazy<Int8Isa> Detected = new(() => DetectIsa(CpuFeatures.Detect()));

    /// <summary>The fastest path on this machine under <c>ALLOY_MAX_CPU_ISA</c>.</summary>
    public static Int8Isa DefaultIsa => Detected.Value;

    public static Int8Isa DetectIsa(CpuFeatures features) =>
        features.IsUsable(CpuFeature.Avx512BW) && Avx512BW.IsSupported && Avx2.IsSupported ? Int8Isa.Avx512BW : Int8Isa.Scalar;

    /// <summary>
    /// Runs the product of <paramref name="w"/> (M = w.Rows) and the K×<paramref name="n"/> uint8 / int8
    /// (<paramref name="signed"/>) matrix <paramref name="x"/> (row stride <paramref name="ldx"/> bytes) minus
    /// <paramref name="zeroPoint"/>, storing row r, column j at <c>y + (r·rowStride + j·colStride)·elementSize</c>
    /// through <paramref name="e"/>.
    /// </summary>
    public static void Multiply(Int8Isa isa, int threads, Int8PackedWeights w, byte* x, bool signed, int zeroPoint, long ldx, int n,
        Int8Requantization e, byte* y, long rowStride, long colStride)
    {
        if (n <= 0 || w.Rows <= 0) return;
        long work = (long)w.Rows * n * Math.Max(1, w.K);
        int workers = work < ParallelThreshold ? 1 : Math.Max(1, threads);
        nint xData = (nint)x, yData = (nint)y;
        if (n < NarrowColumns)
        {
            int chunks = Math.Min(w.Panels, workers * 4);
            Sgemm.ParallelFor(workers, chunks, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (long c) =>
            {
                int p0 = (int)(c * w.Panels / chunks), p1 = (int)((c + 1) * w.Panels / chunks);
                Narrow(isa, w, p0, p1, new Activations((byte*)xData, signed, zeroPoint, ldx), n, e, (byte*)yData, rowStride, colStride);
            });
            return;
        }
        int colPanels = (n + NR - 1) / NR;
        int groups = colPanels >= 4 * workers ? 1 : Math.Min(w.Panels, (4 * workers + colPanels - 1) / colPanels);
        long items = (long)colPanels * groups;
        long itemChunks = Math.Min(items, workers * 4L);
        Sgemm.ParallelFor(workers, itemChunks, (long chunk) =>
            Items(isa, w, new Activations((byte*)xData, signed, zeroPoint, ldx), n, e, (byte*)yData, rowStride, colStride, groups,
                chunk * items / itemChunks, (chunk + 1) * items / itemChunks));
    }

    /// <summary>Work items [i0, i1): item = column panel × group of row panels; one scratch block for all of them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
    private static void Items(Int8Isa isa, Int8PackedWeights w, Activations x, int n, Int8Requantization e, byte* y,
        long rowStride, long colStride, int groups, long i0, long i1)
    {
        var block = ScratchPool.Rent((long)w.KPairs * NR * 4);
        try
        {
            int* packed = (int*)block.Pointer;
            int* tile = stackalloc int[MR * NR];
            for (long item = i0; item < i1; item++)
            {
                int cp = (int)(item / groups), g = (int)(item % groups);
                int p0 = (int)((long)g * w.Panels / groups), p1 = (int)((long)(g + 1) * w.Panels / groups);
                int j0 = cp * NR, cols = Math.Min(NR, n - j0);
                PackColumns(isa, x, j0, w.K, cols, packed);
                for (int p = p0; p < p1; p++)
                {
                    if (isa == Int8Isa.Avx512BW) Kernel512(w.KPairs, w.Panel(p), packed, tile);
                    else KernelScalar(w.KPairs, w.Panel(p), packed, tile);
                    int r0 = p * MR, rows = Math.Min(MR, w.Rows - r0);
                    byte* dst = y + (r0 * rowStride + j0 * colStride) * e.ElementSize;
                    if (colStride == 1) e.StoreTile(r0, rows, tile, NR, cols, dst, rowStride, isa == Int8Isa.Avx512BW);
                    else
                        for (int r = 0; r < rows; r++)
                            e.StoreRow(r0 + r, tile + r * NR, cols, dst + r * rowStride * e.ElementSize, colStride, isa == Int8Isa.Avx512BW);
                }
            }
        }
        finally
        {
            ScratchPool.Return(block);
        }
    }

    /// <summary>
    /// Packs <paramref name="cols"/> (≤ NR) columns of the K-row activation matrix, starting at column
    /// <paramref name="j0"/>, into KPairs × NR words, word (q, j) holding rows 2q and 2q+1 of column j minus the zero
    /// point as int16 (0 past K and past the last column). Masked loads read no byte past the last column.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackColumns(Int8Isa isa, Activations x, int j0, int k, int cols, int* dst)
    {
        int pairs = (k + 1) / 2;
        byte* src = x.Data + j0;
        long ldx = x.RowStride;
        if (isa == Int8Isa.Avx512BW)
        {
            var lowIndex = Vector512.Create((short)0, 32, 1, 33, 2, 34, 3, 35, 4, 36, 5, 37, 6, 38, 7, 39,
                8, 40, 9, 41, 10, 42, 11, 43, 12, 44, 13, 45, 14, 46, 15, 47);
            var highIndex = lowIndex + Vector512.Create((short)16);
            var z = Vector512.Create((short)x.ZeroPoint);
            bool full = cols == NR;
            var byteMask = Int8Vectors.FirstBytes(cols).GetLower();
            var keep = Int8Vectors.FirstShorts(cols);
            for (int q = 0; q < pairs; q++)
            {
                byte* r0 = src + 2 * q * ldx;
                var v0 = Int8Im2Col.Extend(full ? Vector256.Load(r0) : Avx512BW.VL.MaskLoad(r0, byteMask, Vector256<byte>.Zero), x.Signed) - z;
                var v1 = Vector512<short>.Zero;
                if (2 * q + 1 < k)
                    v1 = Int8Im2Col.Extend(full ? Vector256.Load(r0 + ldx) : Avx512BW.VL.MaskLoad(r0 + ldx, byteMask, Vector256<byte>.Zero), x.Signed) - z;
                if (!full)
                {
                    v0 &= keep;
                    v1 &= keep;
                }
                Avx512BW.PermuteVar32x16x2(v0, lowIndex, v1).AsInt32().Store(dst + q * NR);
                Avx512BW.PermuteVar32x16x2(v0, highIndex, v1).AsInt32().Store(dst + q * NR + 16);
            }
            return;
        }
        new Span<int>(dst, pairs * NR).Clear();
        for (int q = 0; q < pairs; q++)
        {
            short* d = (short*)(dst + q * NR);
            bool second = 2 * q + 1 < k;
            for (int j = 0; j < cols; j++)
            {
                d[2 * j] = x.At(2 * q, j0 + j);
                if (second) d[2 * j + 1] = x.At(2 * q + 1, j0 + j);
            }
        }
    }

    /// <summary>One 8×32 int32 tile over all K pairs: 16 zmm accumulators, one <c>vpmaddwd</c> + add per 32 pairs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel512(int pairs, int* a, int* b, int* c)
    {
        Vector512<int> c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, c60, c61, c70, c71;
        c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = c60 = c61 = c70 = c71 = Vector512<int>.Zero;
        for (int q = 0; q < pairs; q++)
        {
            var b0 = Vector512.Load(b).AsInt16();
            var b1 = Vector512.Load(b + 16).AsInt16();
            var a0 = Vector512.Create(a[0]).AsInt16();
            c00 += Avx512BW.MultiplyAddAdjacent(a0, b0);
            c01 += Avx512BW.MultiplyAddAdjacent(a0, b1);
            var a1 = Vector512.Create(a[1]).AsInt16();
            c10 += Avx512BW.MultiplyAddAdjacent(a1, b0);
            c11 += Avx512BW.MultiplyAddAdjacent(a1, b1);
            var a2 = Vector512.Create(a[2]).AsInt16();
            c20 += Avx512BW.MultiplyAddAdjacent(a2, b0);
            c21 += Avx512BW.MultiplyAddAdjacent(a2, b1);
            var a3 = Vector512.Create(a[3]).AsInt16();
            c30 += Avx512BW.MultiplyAddAdjacent(a3, b0);
            c31 += Avx512BW.MultiplyAddAdjacent(a3, b1);
            var a4 = Vector512.Create(a[4]).AsInt16();
            c40 += Avx512BW.MultiplyAddAdjacent(a4, b0);
            c41 += Avx512BW.MultiplyAddAdjacent(a4, b1);
            var a5 = Vector512.Create(a[5]).AsInt16();
            c50 += Avx512BW.MultiplyAddAdjacent(a5, b0);
            c51 += Avx512BW.MultiplyAddAdjacent(a5, b1);
            var a6 = Vector512.Create(a[6]).AsInt16();
            c60 += Avx512BW.MultiplyAddAdjacent(a6, b0);
            c61 += Avx512BW.MultiplyAddAdjacent(a6, b1);
            var a7 = Vector512.Create(a[7]).AsInt16();
            c70 += Avx512BW.MultiplyAddAdjacent(a7, b0);
            c71 += Avx512BW.MultiplyAddAdjacent(a7, b1);
            a += MR;
            b += NR;
        }
        c00.Store(c + 0 * NR); c01.Store(c + 0 * NR + 16);
        c10.Store(c + 1 * NR); c11.Store(c + 1 * NR + 16);
        c20.Store(c + 2 * NR); c21.Store(c + 2 * NR + 16);
        c30.Store(c + 3 * NR); c31.Store(c + 3 * NR + 16);
        c40.Store(c + 4 * NR); c41.Store(c + 4 * NR + 16);
        c50.Store(c + 5 * NR); c51.Store(c + 5 * NR + 16);
        c60.Store(c + 6 * NR); c61.Store(c + 6 * NR + 16);
        c70.Store(c + 7 * NR); c71.Store(c + 7 * NR + 16);
    }

    private static void KernelScalar(int pairs, int* a, int* b, int* c)
    {
        new Span<int>(c, MR * NR).Clear();
        for (int q = 0; q < pairs; q++)
        {
            short* aq = (short*)(a + q * MR);
            short* bq = (short*)(b + q * NR);
            for (int r = 0; r < MR; r++)
            {
                int a0 = aq[2 * r], a1 = aq[2 * r + 1];
                for (int j = 0; j < NR; j++)
                    c[r * NR + j] = unchecked(c[r * NR + j] + (a0 * bq[2 * j] + a1 * bq[2 * j + 1]));
            }
        }
    }

    /// <summary>Row panels p0..p1 times each of the few columns: a matrix-vector product per column.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Narrow(Int8Isa isa, Int8PackedWeights w, int p0, int p1, Activations x, int n, Int8Requantization e,
        byte* y, long rowStride, long colStride)
    {
        int pairs = w.KPairs;
        var pairBlock = ScratchPool.Rent((long)pairs * 4);
        try
        {
            int* xp = (int*)pairBlock.Pointer;
            int* acc = stackalloc int[MR];
            for (int j = 0; j < n; j++)
            {
                short* xs = (short*)xp;
                for (int kk = 0; kk < 2 * pairs; kk++) xs[kk] = kk < w.K ? x.At(kk, j) : (short)0;
                for (int p = p0; p < p1; p++)
                {
                    int* a = w.Panel(p);
                    if (isa == Int8Isa.Avx512BW)
                    {
                        var s0 = Vector256<int>.Zero;
                        var s1 = Vector256<int>.Zero;
                        int q = 0;
                        for (; q + 2 <= pairs; q += 2)
                        {
                            s0 += Avx2.MultiplyAddAdjacent(Vector256.Load(a + q * MR).AsInt16(), Vector256.Create(xp[q]).AsInt16());
                            s1 += Avx2.MultiplyAddAdjacent(Vector256.Load(a + (q + 1) * MR).AsInt16(), Vector256.Create(xp[q + 1]).AsInt16());
                        }
                        if (q < pairs) s0 += Avx2.MultiplyAddAdjacent(Vector256.Load(a + q * MR).AsInt16(), Vector256.Create(xp[q]).AsInt16());
                        (s0 + s1).Store(acc);
                    }
                    else
                    {
                        for (int r = 0; r < MR; r++)
                        {
                            int s = 0;
                            for (int q = 0; q < pairs; q++)
                            {
                                short* aq = (short*)(a + q * MR) + 2 * r;
                                s = unchecked(s + (aq[0] * xs[2 * q] + aq[1] * xs[2 * q + 1]));
                            }
                            acc[r] = s;
                        }
                    }
                    int r0 = p * MR, rows = Math.Min(MR, w.Rows - r0);
                    for (int r = 0; r < rows; r++)
                        e.StoreRow(r0 + r, acc + r, 1, y + ((r0 + r) * rowStride + j * colStride) * e.ElementSize, colStride, false);
                }
            }
        }
        finally
        {
            ScratchPool.Return(pairBlock);
        }
    }

    /// <summary>The activation side: a uint8 / int8 matrix (row stride in bytes) and its zero point.</summary>
    private readonly struct Activations(byte* data, bool signed, int zeroPoint, long rowStride)
    {
        public readonly byte* Data = data;
        public readonly bool Signed = signed;
        public readonly int ZeroPoint = zeroPoint;
        public readonly long RowStride = rowStride;

        /// <summary>Element (k, j) minus the zero point.</summary>
        public short At(long k, long j)
        {
            byte v = Data[k * RowStride + j];
            return (short)((Signed ? (sbyte)v : v) - ZeroPoint);
        }
    }
}
