using Alloy.Runtime;
using Alloy.Runtime.Numerics;
using Xunit;

namespace Alloy.Runtime.Tests.Numerics;

/// <summary>
/// Float8 / float4 decoding and encoding against references computed here from the format definitions in the ONNX
/// specification (sign / exponent / mantissa with the stated bias, and each format's NaN and infinity encodings),
/// never from the code under test.
/// </summary>
public class MiniFloatTests
{
    /// <summary>The definition of one format, as the ONNX specification states it.</summary>
    public sealed record Spec(ElementType Type, int E, int M, int Bias, double Max, bool Fnuz, bool Ieee, bool FiniteNaNAllOnes)
    {
        public override string ToString() => Type.ToString();
    }

    public static readonly Spec E4M3FN = new(ElementType.Float8E4M3FN, 4, 3, 7, 448, Fnuz: false, Ieee: false, FiniteNaNAllOnes: true);
    public static readonly Spec E4M3FNUZ = new(ElementType.Float8E4M3FNUZ, 4, 3, 8, 240, Fnuz: true, Ieee: false, FiniteNaNAllOnes: false);
    public static readonly Spec E5M2 = new(ElementType.Float8E5M2, 5, 2, 15, 57344, Fnuz: false, Ieee: true, FiniteNaNAllOnes: false);
    public static readonly Spec E5M2FNUZ = new(ElementType.Float8E5M2FNUZ, 5, 2, 16, 57344, Fnuz: true, Ieee: false, FiniteNaNAllOnes: false);
    public static readonly Spec[] Float8Specs = [E4M3FN, E4M3FNUZ, E5M2, E5M2FNUZ];

    public static TheoryData<Spec> Float8 => [.. Float8Specs];

    /// <summary>The value of a code by the definition: NaN/Inf per format, (-1)^s · 2^(e−bias) · (1 + m/2^M) for normal
    /// codes and (-1)^s · 2^(1−bias) · (m/2^M) for subnormal ones.</summary>
    private static double SpecValue(Spec s, int code)
    {
        int sign = code >> 7, e = (code >> s.M) & ((1 << s.E) - 1), m = code & ((1 << s.M) - 1);
        int eMax = (1 << s.E) - 1;
        if (s.Fnuz && code == 0x80) return double.NaN;
        if (s.FiniteNaNAllOnes && e == eMax && m == (1 << s.M) - 1) return double.NaN;
        if (s.Ieee && e == eMax) return m == 0 ? (sign == 1 ? double.NegativeInfinity : double.PositiveInfinity) : double.NaN;
        double frac = m / Math.Pow(2, s.M);
        double magnitude = e == 0 ? Math.Pow(2, 1 - s.Bias) * frac : Math.Pow(2, e - s.Bias) * (1 + frac);
        return sign == 1 ? -magnitude : magnitude;
    }

    [Theory, MemberData(nameof(Float8))]
    public void Decode_every_code_matches_the_format_definition(Spec s)
    {
        for (int code = 0; code < 256; code++)
        {
            double expected = SpecValue(s, code);
            float actual = MiniFloat.Decode(code, s.Type);
            if (double.IsNaN(expected)) Assert.True(float.IsNaN(actual), $"{s}: code 0x{code:X2} should be NaN, got {actual}");
            else Assert.True(expected.Equals((double)actual), $"{s}: code 0x{code:X2} should be {expected:R}, got {actual:R}");
        }
    }

    [Fact]
    public void Decode_known_values_from_the_specification()
    {
        // E4M3FN: no infinity, NaN = S.1111.111, max 448, -0 exists, smallest subnormal 2^-9.
        Assert.Equal(448f, MiniFloat.Decode(0x7E, ElementType.Float8E4M3FN));
        Assert.Equal(-448f, MiniFloat.Decode(0xFE, ElementType.Float8E4M3FN));
        Assert.True(float.IsNaN(MiniFloat.Decode(0x7F, ElementType.Float8E4M3FN)));
        Assert.True(float.IsNaN(MiniFloat.Decode(0xFF, ElementType.Float8E4M3FN)));
        Assert.True(float.IsNegative(MiniFloat.Decode(0xFF, ElementType.Float8E4M3FN)), "E4M3FN 0xFF is a negative NaN");
        Assert.False(float.IsNegative(MiniFloat.Decode(0x7F, ElementType.Float8E4M3FN)), "E4M3FN 0x7F is a positive NaN");
        Assert.Equal(1f, MiniFloat.Decode(0x38, ElementType.Float8E4M3FN));
        Assert.Equal(MathF.Pow(2, -6), MiniFloat.Decode(0x08, ElementType.Float8E4M3FN));
        Assert.Equal(MathF.Pow(2, -9), MiniFloat.Decode(0x01, ElementType.Float8E4M3FN));
        Assert.True(float.IsNegative(MiniFloat.Decode(0x80, ElementType.Float8E4M3FN)) && MiniFloat.Decode(0x80, ElementType.Float8E4M3FN) == 0);
        // E4M3FNUZ: bias 8, NaN = 0x80 only, max 240, smallest subnormal 2^-10.
        Assert.Equal(240f, MiniFloat.Decode(0x7F, ElementType.Float8E4M3FNUZ));
        Assert.Equal(-240f, MiniFloat.Decode(0xFF, ElementType.Float8E4M3FNUZ));
        Assert.True(float.IsNaN(MiniFloat.Decode(0x80, ElementType.Float8E4M3FNUZ)));
        Assert.Equal(1f, MiniFloat.Decode(0x40, ElementType.Float8E4M3FNUZ));
        Assert.Equal(MathF.Pow(2, -10), MiniFloat.Decode(0x01, ElementType.Float8E4M3FNUZ));
        // E5M2: IEEE-like, ±inf at S.11111.00, max 57344, smallest subnormal 2^-16.
        Assert.Equal(57344f, MiniFloat.Decode(0x7B, ElementType.Float8E5M2));
        Assert.Equal(float.PositiveInfinity, MiniFloat.Decode(0x7C, ElementType.Float8E5M2));
        Assert.Equal(float.NegativeInfinity, MiniFloat.Decode(0xFC, ElementType.Float8E5M2));
        foreach (int nan in new[] { 0x7D, 0x7E, 0x7F, 0xFD, 0xFE, 0xFF }) Assert.True(float.IsNaN(MiniFloat.Decode(nan, ElementType.Float8E5M2)));
        Assert.Equal(1f, MiniFloat.Decode(0x3C, ElementType.Float8E5M2));
        Assert.Equal(MathF.Pow(2, -16), MiniFloat.Decode(0x01, ElementType.Float8E5M2));
        // E5M2FNUZ: bias 16, NaN = 0x80 only, max 57344, smallest subnormal 2^-17.
        Assert.Equal(57344f, MiniFloat.Decode(0x7F, ElementType.Float8E5M2FNUZ));
        Assert.True(float.IsNaN(MiniFloat.Decode(0x80, ElementType.Float8E5M2FNUZ)));
        Assert.Equal(1f, MiniFloat.Decode(0x40, ElementType.Float8E5M2FNUZ));
        Assert.Equal(MathF.Pow(2, -17), MiniFloat.Decode(0x01, ElementType.Float8E5M2FNUZ));
    }

    [Theory, MemberData(nameof(Float8))]
    public void Special_code_counts_and_max_finite(Spec s)
    {
        var values = Enumerable.Range(0, 256).Select(c => MiniFloat.Decode(c, s.Type)).ToArray();
        int nan = values.Count(float.IsNaN), inf = values.Count(float.IsInfinity);
        int expectedNaN = s.Type switch { ElementType.Float8E4M3FN => 2, ElementType.Float8E5M2 => 6, _ => 1 };
        Assert.Equal(expectedNaN, nan);
        Assert.Equal(s.Ieee ? 2 : 0, inf);
        Assert.Equal((float)s.Max, values.Where(float.IsFinite).Max());
        Assert.Equal((float)-s.Max, values.Where(float.IsFinite).Min());
        Assert.Equal((float)s.Max, MiniFloat.MaxFinite(s.Type));
        // The FNUZ formats have a single zero; the others have +0 and -0.
        Assert.Equal(s.Fnuz ? 1 : 2, values.Count(v => v == 0));
    }

    [Theory, MemberData(nameof(Float8))]
    public void Every_representable_value_round_trips(Spec s)
    {
        for (int code = 0; code < 256; code++)
        {
            double v = SpecValue(s, code);
            if (double.IsNaN(v)) continue;
            foreach (bool saturate in new[] { true, false })
            {
                if (double.IsInfinity(v) && saturate) continue; // saturating maps ±inf to ±max (below)
                Assert.Equal(code, MiniFloat.Encode(v, s.Type, saturate));
                Assert.Equal(code, MiniFloat.Encode((float)v, s.Type, saturate));
            }
        }
    }

    /// <summary>
    /// Brute-force reference encoder: the nearest of all finite codes (and of the first value beyond max, which is
    /// an overflow), ties to the even code; overflow per saturate; zero keeps the sign except in FNUZ.
    /// </summary>
    private static int ReferenceEncode(Spec s, double x, bool saturate)
    {
        int signBit = double.IsNegative(x) ? 0x80 : 0;
        if (double.IsNaN(x)) return s.Fnuz ? 0x80 : signBit | 0x7F;
        double a = Math.Abs(x);
        var finite = Enumerable.Range(0, 128).Where(c => double.IsFinite(SpecValue(s, c))).ToArray();
        int maxCode = finite.Max();
        double max = SpecValue(s, maxCode);
        Assert.Equal(s.Max, max);
        double beyond = max + Math.Pow(2, Math.Floor(Math.Log2(max)) - s.M); // next value of the unbounded grid
        if (a >= beyond) return Overflow();
        int bestCode = -1;
        double bestDistance = double.PositiveInfinity;
        bool bestEven = false;
        foreach (var (code, value) in finite.Select(c => (c, SpecValue(s, c))).Append((maxCode + 1, beyond)))
        {
            double d = Math.Abs(a - value); // exact near a (Sterbenz); far values cannot tie with the nearest
            bool even = (code & 1) == 0;
            if (d < bestDistance || (d == bestDistance && even && !bestEven))
            {
                bestCode = code;
                bestDistance = d;
                bestEven = even;
            }
        }
        if (bestCode == maxCode + 1) return Overflow();
        if (bestCode == 0 && s.Fnuz) return 0;
        return signBit | bestCode;

        int Overflow()
        {
            if (saturate) return signBit | maxCode;
            if (s.Ieee) return signBit | 0x7C;
            return s.Fnuz ? 0x80 : signBit | 0x7F;
        }
    }

    /// <summary>Every midpoint between neighbours, each nudged by one double and one float ulp either way, the midpoint
    /// beyond max, tiny and huge values, and a seeded random sweep over the range.</summary>
    private static IEnumerable<double> Probes(Spec s)
    {
        var values = Enumerable.Range(0, 128).Select(c => SpecValue(s, c)).Where(double.IsFinite).Distinct().Order().ToList();
        values.Add(s.Max + Math.Pow(2, Math.Floor(Math.Log2(s.Max)) - s.M));
        for (int i = 0; i + 1 < values.Count; i++)
        {
            double mid = (values[i] + values[i + 1]) / 2;
            yield return mid;
            yield return Math.BitIncrement(mid);
            yield return Math.BitDecrement(mid);
            yield return MathF.BitIncrement((float)mid);
            yield return MathF.BitDecrement((float)mid);
            yield return values[i];
            yield return (values[i] * 3 + values[i + 1]) / 4;
        }
        yield return 0;
        yield return double.Epsilon;
        yield return 1e-30;
        yield return s.Max * 2;
        yield return 1e30;
        yield return double.MaxValue;
        yield return double.PositiveInfinity;
        var rng = new Random(1234);
        for (int i = 0; i < 2000; i++) yield return Math.ScaleB(rng.NextDouble() + 0.5, rng.Next(-22, 18));
    }

    [Theory, MemberData(nameof(Float8))]
    public void Encode_matches_the_brute_force_reference(Spec s)
    {
        foreach (double p in Probes(s))
            foreach (double x in new[] { p, -p })
                foreach (bool saturate in new[] { true, false })
                {
                    int expected = ReferenceEncode(s, x, saturate);
                    int actual = MiniFloat.Encode(x, s.Type, saturate);
                    Assert.True(expected == actual, $"{s}: Encode({x:R}, saturate={saturate}) = 0x{actual:X2}, expected 0x{expected:X2}");
                }
    }

    [Theory, MemberData(nameof(Float8))]
    public void Ties_round_to_the_even_neighbour(Spec s)
    {
        // For each pair of positive neighbours below max the exact midpoint goes to the code with an even last bit.
        for (int code = 0; code < 0x7F; code++)
        {
            double lo = SpecValue(s, code), hi = SpecValue(s, code + 1);
            if (!double.IsFinite(lo) || !double.IsFinite(hi)) continue;
            int expected = (code & 1) == 0 ? code : code + 1;
            double mid = (lo + hi) / 2;
            Assert.Equal(expected, MiniFloat.Encode(mid, s.Type));
            int negative = s.Fnuz && expected == 0 ? 0 : expected | 0x80;
            Assert.Equal(negative, MiniFloat.Encode(-mid, s.Type));
        }
    }

    [Fact]
    public void Overflow_at_the_top_of_each_format()
    {
        // E4M3FN: 448 = 1.110 · 2^8 is even, so the midpoint 464 towards 480 rounds down; above it overflows.
        Assert.Equal(0x7E, MiniFloat.Encode(464.0, ElementType.Float8E4M3FN, saturate: false));
        Assert.Equal(0x7E, MiniFloat.Encode(449.0, ElementType.Float8E4M3FN, saturate: false));
        Assert.Equal(0x7F, MiniFloat.Encode(464.0001, ElementType.Float8E4M3FN, saturate: false));
        Assert.Equal(0xFF, MiniFloat.Encode(-464.0001, ElementType.Float8E4M3FN, saturate: false));
        Assert.Equal(0x7E, MiniFloat.Encode(464.0001, ElementType.Float8E4M3FN, saturate: true));
        // E4M3FNUZ: 240 = 1.111 · 2^7 is odd, so the midpoint 248 rounds up to 256 and overflows.
        Assert.Equal(0x7F, MiniFloat.Encode(247.999, ElementType.Float8E4M3FNUZ, saturate: false));
        Assert.Equal(0x80, MiniFloat.Encode(248.0, ElementType.Float8E4M3FNUZ, saturate: false));
        Assert.Equal(0x80, MiniFloat.Encode(-248.0, ElementType.Float8E4M3FNUZ, saturate: false));
        Assert.Equal(0xFF, MiniFloat.Encode(-248.0, ElementType.Float8E4M3FNUZ, saturate: true));
        // E5M2: 57344 = 1.11 · 2^15 is odd; the midpoint 61440 rounds to 65536 = infinity.
        Assert.Equal(0x7B, MiniFloat.Encode(61439.99, ElementType.Float8E5M2, saturate: false));
        Assert.Equal(0x7C, MiniFloat.Encode(61440.0, ElementType.Float8E5M2, saturate: false));
        Assert.Equal(0xFC, MiniFloat.Encode(-61440.0, ElementType.Float8E5M2, saturate: false));
        Assert.Equal(0x7B, MiniFloat.Encode(61440.0, ElementType.Float8E5M2, saturate: true));
        // E5M2FNUZ: the same values, NaN on overflow.
        Assert.Equal(0x7F, MiniFloat.Encode(61439.99, ElementType.Float8E5M2FNUZ, saturate: false));
        Assert.Equal(0x80, MiniFloat.Encode(61440.0, ElementType.Float8E5M2FNUZ, saturate: false));
    }

    [Fact]
    public void Saturation_of_infinities_and_huge_values()
    {
        foreach (var s in Float8Specs)
        {
            int max = Enumerable.Range(0, 128).Where(c => SpecValue(s, c) == s.Max).Single();
            foreach (double big in new[] { double.PositiveInfinity, 1e9, s.Max * 1.5 })
            {
                Assert.Equal(max, MiniFloat.Encode(big, s.Type, saturate: true));
                Assert.Equal(max | 0x80, MiniFloat.Encode(-big, s.Type, saturate: true));
                Assert.Equal(max, MiniFloat.Encode((float)big, s.Type)); // saturating is the default
                float decoded = MiniFloat.Decode(MiniFloat.Encode(big, s.Type, saturate: false), s.Type);
                float decodedNegative = MiniFloat.Decode(MiniFloat.Encode(-big, s.Type, saturate: false), s.Type);
                if (s.Ieee)
                {
                    Assert.Equal(float.PositiveInfinity, decoded);
                    Assert.Equal(float.NegativeInfinity, decodedNegative);
                }
                else
                {
                    Assert.True(float.IsNaN(decoded), $"{s}: {big} without saturation should be NaN");
                    Assert.True(float.IsNaN(decodedNegative), $"{s}: -{big} without saturation should be NaN");
                }
            }
        }
    }

    [Fact]
    public void NaN_stays_NaN_with_the_format_encoding()
    {
        // Spelled out: .NET's double.NaN has the sign bit set (x86's default NaN), NumPy's np.nan does not.
        double positiveNaN = BitConverter.UInt64BitsToDouble(0x7FF8_0000_0000_0000), negativeNaN = BitConverter.UInt64BitsToDouble(0xFFF8_0000_0000_0000);
        Assert.Equal(0x7F, MiniFloat.Encode(positiveNaN, ElementType.Float8E4M3FN));
        Assert.Equal(0x7F, MiniFloat.Encode(BitConverter.UInt32BitsToSingle(0x7F80_0001), ElementType.Float8E4M3FN)); // signalling NaN
        Assert.Equal(0xFF, MiniFloat.Encode(negativeNaN, ElementType.Float8E4M3FN));
        Assert.Equal(0x80, MiniFloat.Encode(positiveNaN, ElementType.Float8E4M3FNUZ));
        Assert.Equal(0x80, MiniFloat.Encode(negativeNaN, ElementType.Float8E4M3FNUZ));
        Assert.Equal(0x80, MiniFloat.Encode(float.NaN, ElementType.Float8E5M2FNUZ, saturate: false));
        foreach (var s in Float8Specs)
            foreach (bool saturate in new[] { true, false })
                Assert.True(float.IsNaN(MiniFloat.Decode(MiniFloat.Encode(float.NaN, s.Type, saturate), s.Type)));
        Assert.True(float.IsNegative(MiniFloat.Decode(MiniFloat.Encode(negativeNaN, ElementType.Float8E5M2), ElementType.Float8E5M2)));
        Assert.False(float.IsNegative(MiniFloat.Decode(MiniFloat.Encode(positiveNaN, ElementType.Float8E5M2), ElementType.Float8E5M2)));
        Assert.Equal(0x7, MiniFloat.Encode(negativeNaN, ElementType.Float4E2M1)); // E2M1 has no NaN: +6, as ONNX's reference
    }

    [Fact]
    public void Zero_and_underflow_keep_the_sign_except_in_fnuz()
    {
        Assert.Equal(0x00, MiniFloat.Encode(0.0, ElementType.Float8E4M3FN));
        Assert.Equal(0x80, MiniFloat.Encode(-0.0, ElementType.Float8E4M3FN));
        Assert.Equal(0x80, MiniFloat.Encode(-1e-10, ElementType.Float8E5M2));
        Assert.Equal(0x00, MiniFloat.Encode(-0.0, ElementType.Float8E4M3FNUZ)); // never 0x80, which is NaN
        Assert.Equal(0x00, MiniFloat.Encode(-1e-10, ElementType.Float8E5M2FNUZ));
        // Half the smallest subnormal is a tie with zero (even): it rounds to zero; a hair above rounds up.
        Assert.Equal(0x00, MiniFloat.Encode(Math.Pow(2, -10), ElementType.Float8E4M3FN));
        Assert.Equal(0x01, MiniFloat.Encode(Math.BitIncrement(Math.Pow(2, -10)), ElementType.Float8E4M3FN));
        Assert.Equal(0x81, MiniFloat.Encode(-Math.BitIncrement(Math.Pow(2, -10)), ElementType.Float8E4M3FN));
    }

    [Fact]
    public void Encode_from_double_rounds_once()
    {
        // 1 + 2^-4 + 2^-40 lies just above the E4M3 midpoint between 1 and 1.125: it must round up. Going through
        // float32 first would drop the 2^-40 and then round the tie down to 1.
        double x = 1 + Math.Pow(2, -4) + Math.Pow(2, -40);
        Assert.Equal(0x39, MiniFloat.Encode(x, ElementType.Float8E4M3FN));
        Assert.Equal(0x38, MiniFloat.Encode((float)x, ElementType.Float8E4M3FN));
        Assert.Equal(1.125f, MiniFloat.Round(x, ElementType.Float8E4M3FN));
    }

    private static readonly double[] E2M1Magnitudes = [0, 0.5, 1, 1.5, 2, 3, 4, 6];

    [Fact]
    public void Float4_decodes_its_sixteen_codes()
    {
        for (int code = 0; code < 16; code++)
        {
            double expected = (code & 8) != 0 ? -E2M1Magnitudes[code & 7] : E2M1Magnitudes[code & 7];
            float actual = MiniFloat.Decode(code, ElementType.Float4E2M1);
            Assert.Equal(expected, (double)actual);
            Assert.Equal(code >= 8, float.IsNegative(actual));
            Assert.Equal(code, MiniFloat.Encode(actual, ElementType.Float4E2M1));
        }
        Assert.Equal(6f, MiniFloat.MaxFinite(ElementType.Float4E2M1));
        Assert.Equal(MiniFloat.Decode(0x3, ElementType.Float4E2M1), MiniFloat.Decode(0x13, ElementType.Float4E2M1)); // high bits ignored
    }

    /// <summary>The ONNX reference implementation's float4 rounding (subbyte.float32_to_float4e2m1_unpacked), written as
    /// its threshold table: RNE between neighbours, saturating, NaN → 0x7.</summary>
    private static int OnnxFloat4(double x)
    {
        if (double.IsNaN(x)) return 0x7;
        int s = double.IsNegative(x) ? 0x8 : 0;
        double m = Math.Abs(x);
        int r = m > 5 ? 7 : m >= 3.5 ? 6 : m > 2.5 ? 5 : m >= 1.75 ? 4 : m > 1.25 ? 3 : m >= 0.75 ? 2 : m > 0.25 ? 1 : 0;
        return r | s;
    }

    [Fact]
    public void Float4_encoding_matches_the_onnx_reference_table()
    {
        var probes = new List<double> { 0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5, 7, 100, double.PositiveInfinity, double.MaxValue, 1e-30, 0 };
        for (int i = 0; i + 1 < E2M1Magnitudes.Length; i++)
        {
            double mid = (E2M1Magnitudes[i] + E2M1Magnitudes[i + 1]) / 2;
            probes.AddRange([mid, Math.BitIncrement(mid), Math.BitDecrement(mid), E2M1Magnitudes[i]]);
        }
        for (int i = 0; i <= 800; i++) probes.Add(i / 100.0);
        foreach (double p in probes)
            foreach (double x in new[] { p, -p })
            {
                Assert.True(OnnxFloat4(x) == MiniFloat.Encode(x, ElementType.Float4E2M1), $"E2M1 Encode({x:R})");
                Assert.Equal(OnnxFloat4(x), MiniFloat.Encode(x, ElementType.Float4E2M1, saturate: false)); // no inf/NaN: always saturates
            }
        Assert.Equal(0x7, MiniFloat.Encode(double.NaN, ElementType.Float4E2M1));
        Assert.Equal(0xF, MiniFloat.Encode(double.NegativeInfinity, ElementType.Float4E2M1));
        Assert.Equal(0x4, MiniFloat.Encode(2.5, ElementType.Float4E2M1)); // tie between 2 (even) and 3
        Assert.Equal(0x6, MiniFloat.Encode(5.0, ElementType.Float4E2M1)); // tie between 4 (even) and 6
        Assert.Equal(0x2, MiniFloat.Encode(0.75, ElementType.Float4E2M1)); // tie between 0.5 and 1 (even)
    }

    [Fact]
    public void Non_minifloat_types_are_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => MiniFloat.Decode(0, ElementType.Float));
        Assert.Throws<ArgumentOutOfRangeException>(() => MiniFloat.Encode(1.0, ElementType.BFloat16));
        Assert.False(MiniFloat.IsMiniFloat(ElementType.Float16));
        Assert.True(MiniFloat.IsMiniFloat(ElementType.Float4E2M1));
    }
}
