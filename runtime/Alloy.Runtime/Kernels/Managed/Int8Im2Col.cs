using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// uint8 / int8 activations minus their zero point, widened to int16 (<see cref="Widen"/>, the depthwise
/// convolution's planes), and the im2col matrix of a 2-D convolution kept in bytes (<see cref="FillBytes"/>), which
/// <see cref="Int8Gemm"/> widens while it packs a column panel. A tap in the
/// padding holds the zero point, so it is 0 after the subtraction and adds nothing, as in the reference, where
/// padded taps are skipped.
/// </summary>
internal static unsafe class Int8Im2Col
{
    /// <summary>
    /// <c>dst[i] = src[i·stride] − zeroPoint</c> for <paramref name="count"/> values. On AVX-512 BW, strides 1 and 2 run
    /// whole vectors with a masked last one (masked loads read no byte past the last element).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Widen(Int8Isa isa, byte* src, long stride, bool signed, int zeroPoint, short* dst, int count)
    {
        int i = 0;
        if (isa == Int8Isa.Avx512BW && stride == 1)
        {
            var z = Vector512.Create((short)zeroPoint);
            for (; i + 32 <= count; i += 32)
                (Extend(Vector256.Load(src + i), signed) - z).Store(dst + i);
            if (i < count)
            {
                var bytes = Avx512BW.VL.MaskLoad(src + i, Int8Vectors.FirstBytes(count - i).GetLower(), Vector256<byte>.Zero);
                Avx512BW.MaskStore(dst + i, Int8Vectors.FirstShorts(count - i), Extend(bytes, signed) - z);
            }
            return;
        }
        if (isa == Int8Isa.Avx512BW && stride == 2)
        {
            // The even bytes of 64 (vpmovwb keeps each 16-bit lane's low byte); the last load is masked to the row.
            var z = Vector512.Create((short)zeroPoint);
            for (; i < count; i += 32)
            {
                int n = Math.Min(32, count - i);
                var v = n == 32 && i + 33 <= count
                    ? Vector512.Load(src + 2 * i)
                    : Avx512BW.MaskLoad(src + 2 * i, Int8Vectors.FirstBytes(2 * n - 1), Vector512<byte>.Zero);
                var w = Extend(Avx512BW.ConvertToVector256Byte(v.AsUInt16()), signed) - z;
                if (n == 32) w.Store(dst + i);
                else Avx512BW.MaskStore(dst + i, Int8Vectors.FirstShorts(n), w);
            }
            return;
        }
        if (signed)
            for (; i < count; i++) dst[i] = (short)((sbyte)src[i * stride] - zeroPoint);
        else
            for (; i < count; i++) dst[i] = (short)(src[i * stride] - zeroPoint);
    }

    /// <summary>32 bytes widened to int16: sign-extended for int8, zero-extended for uint8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<short> Extend(Vector256<byte> v, bool signed) =>
        signed ? Avx512BW.ConvertToVector512Int16(v.AsSByte()) : Avx512BW.ConvertToVector512Int16(v).AsInt16();

    /// <summary>
    /// The im2col matrix of one image and one group in bytes: row (c, kh, kw) (c over <paramref name="channels"/>
    /// input channels starting at <paramref name="plane"/>), column (oh, ow), row stride <paramref name="ld"/>; taps
    /// in the padding hold the zero point's byte.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void FillBytes(Int8Isa isa, byte* plane, byte zeroPoint, long channels, ConvGeometry g, byte* dst, long ld)
    {
        long inSize = g.H * g.W;
        long row = 0;
        // Stride 1 with output rows as wide as the input's ("same" padding): a row of the matrix is the plane shifted
        // by the tap's offset, so the rows of valid taps are one copy, then the columns that fall in the padding are
        // set to the zero point.
        bool shifted = g.SH == 1 && g.SW == 1 && g.OW == g.W;
        for (long c = 0; c < channels; c++)
            for (long kh = 0; kh < g.KH; kh++)
                for (long kw = 0; kw < g.KW; kw++, row++)
                {
                    byte* d = dst + row * ld;
                    byte* src = plane + c * inSize;
                    long colOffset = kw * g.DW - g.PW;
                    long first = colOffset >= 0 ? 0 : (-colOffset + g.SW - 1) / g.SW;
                    long last = g.W - 1 - colOffset < 0 ? -1 : Math.Min(g.OW - 1, (g.W - 1 - colOffset) / g.SW);
                    if (shifted)
                    {
                        ShiftedRow(src, zeroPoint, g, kh * g.DH - g.PH, colOffset, first, last, d);
                        continue;
                    }
                    for (long oh = 0; oh < g.OH; oh++)
                    {
                        byte* o = d + oh * g.OW;
                        long ih = oh * g.SH - g.PH + kh * g.DH;
                        if (ih < 0 || ih >= g.H || last < first)
                        {
                            new Span<byte>(o, (int)g.OW).Fill(zeroPoint);
                            continue;
                        }
                        if (first > 0) new Span<byte>(o, (int)first).Fill(zeroPoint);
                        Gather(isa, src + ih * g.W + first * g.SW + colOffset, g.SW, o + first, (int)(last - first + 1));
                        if (last + 1 < g.OW) new Span<byte>(o + last + 1, (int)(g.OW - last - 1)).Fill(zeroPoint);
                    }
                }
    }

    /// <summary>
    /// One im2col row of a stride-1 convolution whose output rows are as wide as the input's:
    /// <c>d[oh·W + ow] = src[(oh + rowOffset)·W + ow + colOffset]</c> where that lies in the plane, the zero point
    /// elsewhere (rows outside the plane, columns before <paramref name="first"/> or after <paramref name="last"/>).
    /// </summary>
    private static void ShiftedRow(byte* src, byte zeroPoint, ConvGeometry g, long rowOffset, long colOffset, long first, long last, byte* d)
    {
        long w = g.W, oh0 = Math.Max(0, -rowOffset), oh1 = Math.Min(g.OH, g.H - rowOffset);
        if (oh1 <= oh0 || last < first)
        {
            new Span<byte>(d, checked((int)(g.OH * w))).Fill(zeroPoint);
            return;
        }
        if (oh0 > 0) new Span<byte>(d, checked((int)(oh0 * w))).Fill(zeroPoint);
        if (oh1 < g.OH) new Span<byte>(d + oh1 * w, checked((int)((g.OH - oh1) * w))).Fill(zeroPoint);
        // Destination [oh0·W, oh1·W) from source [(oh0 + rowOffset)·W + colOffset, …), clipped to the plane; what the
        // clipping leaves out and what wraps across a row edge are padding columns, set below.
        long d0 = oh0 * w, d1 = oh1 * w, s0 = (oh0 + rowOffset) * w + colOffset;
        long lo = Math.Max(d0, d0 - s0), hi = Math.Min(d1, d0 + g.H * w - s0);
        if (hi > lo) Buffer.MemoryCopy(src + s0 + (lo - d0), d + lo, hi - lo, hi - lo);
        for (long oh = oh0; oh < oh1; oh++)
        {
            byte* o = d + oh * w;
            for (long j = 0; j < first; j++) o[j] = zeroPoint;
            for (long j = last + 1; j < w; j++) o[j] = zeroPoint;
        }
    }

    /// <summary><c>dst[i] = src[i·stride]</c> for <paramref name="count"/> bytes (reading no byte past the last one).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Gather(Int8Isa isa, byte* src, long stride, byte* dst, int count)
    {
        if (stride == 1)
        {
            Buffer.MemoryCopy(src, dst, count, count);
            return;
        }
        int i = 0;
        if (isa == Int8Isa.Avx512BW && stride == 2)
        {
            // The even bytes of 64 (vpmovwb keeps each 16-bit lane's low byte).
            for (; i + 32 <= count && 2 * i + 64 <= 2 * count - 1; i += 32)
                Avx512BW.ConvertToVector256Byte(Vector512.Load(src + 2 * i).AsUInt16()).Store(dst + i);
            if (i < count)
            {
                int n = count - i;
                var v = Avx512BW.MaskLoad(src + 2 * i, Int8Vectors.FirstBytes(2 * n - 1), Vector512<byte>.Zero);
                Avx512BW.VL.MaskStore(dst + i, Int8Vectors.FirstBytes(n).GetLower(), Avx512BW.ConvertToVector256Byte(v.AsUInt16()));
            }
            return;
        }
        for (; i < count; i++) dst[i] = src[i * stride];
    }
}
