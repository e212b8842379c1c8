namespace Alloy.Runtime.Numerics;

/// <summary>
/// The 8-bit and 4-bit float formats of ONNX. <see cref="Decode"/> is exact; <see cref="Encode(double, ElementType, bool)"/>
/// rounds once to nearest, ties to even, as if the exponent range were unbounded, and then handles overflow:
/// with <c>saturate</c> (ONNX Cast's default) every value beyond the largest finite one, infinity included, becomes
/// ±max; without it, E5M2 gives ±infinity and the formats without infinity give NaN. Float4 E2M1 has neither
/// infinity nor NaN, so it always saturates.
/// <list type="table">
/// <item><term>E4M3FN</term><description>bias 7, no infinity, NaN = S.1111.111, -0 exists, max 448.</description></item>
/// <item><term>E4M3FNUZ</term><description>bias 8, no infinity, NaN = 0x80 only (no -0), max 240.</description></item>
/// <item><term>E5M2</term><description>bias 15, IEEE-like: infinity S.11111.00, NaN S.11111.{01,10,11}, max 57344.</description></item>
/// <item><term>E5M2FNUZ</term><description>bias 16, no infinity, NaN = 0x80 only (no -0), max 57344.</description></item>
/// <item><term>E2M1</term><description>bias 1, values ±{0, 0.5, 1, 1.5, 2, 3, 4, 6}, no infinity or NaN, max 6.</description></item>
/// </list>
/// NaN encodes to S.1111.111 (E4M3FN), S.11111.11 (E5M2, sign kept), 0x80 (the FNUZ formats) and, for E2M1, to
/// 0x7 (+6) as the ONNX reference implementation does. Values that round to zero keep their sign except in the
/// FNUZ formats, which have a single zero. ONNX's Cast table lists ±Inf → NaN for the saturating FNUZ cases, but
/// its reference implementation and ONNX Runtime both give ±max; this follows the implementations.
/// </summary>
public static class MiniFloat
{
    private enum NaNKind
    {
        /// <summary>No NaN (E2M1).</summary>
        None,
        /// <summary>Exponent and mantissa all ones, either sign (E4M3FN).</summary>
        AllOnes,
        /// <summary>The negative-zero code 0x80 (E4M3FNUZ, E5M2FNUZ).</summary>
        NegativeZero,
        /// <summary>IEEE: exponent all ones with a non-zero mantissa; all ones with a zero mantissa is infinity (E5M2).</summary>
        Ieee,
    }

    private sealed class Format
    {
        public Format(int exponentBits, int mantissaBits, int bias, NaNKind nan)
        {
            ExponentBits = exponentBits;
            MantissaBits = mantissaBits;
            Bias = bias;
            NaN = nan;
            Bits = 1 + exponentBits + mantissaBits;
            SignBit = 1 << (Bits - 1);
            int expMax = (1 << exponentBits) - 1, manMax = (1 << mantissaBits) - 1;
            MaxCode = nan switch
            {
                NaNKind.Ieee => ((expMax - 1) << mantissaBits) | manMax,
                NaNKind.AllOnes => (expMax << mantissaBits) | (manMax - 1),
                _ => (expMax << mantissaBits) | manMax,
            };
            NaNCode = nan switch
            {
                NaNKind.AllOnes or NaNKind.Ieee => SignBit - 1, // sign bit added by the caller
                NaNKind.NegativeZero => SignBit,
                _ => MaxCode, // E2M1: ONNX maps NaN to +max
            };
            InfinityCode = expMax << mantissaBits;
            Max = Magnitude(MaxCode);
        }

        public int ExponentBits { get; }
        public int MantissaBits { get; }
        public int Bias { get; }
        public NaNKind NaN { get; }
        public int Bits { get; }
        public int SignBit { get; }
        public int MaxCode { get; }
        public int NaNCode { get; }
        /// <summary>Meaningful only for <see cref="NaNKind.Ieee"/>.</summary>
        public int InfinityCode { get; }
        public double Max { get; }
        /// <summary>Exponent of the smallest normal number.</summary>
        public int MinExponent => 1 - Bias;

        /// <summary>The value of a sign-less code that is neither NaN nor infinity.</summary>
        public double Magnitude(int code)
        {
            int exp = code >> MantissaBits;
            int man = code & ((1 << MantissaBits) - 1);
            return exp == 0
                ? Math.ScaleB(man, MinExponent - MantissaBits)
                : Math.ScaleB((1 << MantissaBits) + man, exp - Bias - MantissaBits);
        }
    }

    private static readonly Format E4M3FN = new(4, 3, 7, NaNKind.AllOnes);
    private static readonly Format E4M3FNUZ = new(4, 3, 8, NaNKind.NegativeZero);
    private static readonly Format E5M2 = new(5, 2, 15, NaNKind.Ieee);
    private static readonly Format E5M2FNUZ = new(5, 2, 16, NaNKind.NegativeZero);
    private static readonly Format E2M1 = new(2, 1, 1, NaNKind.None);

    private static Format Of(ElementType t) => t switch
    {
        ElementType.Float8E4M3FN => E4M3FN,
        ElementType.Float8E4M3FNUZ => E4M3FNUZ,
        ElementType.Float8E5M2 => E5M2,
        ElementType.Float8E5M2FNUZ => E5M2FNUZ,
        ElementType.Float4E2M1 => E2M1,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "not an 8-bit or 4-bit float type"),
    };

    /// <summary>True for the four float8 types and float4 E2M1.</summary>
    public static bool IsMiniFloat(ElementType type) => type is ElementType.Float8E4M3FN or ElementType.Float8E4M3FNUZ
        or ElementType.Float8E5M2 or ElementType.Float8E5M2FNUZ or ElementType.Float4E2M1;

    /// <summary>The exact value of <paramref name="code"/> (bits above the format's width are ignored).</summary>
    public static float Decode(int code, ElementType type)
    {
        var f = Of(type);
        code &= (1 << f.Bits) - 1;
        bool negative = (code & f.SignBit) != 0;
        int magnitudeCode = code & (f.SignBit - 1);
        int expMax = (1 << f.ExponentBits) - 1;
        switch (f.NaN)
        {
            case NaNKind.NegativeZero when code == f.SignBit:
                return QuietNaN(false);
            case NaNKind.AllOnes when magnitudeCode == f.SignBit - 1:
                return QuietNaN(negative);
            case NaNKind.Ieee when magnitudeCode >> f.MantissaBits == expMax:
                if (magnitudeCode == f.InfinityCode) return negative ? float.NegativeInfinity : float.PositiveInfinity;
                return QuietNaN(negative);
        }
        float value = (float)f.Magnitude(magnitudeCode); // exact: at most 4 significant bits
        return negative ? -value : value;
    }

    /// <summary>A quiet NaN with the given sign, spelled out in bits (float.NaN itself has the sign bit set on .NET).</summary>
    private static float QuietNaN(bool negative) => BitConverter.UInt32BitsToSingle(negative ? 0xFFC0_0000u : 0x7FC0_0000u);

    /// <summary>Largest finite value of the format.</summary>
    public static float MaxFinite(ElementType type) => (float)Of(type).Max;

    /// <summary>Encodes a float32 (see <see cref="Encode(double, ElementType, bool)"/>; float32 widens exactly).</summary>
    public static int Encode(float value, ElementType type, bool saturate = true) => Encode((double)value, type, saturate);

    /// <summary>
    /// The code of the value nearest to <paramref name="value"/> (ties to even), rounded once from the double;
    /// overflow and NaN as described on <see cref="MiniFloat"/>.
    /// </summary>
    public static int Encode(double value, ElementType type, bool saturate = true)
    {
        var f = Of(type);
        int sign = double.IsNegative(value) ? f.SignBit : 0;
        if (double.IsNaN(value))
            return f.NaN is NaNKind.AllOnes or NaNKind.Ieee ? sign | f.NaNCode : f.NaNCode;
        double rounded = RoundToGrid(Math.Abs(value), f.MantissaBits, f.MinExponent); // +inf stays +inf
        if (rounded > f.Max)
        {
            if (saturate || f.NaN == NaNKind.None) return sign | f.MaxCode;
            if (f.NaN == NaNKind.Ieee) return sign | f.InfinityCode;
            return f.NaN == NaNKind.NegativeZero ? f.NaNCode : sign | f.NaNCode;
        }
        if (rounded == 0) return f.NaN == NaNKind.NegativeZero ? 0 : sign; // the FNUZ formats have no -0
        return sign | CodeOf(rounded, f);
    }

    /// <summary>The value <paramref name="value"/> becomes when stored in <paramref name="type"/> (encode, then decode).</summary>
    public static float Round(double value, ElementType type, bool saturate = true) => Decode(Encode(value, type, saturate), type);

    /// <summary>
    /// Rounds a non-negative <paramref name="a"/> to the nearest number with <paramref name="mantissaBits"/> fraction
    /// bits whose exponent is at least <paramref name="minExponent"/> (subnormals below it), ties to even, with no
    /// upper exponent limit. Exact in double for the small formats here.
    /// </summary>
    internal static double RoundToGrid(double a, int mantissaBits, int minExponent)
    {
        if (a == 0 || double.IsInfinity(a)) return a;
        int e = Math.Max(Math.ILogB(a), minExponent);
        int shift = e - mantissaBits; // the value of one unit in the last place is 2^shift
        double steps = Math.Round(Math.ScaleB(a, -shift), MidpointRounding.ToEven); // exact scaling by a power of two
        return Math.ScaleB(steps, shift);
    }

    /// <summary>The sign-less code of a representable positive finite value.</summary>
    private static int CodeOf(double v, Format f)
    {
        int e = Math.ILogB(v);
        if (e < f.MinExponent) return (int)Math.ScaleB(v, f.MantissaBits - f.MinExponent); // subnormal: mantissa only
        int mantissa = (int)Math.ScaleB(v, f.MantissaBits - e) - (1 << f.MantissaBits);
        return ((e + f.Bias) << f.MantissaBits) | mantissa;
    }
}
