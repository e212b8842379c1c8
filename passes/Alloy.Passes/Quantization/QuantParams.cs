using Alloy.IR;

namespace Alloy.Passes.Quantization;

/// <summary>The quantization of one activation tensor: scale, zero point and quantized element type (u8 or i8).</summary>
public readonly record struct QuantParams(float Scale, int ZeroPoint, DataType Type)
{
    /// <summary>Parameters covering [lo, hi] (widened to include 0) under <paramref name="scheme"/>.</summary>
    public static QuantParams For(double lo, double hi, ActivationScheme scheme, bool bf16Scale)
    {
        lo = Math.Min(lo, 0);
        hi = Math.Max(hi, 0);
        if (scheme == ActivationScheme.Int8Symmetric)
        {
            double m = Math.Max(-lo, hi);
            float s = m > 0 ? (float)(m / 127) : 1f;
            if (bf16Scale) s = RoundUpToBf16(s);
            return new QuantParams(s, 0, DataType.Int8);
        }
        float scale = hi > lo ? (float)((hi - lo) / 255) : 1f;
        if (scale == 0) scale = float.Epsilon;
        if (bf16Scale) scale = RoundUpToBf16(scale);
        int zp = (int)Math.Clamp(Math.Round(-lo / scale, MidpointRounding.ToEven), 0, 255);
        return new QuantParams(scale, zp, DataType.UInt8);
    }

    /// <summary>The smallest BF16-representable float not below <paramref name="f"/> (positive, finite).</summary>
    public static float RoundUpToBf16(float f)
    {
        uint bits = BitConverter.SingleToUInt32Bits(f);
        if ((bits & 0xFFFF) == 0) return f;
        return BitConverter.UInt32BitsToSingle((bits & 0xFFFF0000u) + 0x10000u);
    }
}
