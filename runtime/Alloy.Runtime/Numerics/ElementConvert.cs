namespace Alloy.Runtime.Numerics;

/// <summary>
/// Reads any numeric tensor widened to double / float / long, and writes values back narrowed to the tensor's
/// element type with that type's rounding: float formats round once, straight from the double, to nearest even
/// (f32, f16, bf16, f8 and f4 saturating), integers truncate toward zero and wrap like a C cast (NaN gives 0),
/// bool is value != 0. The reference kernels compute in these wide types and round once on store. Sub-byte
/// types (int4, uint4, float4) are packed two per byte, element 2k in the low nibble of byte k.
/// </summary>
public static class ElementConvert
{
    public static double[] ToDoubles(Tensor t)
    {
        var r = new double[t.Length];
        for (long i = 0; i < t.Length; i++) r[i] = GetDouble(t, i);
        return r;
    }

    public static float[] ToFloats(Tensor t)
    {
        if (t.Type == ElementType.Float) return t.ToArray<float>();
        var r = new float[t.Length];
        for (long i = 0; i < t.Length; i++) r[i] = (float)GetDouble(t, i);
        return r;
    }

    public static long[] ToLongs(Tensor t)
    {
        if (t.Type == ElementType.Int64) return t.ToArray<long>();
        var r = new long[t.Length];
        for (long i = 0; i < t.Length; i++) r[i] = GetLong(t, i);
        return r;
    }

    /// <summary>Element <paramref name="i"/> as a double (exact for every type but u64/i64 beyond 2^53).</summary>
    public static double GetDouble(Tensor t, long i)
    {
        var b = t.Bytes;
        int k = (int)i;
        return t.Type switch
        {
            ElementType.Float => BitConverter.ToSingle(b[(k * 4)..]),
            ElementType.Double => BitConverter.ToDouble(b[(k * 8)..]),
            ElementType.Float16 => (double)BitConverter.ToHalf(b[(k * 2)..]),
            ElementType.BFloat16 => new BFloat16(BitConverter.ToUInt16(b[(k * 2)..])).ToFloat(),
            ElementType.Float8E4M3FN or ElementType.Float8E4M3FNUZ or ElementType.Float8E5M2 or ElementType.Float8E5M2FNUZ => MiniFloat.Decode(b[k], t.Type),
            ElementType.Float4E2M1 => MiniFloat.Decode(Nibble(b, k), t.Type),
            ElementType.UInt64 => BitConverter.ToUInt64(b[(k * 8)..]),
            _ => GetLong(t, i),
        };
    }

    /// <summary>Element <paramref name="i"/> of an integer or bool tensor (floats truncate toward zero).</summary>
    public static long GetLong(Tensor t, long i)
    {
        var b = t.Bytes;
        int k = (int)i;
        return t.Type switch
        {
            ElementType.Int64 => BitConverter.ToInt64(b[(k * 8)..]),
            ElementType.Int32 => BitConverter.ToInt32(b[(k * 4)..]),
            ElementType.UInt32 => BitConverter.ToUInt32(b[(k * 4)..]),
            ElementType.Int16 => BitConverter.ToInt16(b[(k * 2)..]),
            ElementType.UInt16 => BitConverter.ToUInt16(b[(k * 2)..]),
            ElementType.Int8 => (sbyte)b[k],
            ElementType.UInt8 => b[k],
            ElementType.Bool => b[k] != 0 ? 1 : 0,
            ElementType.UInt64 => (long)BitConverter.ToUInt64(b[(k * 8)..]),
            ElementType.Int4 => ((sbyte)(Nibble(b, k) << 4)) >> 4,
            ElementType.UInt4 => Nibble(b, k),
            _ when t.Type.IsFloat() => (long)GetDouble(t, i),
            _ => throw new KernelTypeException(t.Type),
        };
    }

    private static int Nibble(Span<byte> b, int k) => (k & 1) == 0 ? b[k >> 1] & 0xF : b[k >> 1] >> 4;

    /// <summary>Stores <paramref name="v"/> as element <paramref name="i"/>, rounding once to the element type.</summary>
    public static void SetDouble(Tensor t, long i, double v) => SetDouble(t, i, v, saturate: true);

    /// <summary>
    /// <see cref="SetDouble(Tensor, long, double)"/> with ONNX Cast's <c>saturate</c> flag for the float8 types: when
    /// false, values beyond the largest finite one become infinity (E5M2) or NaN (the other float8 types).
    /// Other element types ignore the flag.
    /// </summary>
    public static void SetDouble(Tensor t, long i, double v, bool saturate)
    {
        var b = t.Bytes;
        int k = (int)i;
        switch (t.Type)
        {
            case ElementType.Float: BitConverter.TryWriteBytes(b[(k * 4)..], (float)v); break;
            case ElementType.Double: BitConverter.TryWriteBytes(b[(k * 8)..], v); break;
            case ElementType.Float16: BitConverter.TryWriteBytes(b[(k * 2)..], (Half)v); break; // .NET rounds double → half once
            case ElementType.BFloat16: BitConverter.TryWriteBytes(b[(k * 2)..], BFloat16.FromDouble(v).Bits); break;
            case ElementType.Float8E4M3FN or ElementType.Float8E4M3FNUZ or ElementType.Float8E5M2 or ElementType.Float8E5M2FNUZ:
                b[k] = (byte)MiniFloat.Encode(v, t.Type, saturate);
                break;
            case ElementType.Float4E2M1: SetNibble(b, k, MiniFloat.Encode(v, t.Type)); break;
            case ElementType.Bool: b[k] = v != 0 ? (byte)1 : (byte)0; break;
            case ElementType.UInt64: BitConverter.TryWriteBytes(b[(k * 8)..], double.IsNaN(v) ? 0UL : v >= 18446744073709551615.0 ? ulong.MaxValue : v <= 0 ? (ulong)(long)v : (ulong)v); break;
            case var type when type.IsInteger():
                // Truncate toward zero (NaN → 0, beyond the int64 range → its ends), then wrap to the element width.
                SetLong(t, i, double.IsNaN(v) ? 0 : v >= 9.2233720368547758e18 ? long.MaxValue : v <= -9.2233720368547758e18 ? long.MinValue : (long)v);
                break;
            default: throw new KernelTypeException(t.Type);
        }
    }

    /// <summary>Stores an integer value (wrapping to the element width like a C cast; exact when it fits).</summary>
    public static void SetLong(Tensor t, long i, long v)
    {
        var b = t.Bytes;
        int k = (int)i;
        switch (t.Type)
        {
            case ElementType.Int64: BitConverter.TryWriteBytes(b[(k * 8)..], v); break;
            case ElementType.UInt64: BitConverter.TryWriteBytes(b[(k * 8)..], (ulong)v); break;
            case ElementType.Int32: BitConverter.TryWriteBytes(b[(k * 4)..], (int)v); break;
            case ElementType.UInt32: BitConverter.TryWriteBytes(b[(k * 4)..], (uint)v); break;
            case ElementType.Int16: BitConverter.TryWriteBytes(b[(k * 2)..], (short)v); break;
            case ElementType.UInt16: BitConverter.TryWriteBytes(b[(k * 2)..], (ushort)v); break;
            case ElementType.Int8: b[k] = (byte)(sbyte)v; break;
            case ElementType.UInt8: b[k] = (byte)v; break;
            case ElementType.Bool: b[k] = v != 0 ? (byte)1 : (byte)0; break;
            case ElementType.Int4 or ElementType.UInt4: SetNibble(b, k, (int)v & 0xF); break;
            case ElementType.Float: BitConverter.TryWriteBytes(b[(k * 4)..], (float)v); break; // one rounding
            case ElementType.Double: BitConverter.TryWriteBytes(b[(k * 8)..], (double)v); break;
            case var type when type.IsFloat(): SetDouble(t, i, ToDoubleRoundToOdd(v)); break;
            default: throw new KernelTypeException(t.Type);
        }
    }

    /// <summary>
    /// <paramref name="v"/> as a double rounded to odd: exact when it fits in 53 bits, otherwise the neighbouring
    /// double whose last significand bit is 1. Rounding that once more to a format of at most 51 significant bits
    /// (f16, bf16, f8, f4) gives the same result as rounding <paramref name="v"/> directly, so a long above 2^53 is
    /// still rounded only once.
    /// </summary>
    private static double ToDoubleRoundToOdd(long v)
    {
        double d = v;
        Int128 back = (Int128)d; // exact: d is an integer below 2^64 in magnitude
        if (back == v || (BitConverter.DoubleToInt64Bits(d) & 1) != 0) return d;
        return back < v ? Math.BitIncrement(d) : Math.BitDecrement(d);
    }

    /// <summary>The raw code of element <paramref name="i"/> of an 8-bit or 4-bit tensor (a nibble for the 4-bit types).</summary>
    public static int GetCode(Tensor t, long i)
    {
        int k = (int)i;
        return t.Type.Bits() switch
        {
            8 => t.Bytes[k],
            4 => Nibble(t.Bytes, k),
            _ => throw new KernelTypeException(t.Type),
        };
    }

    /// <summary>Stores a raw code (for example from <see cref="MiniFloat.Encode(double, ElementType, bool)"/>) into an 8-bit or 4-bit tensor.</summary>
    public static void SetCode(Tensor t, long i, int code)
    {
        int k = (int)i;
        switch (t.Type.Bits())
        {
            case 8: t.Bytes[k] = (byte)code; break;
            case 4: SetNibble(t.Bytes, k, code); break;
            default: throw new KernelTypeException(t.Type);
        }
    }

    private static void SetNibble(Span<byte> b, int k, int v) =>
        b[k >> 1] = (k & 1) == 0 ? (byte)((b[k >> 1] & 0xF0) | (v & 0xF)) : (byte)((b[k >> 1] & 0x0F) | ((v & 0xF) << 4));

    /// <summary>A tensor of <paramref name="type"/> holding <paramref name="values"/>, each rounded once.</summary>
    public static Tensor FromDoubles(ElementType type, ReadOnlySpan<long> shape, ReadOnlySpan<double> values)
    {
        var t = Tensor.Create(type, shape);
        if (values.Length != t.Length) throw new ArgumentException($"{values.Length} values for a tensor of {t.Length} elements");
        for (int i = 0; i < values.Length; i++) SetDouble(t, i, values[i]);
        return t;
    }

    public static Tensor FromLongs(ElementType type, ReadOnlySpan<long> shape, ReadOnlySpan<long> values)
    {
        var t = Tensor.Create(type, shape);
        if (values.Length != t.Length) throw new ArgumentException($"{values.Length} values for a tensor of {t.Length} elements");
        for (int i = 0; i < values.Length; i++) SetLong(t, i, values[i]);
        return t;
    }

    /// <summary>Copies a tensor into a new buffer, with the same shape or another one of the same element count.</summary>
    public static Tensor Clone(Tensor t, long[]? shape = null)
    {
        var s = shape ?? t.Shape;
        var c = Tensor.Create(t.Type, s);
        if (c.Length != t.Length) throw new ArgumentException($"cannot view {t.Length} elements as shape [{string.Join(",", s)}]");
        if (t.Type == ElementType.String) t.Strings.CopyTo(c.Strings, 0);
        else t.Bytes.CopyTo(c.Bytes);
        return c;
    }
}

/// <summary>An element type a kernel does not handle.</summary>
public sealed class KernelTypeException(ElementType type) : Exception($"element type {type.Name()} is not supported here");
