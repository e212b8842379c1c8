using System.Buffers.Binary;
using Alloy.IR;

namespace Alloy.Passes.Casts;

/// <summary>
/// Rounding of real values to the IEEE-style binary formats Alloy converts constants to (f64, f32, f16, bf16),
/// derived from the format facts (<see cref="DataTypeFacts"/>: significand bits, exponent bias, largest finite
/// value) rather than from per-type code: round to nearest, ties to even, gradual underflow, overflow to
/// infinity. The results equal the runtime's conversions (<c>(float)</c>, <c>(Half)</c>, bf16 round-to-nearest-even).
/// </summary>
internal static class FloatFormat
{
    /// <summary>The float formats whose values a double holds exactly and which have infinity and NaN.</summary>
    public static bool IsSupported(DataType t) => t is DataType.Float or DataType.Double or DataType.Float16 or DataType.BFloat16;

    /// <summary>Rounds <paramref name="v"/> once to the nearest value of <paramref name="t"/> (ties to even); the result is exact in a double.</summary>
    public static double Round(double v, DataType t)
    {
        if (t == DataType.Double || v == 0 || !double.IsFinite(v)) return v;
        var f = t.Facts();
        double a = Math.Abs(v);
        int exponent = Math.Max(Math.ILogB(a), 1 - f.ExponentBias);
        double quantum = Math.ScaleB(1.0, exponent - f.MantissaBits);
        double r = Math.Round(a / quantum, MidpointRounding.ToEven) * quantum; // both steps exact: scaling by powers of two
        if (r > f.MaxFinite) r = double.PositiveInfinity;
        return double.CopySign(r, v);
    }

    /// <summary>Writes <paramref name="v"/>, already a value of <paramref name="t"/> (or NaN), in <paramref name="t"/>'s little-endian layout.</summary>
    public static void Write(double v, DataType t, Span<byte> destination)
    {
        switch (t)
        {
            case DataType.Double: BinaryPrimitives.WriteDoubleLittleEndian(destination, v); break;
            case DataType.Float: BinaryPrimitives.WriteSingleLittleEndian(destination, (float)v); break;
            case DataType.Float16: BinaryPrimitives.WriteHalfLittleEndian(destination, (Half)v); break;
            case DataType.BFloat16: BinaryPrimitives.WriteUInt16LittleEndian(destination, BFloat16Bits((float)v)); break;
            default: throw new ArgumentOutOfRangeException(nameof(t), t, "not a supported float format");
        }
    }

    /// <summary>bfloat16 bits of a float32, rounded to nearest even; NaN stays a quiet NaN with its sign.</summary>
    public static ushort BFloat16Bits(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000) return (ushort)((bits >> 16) | 0x0040);
        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }

    /// <summary>Element <paramref name="i"/> of raw little-endian data of a float format, as a double (exact).</summary>
    public static double ReadFloat(ReadOnlySpan<byte> data, DataType t, int i) => t switch
    {
        DataType.Double => BinaryPrimitives.ReadDoubleLittleEndian(data[(i * 8)..]),
        DataType.Float => BinaryPrimitives.ReadSingleLittleEndian(data[(i * 4)..]),
        DataType.Float16 => (double)BinaryPrimitives.ReadHalfLittleEndian(data[(i * 2)..]),
        DataType.BFloat16 => BitConverter.UInt32BitsToSingle((uint)BinaryPrimitives.ReadUInt16LittleEndian(data[(i * 2)..]) << 16),
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "not a supported float format"),
    };

    /// <summary>True for the byte-aligned integer types and bool.</summary>
    public static bool IsWholeByteInteger(DataType t) =>
        t is DataType.Bool or DataType.Int8 or DataType.UInt8 or DataType.Int16 or DataType.UInt16
            or DataType.Int32 or DataType.UInt32 or DataType.Int64 or DataType.UInt64;

    /// <summary>Element <paramref name="i"/> of raw little-endian integer data (u64 above 2^63 is not representable here: returns false).</summary>
    public static bool TryReadInteger(ReadOnlySpan<byte> data, DataType t, int i, out long value)
    {
        switch (t)
        {
            case DataType.Bool: value = data[i] != 0 ? 1 : 0; return true;
            case DataType.Int8: value = (sbyte)data[i]; return true;
            case DataType.UInt8: value = data[i]; return true;
            case DataType.Int16: value = BinaryPrimitives.ReadInt16LittleEndian(data[(i * 2)..]); return true;
            case DataType.UInt16: value = BinaryPrimitives.ReadUInt16LittleEndian(data[(i * 2)..]); return true;
            case DataType.Int32: value = BinaryPrimitives.ReadInt32LittleEndian(data[(i * 4)..]); return true;
            case DataType.UInt32: value = BinaryPrimitives.ReadUInt32LittleEndian(data[(i * 4)..]); return true;
            case DataType.Int64: value = BinaryPrimitives.ReadInt64LittleEndian(data[(i * 8)..]); return true;
            case DataType.UInt64:
                ulong u = BinaryPrimitives.ReadUInt64LittleEndian(data[(i * 8)..]);
                value = unchecked((long)u);
                return u <= long.MaxValue;
            default: value = 0; return false;
        }
    }

    /// <summary>Writes an integer that fits <paramref name="t"/> in its little-endian layout.</summary>
    public static void WriteInteger(long v, DataType t, Span<byte> destination)
    {
        switch (t)
        {
            case DataType.Bool: destination[0] = v != 0 ? (byte)1 : (byte)0; break;
            case DataType.Int8: destination[0] = unchecked((byte)(sbyte)v); break;
            case DataType.UInt8: destination[0] = (byte)v; break;
            case DataType.Int16: BinaryPrimitives.WriteInt16LittleEndian(destination, (short)v); break;
            case DataType.UInt16: BinaryPrimitives.WriteUInt16LittleEndian(destination, (ushort)v); break;
            case DataType.Int32: BinaryPrimitives.WriteInt32LittleEndian(destination, (int)v); break;
            case DataType.UInt32: BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)v); break;
            case DataType.Int64: BinaryPrimitives.WriteInt64LittleEndian(destination, v); break;
            case DataType.UInt64: BinaryPrimitives.WriteUInt64LittleEndian(destination, (ulong)v); break;
            default: throw new ArgumentOutOfRangeException(nameof(t), t, "not a whole-byte integer type");
        }
    }
}
