namespace Alloy.Runtime.Numerics;

/// <summary>
/// The 8-bit and 4-bit float formats of ONNX: decode to float32 exactly; encode from float32 with
/// round-to-nearest-even, saturating to the largest finite value (ONNX Cast's default <c>saturate=1</c>) or
/// mapping overflow to infinity/NaN when not saturating.
/// </summary>
public static class MiniFloat
{
    private readonly record struct Format(int ExponentBits, int MantissaBits, int Bias, bool HasInfinity, bool FiniteOnlyNaNAllOnes, bool UnsignedZeroNaN, bool HasNaN);

    private static Format Of(ElementType t) => t switch
    {
        ElementType.Float8E4M3FN => new(4, 3, 7, false, true, false, true),
        ElementType.Float8E4M3FNUZ => new(4, 3, 8, false, false, true, true),
        ElementType.Float8E5M2 => new(5, 2, 15, true, false, false, true),
        ElementType.Float8E5M2FNUZ => new(5, 2, 16, false, false, true, true),
        ElementType.Float4E2M1 => new(2, 1, 1, false, false, false, false),
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "not a mini-float type"),
    };

    private static int Bits(Format f) => 1 + f.ExponentBits + f.MantissaBits;

    public static float Decode(int code, ElementType type)
    {
        var f = Of(type);
        int bits = Bits(f);
        code &= (1 << bits) - 1;
        int sign = code >> (bits - 1);
        int exp = (code >> f.MantissaBits) & ((1 << f.ExponentBits) - 1);
        int man = code & ((1 << f.MantissaBits) - 1);
        int expMax = (1 << f.ExponentBits) - 1;
        if (f.UnsignedZeroNaN && code == 1 << (bits - 1)) return float.NaN;
        if (f.FiniteOnlyNaNAllOnes && exp == expMax && man == (1 << f.MantissaBits) - 1) return sign == 1 ? -float.NaN : float.NaN;
        if (f.HasInfinity && exp == expMax) return man == 0 ? (sign == 1 ? float.NegativeInfinity : float.PositiveInfinity) : float.NaN;
        float magnitude = exp == 0
            ? man * MathF.Pow(2, 1 - f.Bias - f.MantissaBits)
            : (1 + man / (float)(1 << f.MantissaBits)) * MathF.Pow(2, exp - f.Bias);
        return sign == 1 ? -magnitude : magnitude;
    }

    /// <summary>Largest finite value of the format.</summary>
    public static float MaxFinite(ElementType type) => type switch
    {
        ElementType.Float8E4M3FN => 448f,
        ElementType.Float8E4M3FNUZ => 240f,
        ElementType.Float8E5M2 => 57344f,
        ElementType.Float8E5M2FNUZ => 57344f,
        ElementType.Float4E2M1 => 6f,
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    public static int Encode(float value, ElementType type, bool saturate = true)
    {
        var f = Of(type);
        int bits = Bits(f);
        int signBit = 1 << (bits - 1);
        int nanCode = f.UnsignedZeroNaN ? signBit : f.FiniteOnlyNaNAllOnes ? (signBit - 1) : f.HasInfinity ? ((1 << (bits - 1)) - 1) : 0;
        if (float.IsNaN(value)) return f.HasNaN ? (f.UnsignedZeroNaN ? nanCode : nanCode | (float.IsNegative(value) && !f.UnsignedZeroNaN ? signBit : 0)) : 0;
        int sign = float.IsNegative(value) ? signBit : 0;
        float a = MathF.Abs(value);
        float max = MaxFinite(type);
        if (float.IsInfinity(a) || a > max)
        {
            if (saturate || !f.HasNaN) return sign | EncodeMagnitude(max, f);
            if (f.HasInfinity) return sign | (((1 << f.ExponentBits) - 1) << f.MantissaBits);
            return f.UnsignedZeroNaN ? nanCode : sign | nanCode;
        }
        int code = EncodeMagnitude(a, f);
        if (code == 0) return f.UnsignedZeroNaN ? 0 : sign; // no negative zero in the FNUZ formats
        // Rounding can carry past the largest finite code.
        if (Decode(code, type) > max || float.IsNaN(Decode(code, type)))
        {
            if (saturate || !f.HasNaN) return sign | EncodeMagnitude(max, f);
            if (f.HasInfinity) return sign | (((1 << f.ExponentBits) - 1) << f.MantissaBits);
            return f.UnsignedZeroNaN ? nanCode : sign | nanCode;
        }
        return sign | code;
    }

    /// <summary>Nearest representable magnitude (ties to even), as sign-less code, for a finite non-negative value.</summary>
    private static int EncodeMagnitude(float a, Format f)
    {
        if (a == 0) return 0;
        int minExp = 1 - f.Bias; // exponent of the smallest normal
        int e = Math.Max((int)Math.Floor(Math.Log2(a)), minExp);
        double scale = Math.Pow(2, e - f.MantissaBits); // value of one mantissa step at this exponent
        double steps = Math.Round(a / scale, MidpointRounding.ToEven); // includes the implicit leading bit when normal
        int mantissaSteps = 1 << f.MantissaBits;
        if (steps >= 2 * mantissaSteps)
        {
            e++;
            steps /= 2;
        }
        if (steps < mantissaSteps) return (int)steps; // subnormal (e == minExp)
        int exponentField = e + f.Bias;
        return (exponentField << f.MantissaBits) | ((int)steps - mantissaSteps);
    }
}
