namespace Alloy.IR;

/// <summary>Tensor element types. The numeric values are the ONNX <c>TensorProto.DataType</c> codes.</summary>
public enum DataType
{
    Undefined = 0,
    Float = 1,
    UInt8 = 2,
    Int8 = 3,
    UInt16 = 4,
    Int16 = 5,
    Int32 = 6,
    Int64 = 7,
    String = 8,
    Bool = 9,
    Float16 = 10,
    Double = 11,
    UInt32 = 12,
    UInt64 = 13,
    Complex64 = 14,
    Complex128 = 15,
    BFloat16 = 16,
    Float8E4M3FN = 17,
    Float8E4M3FNUZ = 18,
    Float8E5M2 = 19,
    Float8E5M2FNUZ = 20,
    UInt4 = 21,
    Int4 = 22,
    Float4E2M1 = 23,
}

/// <summary>What kind of number an element type holds.</summary>
public enum NumberKind : byte
{
    None,
    Bool,
    UnsignedInteger,
    SignedInteger,
    BinaryFloat,
    Complex,
    String,
}

/// <summary>
/// Format facts of one element type. For binary floating-point formats, <see cref="ExponentBits"/> and
/// <see cref="MantissaBits"/> (explicit fraction bits) with <see cref="ExponentBias"/> and
/// <see cref="MaxFinite"/> describe every finite value; the special-value flags say which of infinity,
/// NaN and negative zero exist. Complex types describe their real component.
/// </summary>
public readonly record struct DataTypeFacts(
    DataType Type,
    string ShortName,
    NumberKind Kind,
    int BitWidth,
    int ExponentBits,
    int MantissaBits,
    int ExponentBias,
    double MaxFinite,
    bool HasInfinity,
    bool HasNaN,
    bool HasNegativeZero)
{
    /// <summary>Bytes one element occupies when stored unpacked; 0 for strings; sub-byte types report 1.</summary>
    public int StorageBytes => Kind == NumberKind.String ? 0 : Math.Max(1, BitWidth / 8);

    /// <summary>True when elements are packed below one byte (int4, uint4, float4).</summary>
    public bool IsSubByte => BitWidth is > 0 and < 8;

    public bool IsFloat => Kind == NumberKind.BinaryFloat;
    public bool IsInteger => Kind is NumberKind.SignedInteger or NumberKind.UnsignedInteger;
    public bool IsSigned => Kind is NumberKind.SignedInteger or NumberKind.BinaryFloat or NumberKind.Complex;

    /// <summary>Binary exponent of the smallest positive (subnormal) value of a float format.</summary>
    public int MinSubnormalExponent => 1 - ExponentBias - MantissaBits;

    /// <summary>Bits of magnitude an integer type carries (value range is within ±2^bits).</summary>
    public int MagnitudeBits => Kind switch
    {
        NumberKind.Bool => 1,
        NumberKind.UnsignedInteger => BitWidth,
        NumberKind.SignedInteger => BitWidth - 1,
        _ => 0,
    };

    public double IntegerMin => Kind == NumberKind.SignedInteger ? -Math.Pow(2, BitWidth - 1) : 0;
    public double IntegerMax => Kind switch
    {
        NumberKind.Bool => 1,
        NumberKind.SignedInteger => Math.Pow(2, BitWidth - 1) - 1,
        NumberKind.UnsignedInteger => Math.Pow(2, BitWidth) - 1,
        _ => 0,
    };
}

public static class DataTypes
{
    private static readonly DataTypeFacts[] Table = BuildTable();

    private static DataTypeFacts[] BuildTable()
    {
        var t = new DataTypeFacts[24];
        void Int(DataType d, string n, int bits, bool signed) =>
            t[(int)d] = new(d, n, signed ? NumberKind.SignedInteger : NumberKind.UnsignedInteger, bits, 0, 0, 0, 0, false, false, false);
        void Flt(DataType d, string n, int bits, int e, int m, int bias, double max, bool inf, bool nan, bool negZero) =>
            t[(int)d] = new(d, n, NumberKind.BinaryFloat, bits, e, m, bias, max, inf, nan, negZero);

        t[0] = new(DataType.Undefined, "?", NumberKind.None, 0, 0, 0, 0, 0, false, false, false);
        Flt(DataType.Float, "f32", 32, 8, 23, 127, float.MaxValue, true, true, true);
        Flt(DataType.Double, "f64", 64, 11, 52, 1023, double.MaxValue, true, true, true);
        Flt(DataType.Float16, "f16", 16, 5, 10, 15, 65504, true, true, true);
        Flt(DataType.BFloat16, "bf16", 16, 8, 7, 127, 3.3895313892515355e38, true, true, true);
        Flt(DataType.Float8E4M3FN, "f8e4m3fn", 8, 4, 3, 7, 448, false, true, true);
        Flt(DataType.Float8E4M3FNUZ, "f8e4m3fnuz", 8, 4, 3, 8, 240, false, true, false);
        Flt(DataType.Float8E5M2, "f8e5m2", 8, 5, 2, 15, 57344, true, true, true);
        Flt(DataType.Float8E5M2FNUZ, "f8e5m2fnuz", 8, 5, 2, 16, 57344, false, true, false);
        Flt(DataType.Float4E2M1, "f4e2m1", 4, 2, 1, 1, 6, false, false, true);
        Int(DataType.UInt8, "u8", 8, false);
        Int(DataType.Int8, "i8", 8, true);
        Int(DataType.UInt16, "u16", 16, false);
        Int(DataType.Int16, "i16", 16, true);
        Int(DataType.Int32, "i32", 32, true);
        Int(DataType.Int64, "i64", 64, true);
        Int(DataType.UInt32, "u32", 32, false);
        Int(DataType.UInt64, "u64", 64, false);
        Int(DataType.UInt4, "u4", 4, false);
        Int(DataType.Int4, "i4", 4, true);
        t[(int)DataType.Bool] = new(DataType.Bool, "bool", NumberKind.Bool, 8, 0, 0, 0, 0, false, false, false);
        t[(int)DataType.String] = new(DataType.String, "str", NumberKind.String, 0, 0, 0, 0, 0, false, false, false);
        t[(int)DataType.Complex64] = new(DataType.Complex64, "c64", NumberKind.Complex, 64, 8, 23, 127, float.MaxValue, true, true, true);
        t[(int)DataType.Complex128] = new(DataType.Complex128, "c128", NumberKind.Complex, 128, 11, 52, 1023, double.MaxValue, true, true, true);
        return t;
    }

    /// <summary>Every element type Alloy knows, in ONNX code order (Undefined excluded).</summary>
    public static IEnumerable<DataType> All => Table.Skip(1).Select(f => f.Type);

    public static bool IsKnown(int onnxCode) => onnxCode >= 0 && onnxCode < Table.Length;

    public static DataTypeFacts Facts(this DataType type) =>
        (int)type >= 0 && (int)type < Table.Length ? Table[(int)type] : throw new ArgumentOutOfRangeException(nameof(type), type, "unknown element type");

    public static string ShortName(this DataType type) => type.Facts().ShortName;

    public static bool TryParseShortName(string name, out DataType type)
    {
        foreach (var f in Table)
        {
            if (f.ShortName == name)
            {
                type = f.Type;
                return true;
            }
        }
        type = DataType.Undefined;
        return false;
    }

    /// <summary>Bytes taken by <paramref name="count"/> elements in ONNX's packed little-endian raw layout.</summary>
    public static long RawByteCount(this DataType type, long count)
    {
        var f = type.Facts();
        if (f.Kind == NumberKind.String) throw new InvalidOperationException("string tensors have no raw layout");
        return f.IsSubByte ? (count * f.BitWidth + 7) / 8 : count * f.StorageBytes;
    }

    /// <summary>
    /// True when every value of <paramref name="from"/> is exactly a value of <paramref name="to"/>, so that
    /// converting <c>from → to → from</c> is the identity. Derived from the format facts only.
    /// </summary>
    public static bool RepresentsExactly(this DataType to, DataType from)
    {
        if (to == from) return true;
        var a = from.Facts();
        var b = to.Facts();
        if (a.Kind == NumberKind.None || b.Kind == NumberKind.None) return false;
        if (a.Kind == NumberKind.String || b.Kind == NumberKind.String) return false;

        // Complex targets hold any real value in their real part; complex sources only fit complex targets.
        if (a.Kind == NumberKind.Complex && b.Kind != NumberKind.Complex) return false;

        switch (a.Kind)
        {
            case NumberKind.Bool:
            case NumberKind.UnsignedInteger:
            case NumberKind.SignedInteger:
                if (b.Kind is NumberKind.Bool or NumberKind.UnsignedInteger or NumberKind.SignedInteger)
                    return a.IntegerMin >= b.IntegerMin && a.IntegerMax <= b.IntegerMax;
                // An integer fits a float when its magnitude needs no more significant bits than the float
                // carries and its largest magnitude is finite there.
                return a.MagnitudeBits <= b.MantissaBits + 1
                       && Math.Max(Math.Abs(a.IntegerMin), a.IntegerMax) <= b.MaxFinite;
            case NumberKind.BinaryFloat:
            case NumberKind.Complex:
                if (b.Kind is not (NumberKind.BinaryFloat or NumberKind.Complex)) return false;
                return b.MantissaBits >= a.MantissaBits
                       && a.MinSubnormalExponent >= b.MinSubnormalExponent
                       && a.MaxFinite <= b.MaxFinite
                       && (!a.HasInfinity || b.HasInfinity)
                       && (!a.HasNaN || b.HasNaN)
                       && (!a.HasNegativeZero || b.HasNegativeZero);
            default:
                return false;
        }
    }
}
