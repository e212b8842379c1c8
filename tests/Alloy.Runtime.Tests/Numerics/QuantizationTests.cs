using Alloy.Runtime;
using Alloy.Runtime.Numerics;
using Xunit;

namespace Alloy.Runtime.Tests.Numerics;

public class QuantizationTests
{
    [Fact]
    public void Onnx_documentation_example_uint8()
    {
        // QuantizeLinear's example in the ONNX operator documentation: scale 2, zero point 128.
        float[] x = [0, 2, 3, 1000, -254, -1000];
        long[] expected = [128, 129, 130, 255, 1, 0];
        for (int i = 0; i < x.Length; i++)
            Assert.Equal(expected[i], Quantization.QuantizeToInteger(x[i], 2f, 128, ElementType.UInt8));
    }

    [Fact]
    public void Onnx_documentation_example_dequantize()
    {
        long[] q = [0, 3, 128, 255];
        float[] expected = [-256, -250, 0, 254];
        for (int i = 0; i < q.Length; i++) Assert.Equal(expected[i], Quantization.Dequantize(q[i], 128, 2f));
    }

    [Theory]
    [InlineData(2.5f, 2)]
    [InlineData(3.5f, 4)]
    [InlineData(-2.5f, -2)]
    [InlineData(-3.5f, -4)]
    [InlineData(0.5f, 0)]
    [InlineData(-0.5f, 0)]
    [InlineData(1.5f, 2)]
    [InlineData(2.4999998f, 2)]
    [InlineData(2.5000002f, 3)]
    public void Rounds_half_to_even(float scaled, long expected)
    {
        Assert.Equal(expected, Quantization.QuantizeToInteger(scaled, 1f, 0, ElementType.Int8));
        Assert.Equal(expected + 10, Quantization.QuantizeToInteger(scaled, 1f, 10, ElementType.Int16));
    }

    [Theory]
    [InlineData(ElementType.Int8, -128, 127)]
    [InlineData(ElementType.UInt8, 0, 255)]
    [InlineData(ElementType.Int16, -32768, 32767)]
    [InlineData(ElementType.UInt16, 0, 65535)]
    [InlineData(ElementType.Int4, -8, 7)]
    [InlineData(ElementType.UInt4, 0, 15)]
    public void Saturates_to_the_target_range(ElementType type, long min, long max)
    {
        Assert.Equal((min, max), Quantization.Range(type));
        Assert.Equal(max, Quantization.QuantizeToInteger(1e30f, 1f, 0, type));
        Assert.Equal(min, Quantization.QuantizeToInteger(-1e30f, 1f, 0, type));
        Assert.Equal(max, Quantization.QuantizeToInteger(float.PositiveInfinity, 1f, 0, type));
        Assert.Equal(min, Quantization.QuantizeToInteger(float.NegativeInfinity, 1f, 0, type));
        Assert.Equal(max, Quantization.QuantizeToInteger(max + 0.5f, 1f, 0, type)); // the tie may round past max; it saturates
        Assert.Equal(max, Quantization.QuantizeToInteger(max + 1, 1f, 0, type));
        Assert.Equal(min, Quantization.QuantizeToInteger(min - 1, 1f, 0, type));
        // The zero point shifts after rounding, then the sum saturates.
        Assert.Equal(max, Quantization.QuantizeToInteger(1, 1f, max, type));
        Assert.Equal(min, Quantization.QuantizeToInteger(-1, 1f, min, type));
        // NaN has no integer image: it maps to the zero point (the code of 0).
        Assert.Equal(min + 1, Quantization.QuantizeToInteger(float.NaN, 1f, min + 1, type));
        // Every value of the range is reachable exactly.
        for (long q = min; q <= max; q += Math.Max(1, (max - min) / 97))
            Assert.Equal(q, Quantization.QuantizeToInteger(q * 0.25f, 0.25f, 0, type));
    }

    [Fact]
    public void The_division_is_float32()
    {
        // Find x with a scale where x / scale rounds (in float32) to exactly k + 0.5 although the exact quotient lies
        // above it: ONNX (and ONNX Runtime) round the float32 quotient, half to even, so the answer is the even k.
        float scale = 0.1f;
        int found = 0;
        for (int k = 0; k < 2000 && found < 20; k++)
        {
            float target = k + 0.5f;
            float x = target * scale;
            for (int step = -4; step <= 4; step++)
            {
                float xi = step < 0 ? Nudge(x, step, MathF.BitDecrement) : Nudge(x, step, MathF.BitIncrement);
                float q = xi / scale;
                double exact = (double)xi / scale;
                if (q != target || exact == target) continue;
                long expected = k % 2 == 0 ? k : k + 1;
                Assert.Equal(expected, Quantization.QuantizeToInteger(xi, scale, 0, ElementType.Int16));
                found++;
            }
        }
        Assert.True(found >= 5, $"only {found} float32 tie cases found");

        static float Nudge(float v, int steps, Func<float, float> f)
        {
            for (int i = 0; i < Math.Abs(steps); i++) v = f(v);
            return v;
        }
    }

    [Fact]
    public void Float8_targets_encode_the_float32_quotient()
    {
        Assert.Equal(0x7E, Quantization.QuantizeToMiniFloat(1000f, 2f, ElementType.Float8E4M3FN)); // 500 → 448 saturated
        Assert.Equal(0x7F, Quantization.QuantizeToMiniFloat(1000f, 2f, ElementType.Float8E4M3FN, saturate: false)); // NaN
        Assert.Equal(0xFC, Quantization.QuantizeToMiniFloat(-1e6f, 1f, ElementType.Float8E5M2, saturate: false)); // -inf
        Assert.Equal(0xFB, Quantization.QuantizeToMiniFloat(-1e6f, 1f, ElementType.Float8E5M2));
        Assert.Equal(0x80, Quantization.QuantizeToMiniFloat(1e6f, 1f, ElementType.Float8E5M2FNUZ, saturate: false));
        Assert.Equal(0x80, Quantization.QuantizeToMiniFloat(-0.0f, 1f, ElementType.Float8E4M3FN)); // -0 kept
        Assert.Equal(0x00, Quantization.QuantizeToMiniFloat(-0.0f, 1f, ElementType.Float8E4M3FNUZ));
        // 3 / 0.5 = 6 exactly; 1.0625 is the E4M3 tie between 1 and 1.125 → 1 (even).
        Assert.Equal(0x4C, Quantization.QuantizeToMiniFloat(3f, 0.5f, ElementType.Float8E4M3FN));
        Assert.Equal(0x38, Quantization.QuantizeToMiniFloat(2.125f, 2f, ElementType.Float8E4M3FN));
        for (int code = 0; code < 256; code++)
        {
            float v = MiniFloat.Decode(code, ElementType.Float8E4M3FN);
            if (float.IsNaN(v)) continue;
            Assert.Equal(code, Quantization.QuantizeToMiniFloat(v * 4, 4f, ElementType.Float8E4M3FN));
            Assert.Equal(v * 4, Quantization.DequantizeMiniFloat(code, ElementType.Float8E4M3FN, 4f));
        }
        Assert.Throws<ArgumentException>(() => Quantization.QuantizeToMiniFloat(1f, 1f, ElementType.Float8E4M3FN, zeroPoint: 1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => Quantization.QuantizeToMiniFloat(1f, 1f, ElementType.Int8));
    }

    [Fact]
    public void Float4_target_adds_the_zero_point_before_rounding()
    {
        Assert.Equal(0x4, Quantization.QuantizeToMiniFloat(5f, 2f, ElementType.Float4E2M1)); // 2.5: tie between 2 (even) and 3
        Assert.Equal(0x6, Quantization.QuantizeToMiniFloat(5f, 2f, ElementType.Float4E2M1, zeroPoint: 1f)); // 3.5: tie → 4
        Assert.Equal(0xF, Quantization.QuantizeToMiniFloat(-20f, 1f, ElementType.Float4E2M1, saturate: false)); // always saturates
        Assert.Equal(0x7, Quantization.QuantizeToMiniFloat(float.NaN, 1f, ElementType.Float4E2M1));
        Assert.Equal(-1.5f, Quantization.DequantizeMiniFloat(0xB, ElementType.Float4E2M1, 1f));
    }

    [Fact]
    public void QuantizeInto_stores_every_target_type()
    {
        float[] x = [-3f, -0.25f, 0.75f, 2.5f, 100f];
        const float scale = 0.5f;
        foreach (var type in new[] { ElementType.Int8, ElementType.UInt8, ElementType.Int16, ElementType.UInt16, ElementType.Int4, ElementType.UInt4 })
        {
            long zp = type is ElementType.UInt8 or ElementType.UInt16 or ElementType.UInt4 ? 3 : -1;
            using var y = Tensor.Create(type, [x.Length]);
            for (int i = 0; i < x.Length; i++) Quantization.QuantizeInto(y, i, x[i], scale, zp);
            var (min, max) = Quantization.Range(type);
            for (int i = 0; i < x.Length; i++)
            {
                long expected = Math.Clamp((long)Math.Round(x[i] / scale, MidpointRounding.ToEven) + zp, min, max);
                Assert.Equal(expected, ElementConvert.GetLong(y, i));
                Assert.Equal((float)(expected - zp) * scale, Quantization.DequantizeFrom(y, i, scale, zp));
            }
        }
        using var f8 = Tensor.Create(ElementType.Float8E5M2, [x.Length]);
        for (int i = 0; i < x.Length; i++) Quantization.QuantizeInto(f8, i, x[i], scale, 0);
        Assert.Equal([-6.0, -0.5, 1.5, 5, 192], ElementConvert.ToDoubles(f8));
        Assert.Equal(-3f, Quantization.DequantizeFrom(f8, 0, scale, 0));
        Assert.Throws<ArgumentException>(() => Quantization.DequantizeFrom(f8, 0, scale, 1));

        using var f4 = Tensor.Create(ElementType.Float4E2M1, [x.Length]);
        for (int i = 0; i < x.Length; i++) Quantization.QuantizeInto(f4, i, x[i], scale, 0);
        Assert.Equal([-6.0, -0.5, 1.5, 4, 6], ElementConvert.ToDoubles(f4));
        Assert.Equal(3f, Quantization.DequantizeFrom(f4, 4, scale, 1)); // float4 ignores the zero point, as ONNX's reference

        using var wrong = Tensor.Create(ElementType.Float, [1]);
        Assert.Throws<ArgumentException>(() => Quantization.QuantizeInto(wrong, 0, 1f, 1f, 0));
        Assert.Throws<ArgumentException>(() => Quantization.DequantizeFrom(wrong, 0, 1f, 0));
        using var i8 = Tensor.Create(ElementType.Int8, [1]);
        Assert.Throws<ArgumentException>(() => Quantization.QuantizeInto(i8, 0, 1f, 1f, 0.5));
    }

    [Fact]
    public void Dequantize_int32_and_extremes()
    {
        using var q = Tensor.FromArray<int>(ElementType.Int32, [2], [int.MaxValue, int.MinValue]);
        Assert.Equal((float)int.MaxValue * 0.5f, Quantization.DequantizeFrom(q, 0, 0.5f, 0));
        Assert.Equal((float)int.MinValue * 0.5f, Quantization.DequantizeFrom(q, 1, 0.5f, 0));
        Assert.Equal(-255f * 0.1f, Quantization.Dequantize(0, 255, 0.1f));
        Assert.Equal(255f * 0.1f, Quantization.Dequantize(127, -128, 0.1f));
        Assert.True(Quantization.IsTarget(ElementType.Float8E4M3FNUZ));
        Assert.False(Quantization.IsTarget(ElementType.Int32));
        Assert.Throws<ArgumentOutOfRangeException>(() => Quantization.Range(ElementType.Int32));
    }
}
