namespace Alloy.Runtime.Numerics;

/// <summary>
/// bfloat16: the upper 16 bits of an IEEE float32 (8 exponent bits, 7 fraction bits). Conversion from float32 or
/// float64 rounds once to nearest, ties to even, with IEEE overflow (values at or beyond max + half an ulp become
/// infinity) and gradual underflow; NaN stays NaN (quiet) with its sign; -0 stays -0.
/// </summary>
public readonly record struct BFloat16(ushort Bits)
{
    public static BFloat16 FromFloat(float value)
    {
        // Adding 0x7FFF plus the lowest kept bit and truncating is round-to-nearest-even on the bit pattern; a carry
        // out of the fraction increments the exponent, and from the largest finite value reaches infinity.
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000)
            return new BFloat16((ushort)((bits >> 16) | 0x0040)); // NaN: keep sign and payload top bits, force quiet
        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return new BFloat16((ushort)((bits + rounding) >> 16));
    }

    /// <summary>Rounds a double straight to bfloat16 (one rounding; going through float32 could round twice).</summary>
    public static BFloat16 FromDouble(double value)
    {
        if (double.IsNaN(value)) return FromFloat((float)value); // float32 keeps the NaN's sign
        double rounded = MiniFloat.RoundToGrid(Math.Abs(value), 7, -126); // exact; (float) below is exact or overflows to infinity
        uint bits = BitConverter.SingleToUInt32Bits((float)rounded) >> 16;
        return new BFloat16((ushort)(bits | (double.IsNegative(value) ? 0x8000u : 0)));
    }

    public float ToFloat() => BitConverter.UInt32BitsToSingle((uint)Bits << 16);

    /// <summary>Rounds a float32 to the nearest bfloat16 value and widens it back.</summary>
    public static float Round(float value) => FromFloat(value).ToFloat();

    /// <summary>Rounds a double to the nearest bfloat16 value (once) and widens it back.</summary>
    public static float Round(double value) => FromDouble(value).ToFloat();

    public bool IsNaN => (Bits & 0x7FFF) > 0x7F80;

    public override string ToString() => ToFloat().ToString(System.Globalization.CultureInfo.InvariantCulture);
}
