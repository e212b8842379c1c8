using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Alloy.Runtime.Kernels.Managed;

/// <summary>What an integer GEMM stores: requantised uint8 / int8, or the raw int32 sums.</summary>
internal enum Int8OutputKind
{
    UInt8,
    Int8,
    Int32,
}

/// <summary>
/// The epilogue of <see cref="Int8Gemm"/>: for output row r (a weight row: an output channel) and any column,
/// <c>v = acc + bias[r]</c> (int32, wrapping like the reference), then for uint8 / int8 outputs
/// <c>y = clamp(round_half_even(v · multiplier[r]) + zeroPoint, lo, hi)</c> with the product in double (the
/// multiplier is the float32 <c>x_scale · w_scale[r] / y_scale</c>, widened), exactly as the reference QLinearConv /
/// QLinearMatMul compute it. A fused Relu raises <c>lo</c> to the zero point (Relu then QuantizeLinear is
/// <c>max(q, zero_point)</c>, since rounding is monotonic and 0 quantises to the zero point). Int32 outputs store
/// <c>v</c>.
/// </summary>
internal sealed unsafe class Int8Requantization
{
    private readonly int[] _bias;
    private readonly double[] _multiplier;
    private readonly int _rowOffset;

    public Int8Requantization(Int8OutputKind kind, int[] bias, double[] multiplier, int zeroPoint, bool relu)
    {
        Kind = kind;
        _bias = bias;
        _multiplier = multiplier;
        ZeroPoint = zeroPoint;
        var (min, max) = kind == Int8OutputKind.UInt8 ? (0, 255) : (-128, 127);
        Lo = (relu ? Math.Max(min, zeroPoint) : min) - zeroPoint;
        Hi = max - zeroPoint;
        VectorSafe = multiplier.All(double.IsFinite);
        SmallMultipliers = multiplier.All(m => double.IsFinite(m) && Math.Abs(m) <= 1);
    }

    private Int8Requantization(Int8Requantization source, int rowOffset)
    {
        Kind = source.Kind;
        _bias = source._bias;
        _multiplier = source._multiplier;
        ZeroPoint = source.ZeroPoint;
        Lo = source.Lo;
        Hi = source.Hi;
        VectorSafe = source.VectorSafe;
        SmallMultipliers = source.SmallMultipliers;
        _rowOffset = source._rowOffset + rowOffset;
    }

    /// <summary>The same epilogue with row r reading the parameters of row <paramref name="rowOffset"/> + r (a group's rows).</summary>
    public Int8Requantization Slice(int rowOffset) => rowOffset == 0 ? this : new(this, rowOffset);

    /// <summary>int32 sums out: no bias, no requantisation.</summary>
    public static Int8Requantization Raw(int rows) => new(Int8OutputKind.Int32, new int[rows], new double[rows], 0, false);

    public Int8OutputKind Kind { get; }
    public int ZeroPoint { get; }
    /// <summary>Clamp bounds before the zero point is added.</summary>
    public int Lo { get; }
    public int Hi { get; }
    /// <summary>Every multiplier is finite, so the vector path (no NaN handling) gives the reference's results.</summary>
    public bool VectorSafe { get; }
    /// <summary>
    /// Every multiplier is finite with |m| ≤ 1, so |v · m| ≤ 2³¹ − 1 for any int32 v: the product converts to int32
    /// without overflow and can be clamped as an integer.
    /// </summary>
    public bool SmallMultipliers { get; }

    public int ElementSize => Kind == Int8OutputKind.Int32 ? 4 : 1;

    /// <summary>
    /// Stores <paramref name="count"/> sums of row <paramref name="row"/> (<paramref name="acc"/>, contiguous) at
    /// <paramref name="dst"/> (bytes), consecutive results <paramref name="colStride"/> elements apart. With
    /// <paramref name="vector"/>, <paramref name="acc"/> is read in whole 16-int vectors (up to 15 past the last).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void StoreRow(int row, int* acc, int count, byte* dst, long colStride, bool vector)
    {
        row += _rowOffset;
        int bias = _bias[row];
        if (Kind == Int8OutputKind.Int32)
        {
            int* d = (int*)dst;
            for (int j = 0; j < count; j++) d[j * colStride] = unchecked(acc[j] + bias);
            return;
        }
        double m = _multiplier[row];
        int j0 = 0;
        if (vector && colStride == 1 && SmallMultipliers && Avx512BW.IsSupported)
        {
            StoreVector(acc, count, bias, m, dst);
            return;
        }
        if (vector && colStride == 1 && VectorSafe && Avx512F.IsSupported)
        {
            var vb = Vector512.Create(bias);
            var vm = Vector512.Create(m);
            var lo = Vector512.Create((double)Lo);
            var hi = Vector512.Create((double)Hi);
            var zp = Vector512.Create(ZeroPoint);
            for (; j0 + 16 <= count; j0 += 16)
            {
                var v = Vector512.Load(acc + j0) + vb;
                var d0 = Avx512F.ConvertToVector512Double(v.GetLower()) * vm;
                var d1 = Avx512F.ConvertToVector512Double(v.GetUpper()) * vm;
                d0 = Avx512F.Min(Avx512F.Max(d0, lo), hi);
                d1 = Avx512F.Min(Avx512F.Max(d1, lo), hi);
                // cvtpd2dq rounds with MXCSR's mode: round half to even.
                var q = Vector512.Create(Avx512F.ConvertToVector256Int32(d0), Avx512F.ConvertToVector256Int32(d1)) + zp;
                Avx512F.ConvertToVector128Byte(q).Store(dst + j0);
            }
        }
        for (int j = j0; j < count; j++)
            dst[j * colStride] = (byte)Requantize(unchecked(acc[j] + bias), m);
    }

    /// <summary>
    /// Rows <paramref name="r0"/> … of an MR-row tile (row stride <paramref name="tileStride"/> ints) to output rows
    /// <paramref name="dstStride"/> elements apart, <paramref name="count"/> contiguous columns each.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void StoreTile(int r0, int rows, int* tile, int tileStride, int count, byte* dst, long dstStride, bool vector)
    {
        if (vector && SmallMultipliers && Kind != Int8OutputKind.Int32 && Avx512BW.IsSupported)
        {
            for (int r = 0; r < rows; r++)
            {
                int row = r0 + r + _rowOffset;
                StoreVector(tile + r * tileStride, count, _bias[row], _multiplier[row], dst + r * dstStride);
            }
            return;
        }
        for (int r = 0; r < rows; r++)
            StoreRow(r0 + r, tile + r * tileStride, count, dst + r * dstStride * ElementSize, 1, vector);
    }

    /// <summary>
    /// <paramref name="rows"/> runs of <paramref name="count"/> sums of one output channel <paramref name="row"/>
    /// (<paramref name="accStride"/> ints apart, read in whole vectors) to output runs <paramref name="dstStride"/>
    /// elements apart: the rows of one output plane.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void StorePlane(int row, int* acc, long accStride, int rows, int count, byte* dst, long dstStride, bool vector)
    {
        if (vector && SmallMultipliers && Kind != Int8OutputKind.Int32 && Avx512BW.IsSupported)
        {
            int r = row + _rowOffset;
            int bias = _bias[r];
            double m = _multiplier[r];
            for (int i = 0; i < rows; i++) StoreVector(acc + i * accStride, count, bias, m, dst + i * dstStride);
            return;
        }
        for (int i = 0; i < rows; i++)
            StoreRow(row, acc + i * accStride, count, dst + i * dstStride * ElementSize, 1, vector);
    }

    /// <summary>
    /// The vector epilogue for multipliers of magnitude ≤ 1: int32 + bias → double · m → int32 (round half to even,
    /// no overflow, see <see cref="SmallMultipliers"/>) → integer clamp → + zero point → bytes; the last partial
    /// vector is masked. Equal to <see cref="Requantize"/> element by element.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void StoreVector(int* acc, int count, int bias, double m, byte* dst)
    {
        var vb = Vector512.Create(bias);
        var vm = Vector512.Create(m);
        var lo = Vector512.Create(Lo);
        var hi = Vector512.Create(Hi);
        var zp = Vector512.Create(ZeroPoint);
        for (int j = 0; j < count; j += 16)
        {
            var v = Vector512.Load(acc + j) + vb; // acc is read in whole vectors; lanes past count are not stored
            var d0 = Avx512F.ConvertToVector512Double(v.GetLower()) * vm;
            var d1 = Avx512F.ConvertToVector512Double(v.GetUpper()) * vm;
            // cvtpd2dq rounds with MXCSR's mode: round half to even.
            var q = Vector512.Create(Avx512F.ConvertToVector256Int32(d0), Avx512F.ConvertToVector256Int32(d1));
            q = Avx512F.Min(Avx512F.Max(q, lo), hi) + zp;
            var bytes = Avx512F.ConvertToVector128Byte(q);
            if (j + 16 <= count) bytes.Store(dst + j);
            else Avx512BW.VL.MaskStore(dst + j, Int8Vectors.FirstBytes(count - j).GetLower().GetLower(), bytes);
        }
    }

    /// <summary>One requantised value (as an int in the output type's range), the reference's arithmetic.</summary>
    public int Requantize(int v, double multiplier)
    {
        double r = Math.Round(v * multiplier, MidpointRounding.ToEven);
        if (double.IsNaN(r)) return 0; // as the reference saturation maps NaN
        return (int)Math.Clamp(r, Lo, Hi) + ZeroPoint;
    }
}
