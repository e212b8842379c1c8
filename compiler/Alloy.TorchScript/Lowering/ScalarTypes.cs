using Alloy.IR;

namespace Alloy.TorchScript.Lowering;

/// <summary>c10 <c>ScalarType</c> numbers (the <c>dtype=</c> ints in TorchScript code) and IR element types.</summary>
internal static class ScalarTypes
{
    private static readonly (int Code, DataType Type)[] Table =
    [
        (0, DataType.UInt8), (1, DataType.Int8), (2, DataType.Int16), (3, DataType.Int32), (4, DataType.Int64),
        (5, DataType.Float16), (6, DataType.Float), (7, DataType.Double), (11, DataType.Bool), (15, DataType.BFloat16),
    ];

    public static DataType? FromCode(long code)
    {
        foreach (var (c, t) in Table)
            if (c == code) return t;
        return null;
    }

    public static int Code(DataType t)
    {
        foreach (var (c, x) in Table)
            if (x == t) return c;
        return -1;
    }

    public static bool IsFloat(DataType t) => t.Facts().IsFloat;

    /// <summary>Precision mark names for the autocast target types.</summary>
    public static string? PrecisionName(DataType t) => t switch
    {
        DataType.BFloat16 => "bf16",
        DataType.Float16 => "fp16",
        DataType.Float => "fp32",
        _ => null,
    };

    /// <summary>The wider of two element types (floating point over integer, more bits over fewer).</summary>
    public static DataType Promote(DataType a, DataType b)
    {
        if (a == b) return a;
        bool fa = IsFloat(a), fb = IsFloat(b);
        if (fa != fb) return fa ? a : b;
        if (a == DataType.Bool) return b;
        if (b == DataType.Bool) return a;
        return a.Facts().BitWidth >= b.Facts().BitWidth ? a : b;
    }
}
