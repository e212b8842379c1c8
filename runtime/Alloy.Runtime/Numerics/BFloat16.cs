namespace Alloy.Runtime.Numerics;

/// <summary>
/// bfloat16: the upper 16 bits of an IEEE float32. Conversion from float32 rounds to nearest, ties to even;
/// NaN stays NaN (quiet) with its sign.
/// </summary>
public readonly record struct BFloat16(ushort Bits)
{
    public static BFloat16 FromFloat(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000)
            return new BFloat16((ushort)((bits >> 16) | 0x0040)); // NaN: keep sign and payload top bits, force quiet
        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return new BFloat16((ushort)((bits + rounding) >> 16));
    }

    public float ToFloat() => BitConverter.UInt32BitsToSingle((uint)Bits << 16);

    /// <summary>Rounds a float32 to the nearest bfloat16 value and widens it back.</summary>
    public static float Round(float value) => FromFloat(value).ToFloat();

    public override string ToString() => ToFloat().ToString(System.Globalization.CultureInfo.InvariantCulture);
}
