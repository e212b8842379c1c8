namespace Alloy.Runtime;

/// <summary>Element types of runtime tensors (numbered as ONNX numbers them, so the backend maps them one to one).</summary>
public enum ElementType
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

public static class ElementTypes
{
    /// <summary>Bits per element (4 for the packed types, 0 for strings).</summary>
    public static int Bits(this ElementType t) => t switch
    {
        ElementType.Float or ElementType.Int32 or ElementType.UInt32 => 32,
        ElementType.Double or ElementType.Int64 or ElementType.UInt64 or ElementType.Complex64 => 64,
        ElementType.Complex128 => 128,
        ElementType.Float16 or ElementType.BFloat16 or ElementType.Int16 or ElementType.UInt16 => 16,
        ElementType.UInt8 or ElementType.Int8 or ElementType.Bool or ElementType.Float8E4M3FN or ElementType.Float8E4M3FNUZ
            or ElementType.Float8E5M2 or ElementType.Float8E5M2FNUZ => 8,
        ElementType.UInt4 or ElementType.Int4 or ElementType.Float4E2M1 => 4,
        ElementType.String => 0,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "no element type"),
    };

    /// <summary>Bytes for <paramref name="count"/> elements (sub-byte types packed two per byte).</summary>
    public static long ByteCount(this ElementType t, long count) => (count * t.Bits() + 7) / 8;

    public static bool IsFloat(this ElementType t) => t is ElementType.Float or ElementType.Double or ElementType.Float16 or ElementType.BFloat16
        or ElementType.Float8E4M3FN or ElementType.Float8E4M3FNUZ or ElementType.Float8E5M2 or ElementType.Float8E5M2FNUZ or ElementType.Float4E2M1;

    public static bool IsInteger(this ElementType t) => t is ElementType.Int8 or ElementType.UInt8 or ElementType.Int16 or ElementType.UInt16
        or ElementType.Int32 or ElementType.UInt32 or ElementType.Int64 or ElementType.UInt64 or ElementType.Int4 or ElementType.UInt4;

    public static string Name(this ElementType t) => t switch
    {
        ElementType.Float => "f32", ElementType.Double => "f64", ElementType.Float16 => "f16", ElementType.BFloat16 => "bf16",
        ElementType.Int8 => "i8", ElementType.UInt8 => "u8", ElementType.Int16 => "i16", ElementType.UInt16 => "u16",
        ElementType.Int32 => "i32", ElementType.UInt32 => "u32", ElementType.Int64 => "i64", ElementType.UInt64 => "u64",
        ElementType.Bool => "bool", ElementType.String => "str", ElementType.Complex64 => "c64", ElementType.Complex128 => "c128",
        ElementType.Float8E4M3FN => "f8e4m3fn", ElementType.Float8E4M3FNUZ => "f8e4m3fnuz", ElementType.Float8E5M2 => "f8e5m2",
        ElementType.Float8E5M2FNUZ => "f8e5m2fnuz", ElementType.UInt4 => "u4", ElementType.Int4 => "i4", ElementType.Float4E2M1 => "f4e2m1",
        _ => "?",
    };
}
