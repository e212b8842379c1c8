using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// Depthwise 2-D integer convolution (one input channel per group, NCHW): output channel o reads input channel
/// o / (M / C). Each input plane, minus its zero point, is widened once to int16 and split into SH × SW phases
/// (<see cref="Int16PhasePlanes"/>), so that every tap reads the phase plane at a fixed offset from the flattened
/// output index <c>oh · Wq + ow</c>: a whole plane is one contiguous loop, whatever its width, with Wq − OW junk
/// columns per row that are computed and not stored.
/// <para>On AVX-512 BW, taps are taken in pairs: 32 values of each tap's shifted plane are interleaved
/// (<c>vpunpcklwd</c> / <c>vpunpckhwd</c>) and multiplied by the pair's two weights with one <c>vpmaddwd</c> per
/// 16 outputs, which is exact (operands in [−255, 255]); an odd last tap pairs with a zero weight. The sums are
/// int32, wrapping like the reference's, then requantised by <see cref="Int8Requantization"/> (the fused Relu /
/// Clip included). The scalar path computes the same sums tap by tap.</para>
/// </summary>
internal static unsafe class Int8DepthwiseConv
{
    /// <summary>
    /// Runs the convolution of <paramref name="n"/> images of <paramref name="c"/> planes into <paramref name="m"/>
    /// output planes; <paramref name="taps"/> holds each output channel's KH·KW weights minus their zero point.
    /// </summary>
    public static void Run(Int8Isa isa, int threads, byte* x, bool signed, int xZp, int[] taps, Int8Requantization e,
        long n, long c, long m, ConvGeometry g, byte* y)
    {
        long mg = m / c, tapCount = g.KH * g.KW, outSize = g.OH * g.OW, inSize = g.H * g.W;
        var layout = Int16PhasePlanes.Of(g);
        long flat = layout.Flat, flatPadded = (flat + 63) & ~63L;
        long planes = n * c;
        int workers = n * m * outSize * tapCount < (1L << 15) ? 1 : threads;
        long chunks = Math.Min(planes, workers * 4L);
        nint xData = (nint)x, yData = (nint)y;
        var offsets = layout.TapOffsets(g);
        Sgemm.ParallelFor(workers, chunks, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (long chunk) =>
        {
            long q0 = chunk * planes / chunks, q1 = (chunk + 1) * planes / chunks;
            long shorts = (layout.Shorts + 31) & ~31L;
            var block = ScratchPool.Rent(shorts * sizeof(short) + flatPadded * sizeof(int) + 128);
            try
            {
                short* phases = (short*)block.Pointer;
                int* acc = (int*)(phases + shorts);
                int* pairs = stackalloc int[(int)(tapCount + 1) / 2];
                fixed (long* offset = offsets)
                fixed (int* weights = taps)
                    for (long q = q0; q < q1; q++)
                    {
                        long img = q / c, ic = q - img * c;
                        layout.Fill(isa, (byte*)xData + q * inSize, signed, xZp, g, phases);
                        for (long oc = ic * mg; oc < (ic + 1) * mg; oc++)
                        {
                            int* w = weights + oc * tapCount;
                            if (isa == Int8Isa.Avx512BW)
                            {
                                for (int t = 0; t < tapCount; t += 2)
                                    pairs[t / 2] = (ushort)w[t] | (t + 1 < tapCount ? w[t + 1] << 16 : 0);
                                Pairs512(phases, offset, (int)tapCount, pairs, acc, flatPadded);
                            }
                            else Scalar(phases, offset, (int)tapCount, w, acc, flat);
                            // Row oh of the output is flat range [oh·Wq, oh·Wq + OW).
                            e.StorePlane((int)oc, acc, layout.Width, (int)g.OH, (int)g.OW,
                                (byte*)yData + (img * m + oc) * outSize * e.ElementSize, g.OW, isa == Int8Isa.Avx512BW);
                        }
                    }
            }
            finally
            {
                ScratchPool.Return(block);
            }
        });
    }

    /// <summary>
    /// All <paramref name="count"/> (a multiple of 64) flat outputs: for tap pair (2i, 2i+1),
    /// <c>acc[f] += x[f + off[2i]]·w[2i] + x[f + off[2i+1]]·w[2i+1]</c> with one <c>vpmaddwd</c> per 16 outputs
    /// (an odd last tap pairs with 0), 64 outputs per step.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Pairs512(short* phases, long* offset, int taps, int* pairs, int* acc, long count)
    {
        int full = taps / 2;
        bool odd = (taps & 1) != 0;
        long lastOffset = offset[taps - 1];
        var firstHalf = Vector512.Create(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
        var secondHalf = Vector512.Create(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
        for (long f = 0; f < count; f += 64)
        {
            Vector512<int> lo0 = Vector512<int>.Zero, hi0 = Vector512<int>.Zero, lo1 = Vector512<int>.Zero, hi1 = Vector512<int>.Zero;
            short* src = phases + f;
            for (int p = 0; p < full; p++)
            {
                short* s0 = src + offset[2 * p];
                short* s1 = src + offset[2 * p + 1];
                var wp = Vector512.Create(pairs[p]).AsInt16();
                var a0 = Vector512.Load(s0);
                var b0 = Vector512.Load(s1);
                var a1 = Vector512.Load(s0 + 32);
                var b1 = Vector512.Load(s1 + 32);
                lo0 += Avx512BW.MultiplyAddAdjacent(Avx512BW.UnpackLow(a0, b0), wp);
                hi0 += Avx512BW.MultiplyAddAdjacent(Avx512BW.UnpackHigh(a0, b0), wp);
                lo1 += Avx512BW.MultiplyAddAdjacent(Avx512BW.UnpackLow(a1, b1), wp);
                hi1 += Avx512BW.MultiplyAddAdjacent(Avx512BW.UnpackHigh(a1, b1), wp);
            }
            if (odd)
            {
                var wp = Vector512.Create(pairs[full]).AsInt16();
                var a0 = Vector512.Load(src + lastOffset);
                var a1 = Vector512.Load(src + lastOffset + 32);
                lo0 += Avx512BW.MultiplyAddAdjacent(Avx512BW.UnpackLow(a0, Vector512<short>.Zero), wp);
                hi0 += Avx512BW.MultiplyAddAdjacent(Avx512BW.UnpackHigh(a0, Vector512<short>.Zero), wp);
                lo1 += Avx512BW.MultiplyAddAdjacent(Avx512BW.UnpackLow(a1, Vector512<short>.Zero), wp);
                hi1 += Avx512BW.MultiplyAddAdjacent(Avx512BW.UnpackHigh(a1, Vector512<short>.Zero), wp);
            }
            // Lane L of lo holds outputs 8L..8L+3, of hi 8L+4..8L+7.
            Avx512F.PermuteVar16x32x2(lo0, firstHalf, hi0).Store(acc + f);
            Avx512F.PermuteVar16x32x2(lo0, secondHalf, hi0).Store(acc + f + 16);
            Avx512F.PermuteVar16x32x2(lo1, firstHalf, hi1).Store(acc + f + 32);
            Avx512F.PermuteVar16x32x2(lo1, secondHalf, hi1).Store(acc + f + 48);
        }
    }

    private static void Scalar(short* phases, long* offset, int taps, int* w, int* acc, long count)
    {
        for (long f = 0; f < count; f++)
        {
            int sum = 0;
            for (int t = 0; t < taps; t++) sum = unchecked(sum + phases[f + offset[t]] * w[t]);
            acc[f] = sum;
        }
    }
}

/// <summary>
/// The zero-padded int16 plane (activations minus their zero point) of a depthwise convolution, split into
/// SH × SW phases: phase (a, b) holds padded rows a, a + SH, … and columns b, b + SW, …, each phase
/// <see cref="Rows"/> × <see cref="Width"/> values (<c>Width = OW + (KW − 1)·DW / SW</c>). Tap (kh, kw) of output
/// (oh, ow) is element <c>oh · Width + ow + offset(kh, kw)</c> of the buffer, so the <see cref="Flat"/>
/// = OH · Width outputs run as one contiguous range. The buffer has slack behind the last phase for whole-vector
/// loads past the last output.
/// </summary>
internal readonly record struct Int16PhasePlanes(long Rows, long Width, long PhaseShorts, long Phases, long Flat, long Shorts)
{
    public static Int16PhasePlanes Of(ConvGeometry g)
    {
        long rows = g.OH + (g.KH - 1) * g.DH / g.SH;
        long width = g.OW + (g.KW - 1) * g.DW / g.SW;
        long phase = rows * width;
        long phases = g.SH * g.SW;
        // Loads reach at most Width + 63 values past a phase's last element (junk outputs of the last row).
        return new Int16PhasePlanes(rows, width, phase, phases, g.OH * width, phase * phases + width + 64);
    }

    /// <summary>The buffer offset of each tap (kh, kw), row-major.</summary>
    public long[] TapOffsets(ConvGeometry g)
    {
        var offsets = new long[g.KH * g.KW];
        for (long i = 0; i < g.KH; i++)
            for (long j = 0; j < g.KW; j++)
            {
                long row = i * g.DH, col = j * g.DW;
                offsets[i * g.KW + j] = (row % g.SH * g.SW + col % g.SW) * PhaseShorts + row / g.SH * Width + col / g.SW;
            }
        return offsets;
    }

    /// <summary>Fills every phase from the uint8 / int8 plane minus <paramref name="zeroPoint"/>; padding is 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public unsafe void Fill(Int8Isa isa, byte* plane, bool signed, int zeroPoint, ConvGeometry g, short* phases)
    {
        new Span<short>(phases, checked((int)Shorts)).Clear();
        for (long a = 0; a < g.SH; a++)
            for (long b = 0; b < g.SW; b++)
            {
                short* phase = phases + (a * g.SW + b) * PhaseShorts;
                if (g.W - 1 + g.PW - b < 0) continue;
                long first = (g.PW - b + g.SW - 1) / g.SW;
                long last = Math.Min(Width - 1, (g.W - 1 + g.PW - b) / g.SW);
                if (last < first) continue;
                long iw = first * g.SW + b - g.PW;
                for (long r = 0; r < Rows; r++)
                {
                    long ih = r * g.SH + a - g.PH;
                    if (ih < 0 || ih >= g.H) continue;
                    Int8Im2Col.Widen(isa, plane + ih * g.W + iw, g.SW, signed, zeroPoint, phase + r * Width + first, (int)(last - first + 1));
                }
            }
    }
}
