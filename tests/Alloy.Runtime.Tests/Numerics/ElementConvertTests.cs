using Alloy.Runtime;
using Alloy.Runtime.Numerics;
using Xunit;

namespace Alloy.Runtime.Tests.Numerics;

public class ElementConvertTests
{
    [Fact]
    public void Int4_packs_low_nibble_first()
    {
        using var t = Tensor.Create(ElementType.Int4, [5]);
        Assert.Equal(3, t.Bytes.Length);
        long[] values = [1, -2, 7, -8, 5];
        for (int i = 0; i < values.Length; i++) ElementConvert.SetLong(t, i, values[i]);
        // element 0 → low nibble of byte 0, element 1 → high nibble of byte 0, ...; the unused last nibble stays 0.
        Assert.Equal(new byte[] { 0xE1, 0x87, 0x05 }, t.Bytes.ToArray());
        for (int i = 0; i < values.Length; i++) Assert.Equal(values[i], ElementConvert.GetLong(t, i));
        Assert.Equal(values.Select(v => (double)v), ElementConvert.ToDoubles(t));
        Assert.Equal(values, ElementConvert.ToLongs(t));
    }

    [Fact]
    public void UInt4_packs_low_nibble_first_and_wraps()
    {
        using var t = Tensor.FromArray<byte>(ElementType.UInt4, [4], [0x21, 0xF0]);
        Assert.Equal([1L, 2, 0, 15], ElementConvert.ToLongs(t));
        ElementConvert.SetLong(t, 1, 16 + 9); // wraps to 9, leaves element 0 alone
        ElementConvert.SetLong(t, 2, -1);     // wraps to 15, leaves element 3 alone
        Assert.Equal(new byte[] { 0x91, 0xFF }, t.Bytes.ToArray());
        Assert.Equal([1L, 9, 15, 15], ElementConvert.ToLongs(t));
    }

    [Fact]
    public void Int4_from_raw_bytes_sign_extends_every_nibble()
    {
        var bytes = Enumerable.Range(0, 8).Select(i => (byte)((2 * i) | ((2 * i + 1) << 4))).ToArray(); // codes 0..15 in order
        using var t = Tensor.FromArray<byte>(ElementType.Int4, [16], bytes);
        using var u = Tensor.FromArray<byte>(ElementType.UInt4, [16], bytes);
        for (int code = 0; code < 16; code++)
        {
            Assert.Equal(code < 8 ? code : code - 16, ElementConvert.GetLong(t, code));
            Assert.Equal(code, ElementConvert.GetLong(u, code));
            Assert.Equal(code, ElementConvert.GetCode(t, code));
        }
        ElementConvert.SetLong(t, 3, 8); // wraps to -8 like a C cast
        Assert.Equal(-8, ElementConvert.GetLong(t, 3));
    }

    [Fact]
    public void Float4_elements_are_nibbles()
    {
        using var t = ElementConvert.FromDoubles(ElementType.Float4E2M1, [3], [1.5, -6, 2.6]);
        Assert.Equal(new byte[] { 0xF3, 0x05 }, t.Bytes.ToArray()); // 1.5 = 0x3, -6 = 0xF, 2.6 → 3 = 0x5
        Assert.Equal([1.5, -6, 3], ElementConvert.ToDoubles(t));
        ElementConvert.SetCode(t, 1, 0x2);
        Assert.Equal(1.0, ElementConvert.GetDouble(t, 1));
        Assert.Equal(0x3, ElementConvert.GetCode(t, 0));
    }

    [Fact]
    public void Float8_stores_round_once_and_saturate_by_default()
    {
        using var t = Tensor.Create(ElementType.Float8E4M3FN, [3]);
        ElementConvert.SetDouble(t, 0, 1 + Math.Pow(2, -4) + Math.Pow(2, -40)); // just above a tie → up to 1.125
        ElementConvert.SetDouble(t, 1, 1000);
        ElementConvert.SetDouble(t, 2, 1000, saturate: false);
        Assert.Equal(new byte[] { 0x39, 0x7E, 0x7F }, t.Bytes.ToArray());
        Assert.Equal(1.125, ElementConvert.GetDouble(t, 0));
        Assert.True(double.IsNaN(ElementConvert.GetDouble(t, 2)));

        using var e5 = Tensor.Create(ElementType.Float8E5M2, [2]);
        ElementConvert.SetDouble(e5, 0, -1e6, saturate: false);
        ElementConvert.SetDouble(e5, 1, -1e6);
        Assert.Equal([double.NegativeInfinity, -57344], ElementConvert.ToDoubles(e5));
    }

    [Fact]
    public void BFloat16_and_Float16_stores_round_once_from_double()
    {
        using var bf = Tensor.Create(ElementType.BFloat16, [1]);
        ElementConvert.SetDouble(bf, 0, 1 + Math.Pow(2, -8) + Math.Pow(2, -30));
        Assert.Equal((ushort)0x3F81, bf.Span<ushort>()[0]);

        // 1 + 2^-11 + 2^-40 is just above the half-precision midpoint between 1 and 1 + 2^-10.
        using var h = Tensor.Create(ElementType.Float16, [1]);
        ElementConvert.SetDouble(h, 0, 1 + Math.Pow(2, -11) + Math.Pow(2, -40));
        Assert.Equal((ushort)0x3C01, h.Span<ushort>()[0]);
    }

    [Fact]
    public void Large_int64_values_round_once_to_narrow_floats()
    {
        // 2^62 + 2^54 + 1 is just above the bfloat16 midpoint between 2^62 and 2^62 + 2^55; as a double the +1 is lost
        // and the tie would round down.
        long v = (1L << 62) + (1L << 54) + 1;
        using var bf = Tensor.Create(ElementType.BFloat16, [1]);
        ElementConvert.SetLong(bf, 0, v);
        Assert.Equal(Math.Pow(2, 62) + Math.Pow(2, 55), ElementConvert.GetDouble(bf, 0));

        long w = (1L << 62) + (1L << 38) + 1; // the same for float32 (ulp 2^39 at 2^62)
        using var f = Tensor.Create(ElementType.Float, [1]);
        ElementConvert.SetLong(f, 0, w);
        Assert.Equal(Math.Pow(2, 62) + Math.Pow(2, 39), ElementConvert.GetDouble(f, 0));

        using var d = Tensor.Create(ElementType.Double, [2]);
        ElementConvert.SetLong(d, 0, long.MaxValue);
        ElementConvert.SetLong(d, 1, (1L << 53) + 1); // ties to even in double
        Assert.Equal([9.223372036854775807e18, 9007199254740992.0], ElementConvert.ToDoubles(d));

        using var e5 = Tensor.Create(ElementType.Float8E5M2, [1]);
        ElementConvert.SetLong(e5, 0, -(1L << 40));
        Assert.Equal(-57344.0, ElementConvert.GetDouble(e5, 0)); // saturates
    }

    [Fact]
    public void Integer_stores_truncate_and_wrap()
    {
        using var i8 = Tensor.Create(ElementType.Int8, [5]);
        double[] values = [2.9, -2.9, 300.5, double.NaN, -129];
        for (int i = 0; i < values.Length; i++) ElementConvert.SetDouble(i8, i, values[i]);
        Assert.Equal([2L, -2, 44, 0, 127], ElementConvert.ToLongs(i8));

        using var u64 = Tensor.Create(ElementType.UInt64, [3]);
        ElementConvert.SetDouble(u64, 0, 1e30);
        ElementConvert.SetDouble(u64, 1, 1.8e19);
        ElementConvert.SetDouble(u64, 2, double.NaN);
        Assert.Equal([ulong.MaxValue, 18_000_000_000_000_000_000UL, 0UL], u64.ToArray<ulong>());

        using var i64 = Tensor.Create(ElementType.Int64, [2]);
        ElementConvert.SetDouble(i64, 0, double.PositiveInfinity);
        ElementConvert.SetDouble(i64, 1, -1e300);
        Assert.Equal([long.MaxValue, long.MinValue], i64.ToArray<long>());

        using var b = Tensor.Create(ElementType.Bool, [3]);
        ElementConvert.SetDouble(b, 0, 0.5);
        ElementConvert.SetDouble(b, 1, -0.0);
        ElementConvert.SetLong(b, 2, -7);
        Assert.Equal(new byte[] { 1, 0, 1 }, b.Bytes.ToArray());
    }

    [Fact]
    public void Every_numeric_type_round_trips_exact_values()
    {
        var cases = new (ElementType Type, double[] Values)[]
        {
            (ElementType.Float, [0, -1.5, Math.Pow(2, -140), float.MaxValue]),
            (ElementType.Double, [0, -1.5, 1e-310, double.MaxValue]),
            (ElementType.Float16, [0, -1.5, 65504, Math.Pow(2, -24)]),
            (ElementType.BFloat16, [0, -1.5, BitConverter.UInt32BitsToSingle(0x7F7F_0000), Math.Pow(2, -133)]),
            (ElementType.Float8E4M3FN, [0, -1.5, 448, Math.Pow(2, -9)]),
            (ElementType.Float8E4M3FNUZ, [0, -1.5, 240, Math.Pow(2, -10)]),
            (ElementType.Float8E5M2, [0, -1.5, 57344, Math.Pow(2, -16)]),
            (ElementType.Float8E5M2FNUZ, [0, -1.5, 57344, Math.Pow(2, -17)]),
            (ElementType.Float4E2M1, [0, -1.5, 6, 0.5]),
            (ElementType.Int8, [0, -128, 127, 5]),
            (ElementType.UInt8, [0, 255, 1, 5]),
            (ElementType.Int16, [0, -32768, 32767, 5]),
            (ElementType.UInt16, [0, 65535, 1, 5]),
            (ElementType.Int32, [0, int.MinValue, int.MaxValue, 5]),
            (ElementType.UInt32, [0, uint.MaxValue, 1, 5]),
            (ElementType.Int64, [0, -(1L << 53), 1L << 53, 5]),
            (ElementType.UInt64, [0, 1UL << 63, 1, 5]),
            (ElementType.Int4, [0, -8, 7, 5]),
            (ElementType.UInt4, [0, 15, 1, 5]),
            (ElementType.Bool, [0, 1, 1, 0]),
        };
        foreach (var (type, values) in cases)
        {
            using var t = ElementConvert.FromDoubles(type, [values.Length], values);
            Assert.True(values.SequenceEqual(ElementConvert.ToDoubles(t)), $"{type.Name()}: [{string.Join(", ", ElementConvert.ToDoubles(t))}]");
            using var c = ElementConvert.Clone(t);
            Assert.Equal(t.Bytes.ToArray(), c.Bytes.ToArray());
        }
    }

    [Fact]
    public void Unsupported_types_throw_instead_of_recursing()
    {
        using var s = Tensor.FromStrings([1], ["x"]);
        Assert.ThrowsAny<Exception>(() => ElementConvert.SetLong(s, 0, 1));
        Assert.ThrowsAny<Exception>(() => ElementConvert.SetDouble(s, 0, 1));
        using var c = Tensor.Create(ElementType.Complex64, [1]);
        Assert.Throws<KernelTypeException>(() => ElementConvert.SetLong(c, 0, 1));
        Assert.Throws<KernelTypeException>(() => ElementConvert.SetDouble(c, 0, 1));
        Assert.Throws<KernelTypeException>(() => ElementConvert.GetDouble(c, 0));
        using var f = Tensor.Create(ElementType.Float, [1]);
        Assert.Throws<KernelTypeException>(() => ElementConvert.GetCode(f, 0));
        Assert.Throws<ArgumentException>(() => ElementConvert.FromDoubles(ElementType.Float, [2], [1.0]));
    }
}
