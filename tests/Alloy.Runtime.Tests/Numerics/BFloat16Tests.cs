using Alloy.Runtime.Numerics;
using Xunit;

namespace Alloy.Runtime.Tests.Numerics;

/// <summary>
/// bfloat16 rounding against a value-based reference: the two bfloat16 neighbours of x, the nearer one, ties to
/// the even code, with the value just beyond the largest finite one standing for infinity.
/// </summary>
public class BFloat16Tests
{
    private static float F(uint bits) => BitConverter.UInt32BitsToSingle(bits);
    private static double Value(ushort code) => BitConverter.UInt32BitsToSingle((uint)code << 16);

    /// <summary>Magnitude of a sign-less code as a double, with 0x7F80 (infinity) taken as 2^128, the next grid value.</summary>
    private static double GridValue(int code) => code == 0x7F80 ? Math.Pow(2, 128) : Value((ushort)code);

    /// <summary>The reference: the code c with value(c) ≤ |x| &lt; value(c + 1), then the nearer (ties: even code).</summary>
    private static ushort Reference(double x)
    {
        if (double.IsNaN(x)) throw new ArgumentException("NaN has no nearest value");
        ushort sign = double.IsNegative(x) ? (ushort)0x8000 : (ushort)0;
        double a = Math.Abs(x);
        if (double.IsInfinity(a) || a >= Math.Pow(2, 128)) return (ushort)(sign | 0x7F80);
        // Binary search over the monotonic codes 0 .. 0x7F80.
        int lo = 0, hi = 0x7F80;
        while (hi - lo > 1)
        {
            int mid = (lo + hi) / 2;
            if (GridValue(mid) <= a) lo = mid; else hi = mid;
        }
        double dLo = a - GridValue(lo), dHi = GridValue(hi) - a; // exact (Sterbenz)
        int code = dLo < dHi ? lo : dHi < dLo ? hi : (lo & 1) == 0 ? lo : hi;
        return (ushort)(sign | code);
    }

    [Theory]
    [InlineData(0x3F80_0000u, 0x3F80)] // 1
    [InlineData(0x3F80_8000u, 0x3F80)] // 1 + 2^-8: tie between 1 (even) and 1 + 2^-7 → 1
    [InlineData(0x3F81_8000u, 0x3F82)] // 1 + 3·2^-8: tie between 0x3F81 (odd) and 0x3F82 → up
    [InlineData(0x3F80_8001u, 0x3F81)] // just above the tie → up
    [InlineData(0x3F81_7FFFu, 0x3F81)] // just below the tie → down
    [InlineData(0x3FFF_FFFFu, 0x4000)] // carry out of the fraction into the exponent: 2 - 2^-23 → 2
    [InlineData(0x3FFF_8000u, 0x4000)] // tie, odd → up across the binade
    [InlineData(0x7F7F_7FFFu, 0x7F7F)] // below the overflow tie: the largest finite bfloat16
    [InlineData(0x7F7F_8000u, 0x7F80)] // tie at max + half an ulp, max is odd → infinity
    [InlineData(0x7F7F_FFFFu, 0x7F80)] // float.MaxValue → infinity
    [InlineData(0xFF7F_FFFFu, 0xFF80)] // -float.MaxValue → -infinity
    [InlineData(0x7F80_0000u, 0x7F80)] // +inf
    [InlineData(0xFF80_0000u, 0xFF80)] // -inf
    [InlineData(0x0000_0000u, 0x0000)] // +0
    [InlineData(0x8000_0000u, 0x8000)] // -0 stays -0
    [InlineData(0x0000_8000u, 0x0000)] // subnormal tie with 0 (even) → 0
    [InlineData(0x0000_8001u, 0x0001)] // → the smallest subnormal
    [InlineData(0x0001_8000u, 0x0002)] // subnormal tie, odd → up
    [InlineData(0x8001_8000u, 0x8002)] // negative subnormal tie
    [InlineData(0x007F_C000u, 0x0080)] // largest subnormals round up into the smallest normal
    [InlineData(0x0000_0001u, 0x0000)] // the smallest float subnormal underflows to +0
    [InlineData(0x8000_0001u, 0x8000)] // ... and to -0 when negative
    public void FromFloat_rounds_to_nearest_even(uint floatBits, int expected)
    {
        Assert.Equal((ushort)expected, BFloat16.FromFloat(F(floatBits)).Bits);
        Assert.Equal((ushort)expected, Reference(F(floatBits)));
        Assert.Equal((ushort)expected, BFloat16.FromDouble(F(floatBits)).Bits);
    }

    [Theory]
    [InlineData(0x7FC0_0000u, 0x7FC0)]
    [InlineData(0xFFC0_0000u, 0xFFC0)] // the sign of NaN is kept
    [InlineData(0x7F80_0001u, 0x7FC0)] // a signalling NaN with only low payload bits stays NaN (quiet)
    [InlineData(0xFF80_0001u, 0xFFC0)]
    [InlineData(0x7FA0_0000u, 0x7FE0)] // payload top bits kept, quiet bit set
    [InlineData(0x7FFF_FFFFu, 0x7FFF)] // no rounding carry out of a NaN
    public void NaN_stays_NaN_with_its_sign(uint floatBits, int expected)
    {
        var b = BFloat16.FromFloat(F(floatBits));
        Assert.Equal((ushort)expected, b.Bits);
        Assert.True(b.IsNaN);
        Assert.True(float.IsNaN(b.ToFloat()));
        var d = BFloat16.FromDouble(F(floatBits));
        Assert.True(d.IsNaN);
        Assert.Equal(expected >= 0x8000, float.IsNegative(d.ToFloat()));
    }

    [Fact]
    public void FromFloat_matches_the_reference_on_every_bfloat16_neighbourhood()
    {
        // For every upper half (every bfloat16 code) try the lower halves that matter: exact, just above, the tie,
        // just around it, and the top; plus a seeded random lower half.
        var rng = new Random(42);
        ushort[] lows = [0x0000, 0x0001, 0x7FFF, 0x8000, 0x8001, 0xFFFF, 0];
        for (uint hi = 0; hi <= 0xFFFF; hi++)
        {
            lows[^1] = (ushort)rng.Next(0, 0x10000);
            foreach (var lo in lows)
            {
                float x = F(hi << 16 | lo);
                if (float.IsNaN(x)) continue;
                var actual = BFloat16.FromFloat(x).Bits;
                var expected = Reference(x);
                if (actual != expected) Assert.Fail($"FromFloat(0x{hi << 16 | lo:X8}) = 0x{actual:X4}, expected 0x{expected:X4}");
            }
        }
    }

    [Fact]
    public void FromDouble_matches_the_reference_and_rounds_once()
    {
        var rng = new Random(7);
        for (int i = 0; i < 200_000; i++)
        {
            // Doubles with random 52-bit fractions over the whole bfloat16 range, subnormals and overflow included.
            double x = Math.ScaleB(1 + rng.NextDouble(), rng.Next(-140, 130)) * (rng.Next(2) == 0 ? 1 : -1);
            var actual = BFloat16.FromDouble(x).Bits;
            var expected = Reference(x);
            if (actual != expected) Assert.Fail($"FromDouble({x:R}) = 0x{actual:X4}, expected 0x{expected:X4}");
        }
        // Midpoints between bfloat16 neighbours, nudged by one double ulp: float32 cannot hold the nudge.
        for (int code = 0; code < 0x7F80; code += 37)
        {
            double mid = (GridValue(code) + GridValue(code + 1)) / 2;
            Assert.Equal(code + 1, BFloat16.FromDouble(Math.BitIncrement(mid)).Bits);
            Assert.Equal(code, BFloat16.FromDouble(Math.BitDecrement(mid)).Bits);
            Assert.Equal((code & 1) == 0 ? code : code + 1, BFloat16.FromDouble(mid).Bits);
        }
    }

    [Fact]
    public void Double_rounding_through_float32_is_avoided()
    {
        // 1 + 2^-8 + 2^-30: above the midpoint between 1 and 1 + 2^-7, so the answer is 1 + 2^-7 (0x3F81). Through
        // float32 the 2^-30 is lost and the resulting tie rounds to 1 (0x3F80).
        double x = 1 + Math.Pow(2, -8) + Math.Pow(2, -30);
        Assert.Equal(0x3F81, BFloat16.FromDouble(x).Bits);
        Assert.Equal(0x3F80, BFloat16.FromFloat((float)x).Bits);
        Assert.Equal(1 + Math.Pow(2, -7), BFloat16.Round(x));
        Assert.Equal(0xBF81, BFloat16.FromDouble(-x).Bits);
    }

    [Fact]
    public void Overflow_and_underflow_from_double()
    {
        double max = Value(0x7F7F);
        double halfUlp = Math.Pow(2, 127 - 8);
        Assert.Equal(0x7F7F, BFloat16.FromDouble(max + halfUlp - Math.Pow(2, 80)).Bits);
        Assert.Equal(0x7F80, BFloat16.FromDouble(max + halfUlp).Bits); // tie, max is odd → infinity
        Assert.Equal(0x7F80, BFloat16.FromDouble(1e300).Bits);
        Assert.Equal(0xFF80, BFloat16.FromDouble(double.NegativeInfinity).Bits);
        Assert.Equal(0x0000, BFloat16.FromDouble(Math.Pow(2, -134)).Bits); // half the smallest subnormal: tie → 0
        Assert.Equal(0x0001, BFloat16.FromDouble(Math.BitIncrement(Math.Pow(2, -134))).Bits);
        Assert.Equal(0x8000, BFloat16.FromDouble(-1e-300).Bits);
        Assert.Equal(0x8000, BFloat16.FromDouble(-0.0).Bits);
        Assert.Equal(0x0000, BFloat16.FromDouble(double.Epsilon).Bits);
    }

    [Fact]
    public void Widening_is_exact_and_round_is_idempotent()
    {
        for (int code = 0; code <= 0xFFFF; code++)
        {
            var b = new BFloat16((ushort)code);
            float f = b.ToFloat();
            Assert.Equal((uint)code << 16, BitConverter.SingleToUInt32Bits(f));
            if (!b.IsNaN)
            {
                Assert.Equal(code, BFloat16.FromFloat(f).Bits);
                Assert.Equal(code, BFloat16.FromDouble(f).Bits);
            }
        }
        Assert.Equal("1.5", new BFloat16(0x3FC0).ToString());
    }
}
