using System.Runtime.InteropServices;

namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// The weight side of <see cref="Int8Gemm"/>: an M×K int8 / uint8 matrix minus its zero point (per row), widened to
/// int16 and packed into panels of <see cref="Int8Gemm.MR"/> rows. Panel p holds, for each pair of reduction
/// indices (2q, 2q+1), one 32-bit word per row with the two int16 values <c>w[r, 2q] − z[r]</c> and
/// <c>w[r, 2q+1] − z[r]</c> (0 past K and past M), which is the operand layout of a pairwise multiply-add
/// (<c>vpmaddwd</c>). Every value lies in [−255, 255], so each pairwise sum of products is exact in int32.
/// Packed once per weight tensor and reused while the tensor is unchanged.
/// </summary>
internal sealed unsafe class Int8PackedWeights : IDisposable
{
    private int* _data;

    private Int8PackedWeights(int rows, int k)
    {
        Rows = rows;
        K = k;
        KPairs = (k + 1) / 2;
        Panels = (rows + Int8Gemm.MR - 1) / Int8Gemm.MR;
        long words = (long)Panels * KPairs * Int8Gemm.MR;
        _data = (int*)NativeMemory.AlignedAlloc((nuint)Math.Max(64, words * 4), 64);
        NativeMemory.Clear(_data, (nuint)(words * 4));
    }

    ~Int8PackedWeights() => Free();

    public int Rows { get; }
    public int K { get; }
    public int KPairs { get; }
    public int Panels { get; }

    /// <summary>Panel <paramref name="p"/>: <see cref="KPairs"/> × MR words.</summary>
    public int* Panel(int p) => _data + (long)p * KPairs * Int8Gemm.MR;

    /// <summary>
    /// Packs element (r, k) = <c>data[r·rowStride + k·kStride]</c> of a uint8 (<paramref name="signed"/> false) or
    /// int8 matrix minus <c>zeroPoints[r]</c> (one value for all rows when it has one entry).
    /// </summary>
    public static Int8PackedWeights Pack(byte* data, bool signed, int rows, int k, long rowStride, long kStride, ReadOnlySpan<int> zeroPoints)
    {
        var w = new Int8PackedWeights(rows, k);
        for (int r = 0; r < rows; r++)
        {
            int z = zeroPoints.Length == 1 ? zeroPoints[0] : zeroPoints[r];
            short* dst = (short*)w.Panel(r / Int8Gemm.MR) + 2 * (r % Int8Gemm.MR);
            byte* row = data + r * rowStride;
            for (int kk = 0; kk < k; kk++)
            {
                int v = signed ? (sbyte)row[kk * kStride] : row[kk * kStride];
                dst[(kk >> 1) * 2 * Int8Gemm.MR + (kk & 1)] = (short)(v - z);
            }
        }
        return w;
    }

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    private void Free()
    {
        if (_data == null) return;
        NativeMemory.AlignedFree(_data);
        _data = null;
    }
}
