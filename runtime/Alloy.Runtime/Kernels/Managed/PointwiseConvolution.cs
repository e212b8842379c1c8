using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// The float32 1×1 convolution with stride 1 and no padding (group 1), Y[M, HW] = W[M, C] · X[C, HW] per image,
/// without packing the activations: a tile of 8 output channels × 32 positions (AVX-512; 8 × 8 on AVX2) reads the
/// vectors of each input channel's row straight from the input plane and the 8 weights of that channel from
/// <see cref="PackedWeights"/> (packed once per weight tensor). Each output is the float32 sum of its products in
/// ascending input channel (one fused multiply-add each, from zero), then the bias, then the fused Relu / Clip,
/// stored once; the last, partial tile of a plane uses masked loads and stores. Tiles are split across threads.
/// </summary>
internal static unsafe class PointwiseConvolution
{
    /// <summary>Output channels per tile.</summary>
    public const int Rows = 8;

    /// <summary>Positions per tile: two 16-lane vectors (AVX-512), one 8-lane vector (AVX2).</summary>
    private const int Columns512 = 32, Columns256 = 8;

    /// <summary>Whether the kernel takes this convolution (float32 data, AVX-512 or AVX2).</summary>
    public static bool Handles(ManagedIsa isa, ElementType type) => isa >= ManagedIsa.Vector256 && type == ElementType.Float;

    /// <summary>W [M, C] in blocks of <see cref="Rows"/> output channels: block b, channel k, row r at (b·C + k)·8 + r; missing rows are zero.</summary>
    public sealed class PackedWeights(Tensor source, nint pointer, float[] data)
    {
        public Tensor Source { get; } = source;
        public nint Pointer { get; } = pointer;
        public float[] Data { get; } = data;

        public static PackedWeights Pack(Tensor w)
        {
            long m = w.Shape[0], c = w.Shape[1];
            long blocks = (m + Rows - 1) / Rows;
            var data = new float[blocks * c * Rows];
            var src = w.Span<float>();
            for (long o = 0; o < m; o++)
                for (long k = 0; k < c; k++)
                    data[((o / Rows) * c + k) * Rows + o % Rows] = src[(int)(o * c + k)];
            return new PackedWeights(w, (nint)w.Pointer, data);
        }
    }

    /// <summary>
    /// Y (float32, [N, M, HW]) from X (float32, [N, C, HW]) and the packed weights, optional bias [M] (null: none).
    /// </summary>
    public static void Run(ManagedIsa isa, int threads, Tensor x, PackedWeights weights, float* bias, ActivationClamp clamp, long n, long c, long m, long hw, float* y)
    {
        bool wide = isa == ManagedIsa.Vector512;
        int columns = wide ? Columns512 : Columns256;
        long rowBlocks = (m + Rows - 1) / Rows, colTiles = (hw + columns - 1) / columns, tiles = n * rowBlocks * colTiles;
        long work = n * m * c * hw;
        int workers = work < (1L << 17) ? 1 : threads;
        // Tasks are runs of consecutive tiles (a row block's columns, then the next block's): about four per thread,
        // and never less than MinTaskProducts multiply-adds, so handing a task out costs little next to doing it
        // (a 28×28 plane with 16 input channels is 25 tiles per row block of only 16 multiply-add steps each).
        long minTiles = Math.Max(1, MinTaskProducts / ((long)Rows * columns * Math.Max(1, c)));
        long tilesPerTask = workers <= 1 ? tiles : Math.Max(minTiles, tiles / (4L * workers));
        long tasks = (tiles + tilesPerTask - 1) / tilesPerTask;
        nint xData = (nint)x.Pointer, yData = (nint)y, biasData = (nint)bias;
        var data = weights.Data;
        Sgemm.ParallelFor(workers, tasks, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (long task) =>
        {
            fixed (float* wp = data)
            {
                for (long t = task * tilesPerTask, end = Math.Min(tiles, (task + 1) * tilesPerTask); t < end; t++)
                {
                    long col = t % colTiles, rest = t / colTiles, block = rest % rowBlocks, img = rest / rowBlocks;
                    int rows = (int)Math.Min(Rows, m - block * Rows);
                    float* xs = (float*)xData + img * c * hw;
                    float* ys = (float*)yData + (img * m + block * Rows) * hw;
                    float* bs = biasData == 0 ? null : (float*)biasData + block * Rows;
                    float* wb = wp + block * c * Rows;
                    long j = col * columns;
                    int width = (int)Math.Min(columns, hw - j);
                    if (wide) Tile512(xs + j, hw, c, wb, ys + j, rows, width, bs, clamp);
                    else Tile256(xs + j, hw, c, wb, ys + j, rows, width, bs, clamp);
                }
            }
        });
    }

    /// <summary>Fewest multiply-adds in one task of a multi-threaded run.</summary>
    private const long MinTaskProducts = 1L << 15;

    /// <summary>
    /// One tile: rows × width outputs (at most 8 × 32) at <paramref name="y"/> (row stride <paramref name="ld"/>),
    /// from the input rows at <paramref name="x"/> (stride <paramref name="ld"/>, <paramref name="c"/> of them).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile512(float* x, long ld, long c, float* w, float* y, int rows, int width, float* bias, ActivationClamp clamp)
    {
        Vector512<float> c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, c60, c61, c70, c71;
        c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = c60 = c61 = c70 = c71 = Vector512<float>.Zero;
        var lanes = Vector512<int>.Indices;
        var m0 = Vector512.LessThan(lanes, Vector512.Create(width)).AsSingle();
        var m1 = Vector512.LessThan(lanes, Vector512.Create(width - 16)).AsSingle();
        bool full = width == Columns512;
        for (long k = 0; k < c; k++)
        {
            float* xr = x + k * ld;
            Vector512<float> b0, b1;
            if (full)
            {
                b0 = Vector512.Load(xr);
                b1 = Vector512.Load(xr + 16);
            }
            else
            {
                b0 = Avx512F.MaskLoad(xr, m0, Vector512<float>.Zero);
                b1 = Avx512F.MaskLoad(xr + 16, m1, Vector512<float>.Zero);
            }
            var a0 = Vector512.Create(w[0]);
            c00 = Avx512F.FusedMultiplyAdd(a0, b0, c00);
            c01 = Avx512F.FusedMultiplyAdd(a0, b1, c01);
            var a1 = Vector512.Create(w[1]);
            c10 = Avx512F.FusedMultiplyAdd(a1, b0, c10);
            c11 = Avx512F.FusedMultiplyAdd(a1, b1, c11);
            var a2 = Vector512.Create(w[2]);
            c20 = Avx512F.FusedMultiplyAdd(a2, b0, c20);
            c21 = Avx512F.FusedMultiplyAdd(a2, b1, c21);
            var a3 = Vector512.Create(w[3]);
            c30 = Avx512F.FusedMultiplyAdd(a3, b0, c30);
            c31 = Avx512F.FusedMultiplyAdd(a3, b1, c31);
            var a4 = Vector512.Create(w[4]);
            c40 = Avx512F.FusedMultiplyAdd(a4, b0, c40);
            c41 = Avx512F.FusedMultiplyAdd(a4, b1, c41);
            var a5 = Vector512.Create(w[5]);
            c50 = Avx512F.FusedMultiplyAdd(a5, b0, c50);
            c51 = Avx512F.FusedMultiplyAdd(a5, b1, c51);
            var a6 = Vector512.Create(w[6]);
            c60 = Avx512F.FusedMultiplyAdd(a6, b0, c60);
            c61 = Avx512F.FusedMultiplyAdd(a6, b1, c61);
            var a7 = Vector512.Create(w[7]);
            c70 = Avx512F.FusedMultiplyAdd(a7, b0, c70);
            c71 = Avx512F.FusedMultiplyAdd(a7, b1, c71);
            w += Rows;
        }
        var store = new TileStore(y, ld, bias, clamp, m0, m1, full);
        store.Row(0, c00, c01);
        if (rows > 1) store.Row(1, c10, c11);
        if (rows > 2) store.Row(2, c20, c21);
        if (rows > 3) store.Row(3, c30, c31);
        if (rows > 4) store.Row(4, c40, c41);
        if (rows > 5) store.Row(5, c50, c51);
        if (rows > 6) store.Row(6, c60, c61);
        if (rows > 7) store.Row(7, c70, c71);
    }

    /// <summary>One AVX2 tile: rows × width outputs (at most 8 × 8), as <see cref="Tile512"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile256(float* x, long ld, long c, float* w, float* y, int rows, int width, float* bias, ActivationClamp clamp)
    {
        Vector256<float> c0, c1, c2, c3, c4, c5, c6, c7;
        c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = Vector256<float>.Zero;
        var mask = Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(width)).AsSingle();
        bool full = width == Columns256;
        for (long k = 0; k < c; k++)
        {
            float* xr = x + k * ld;
            var b = full ? Vector256.Load(xr) : Avx.MaskLoad(xr, mask);
            c0 = Fma.MultiplyAdd(Vector256.Create(w[0]), b, c0);
            c1 = Fma.MultiplyAdd(Vector256.Create(w[1]), b, c1);
            c2 = Fma.MultiplyAdd(Vector256.Create(w[2]), b, c2);
            c3 = Fma.MultiplyAdd(Vector256.Create(w[3]), b, c3);
            c4 = Fma.MultiplyAdd(Vector256.Create(w[4]), b, c4);
            c5 = Fma.MultiplyAdd(Vector256.Create(w[5]), b, c5);
            c6 = Fma.MultiplyAdd(Vector256.Create(w[6]), b, c6);
            c7 = Fma.MultiplyAdd(Vector256.Create(w[7]), b, c7);
            w += Rows;
        }
        Store256(y, 0, c0, bias, clamp, mask, full);
        if (rows > 1) Store256(y + ld, 1, c1, bias, clamp, mask, full);
        if (rows > 2) Store256(y + 2 * ld, 2, c2, bias, clamp, mask, full);
        if (rows > 3) Store256(y + 3 * ld, 3, c3, bias, clamp, mask, full);
        if (rows > 4) Store256(y + 4 * ld, 4, c4, bias, clamp, mask, full);
        if (rows > 5) Store256(y + 5 * ld, 5, c5, bias, clamp, mask, full);
        if (rows > 6) Store256(y + 6 * ld, 6, c6, bias, clamp, mask, full);
        if (rows > 7) Store256(y + 7 * ld, 7, c7, bias, clamp, mask, full);
    }

    /// <summary>Stores row r of an AVX2 tile at <paramref name="d"/>: + bias, clamp, whole or masked vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store256(float* d, int r, Vector256<float> v, float* bias, ActivationClamp clamp, Vector256<float> mask, bool full)
    {
        if (bias != null) v += Vector256.Create(bias[r]);
        if (clamp.Enabled) v = Vector256.Min(Vector256.Max(v, Vector256.Create(clamp.Lo)), Vector256.Create(clamp.Hi));
        if (full) v.Store(d);
        else Avx.MaskStore(d, mask, v);
    }

    /// <summary>Stores one row of a tile: + bias, clamp, whole or masked vectors.</summary>
    private readonly struct TileStore(float* y, long ld, float* bias, ActivationClamp clamp, Vector512<float> m0, Vector512<float> m1, bool full)
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Row(int r, Vector512<float> v0, Vector512<float> v1)
        {
            if (bias != null)
            {
                var b = Vector512.Create(bias[r]);
                v0 += b;
                v1 += b;
            }
            if (clamp.Enabled)
            {
                var lo = Vector512.Create(clamp.Lo);
                var hi = Vector512.Create(clamp.Hi);
                v0 = Vector512.Min(Vector512.Max(v0, lo), hi);
                v1 = Vector512.Min(Vector512.Max(v1, lo), hi);
            }
            float* d = y + r * ld;
            if (full)
            {
                v0.Store(d);
                v1.Store(d + 16);
            }
            else
            {
                Avx512F.MaskStore(d, m0, v0);
                Avx512F.MaskStore(d + 16, m1, v1);
            }
        }
    }
}
