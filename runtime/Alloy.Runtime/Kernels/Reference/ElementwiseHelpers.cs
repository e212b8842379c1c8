using System.Globalization;
using Alloy.Runtime.Numerics;

namespace Alloy.Runtime.Kernels.Reference;

/// <summary>A named set of element types an op accepts (the name is used in messages).</summary>
internal sealed record ElementTypeSet(string Description, Func<ElementType, bool> Contains)
{
    public static readonly ElementTypeSet Float = new("a floating-point type", t => t.IsFloat());
    public static readonly ElementTypeSet Integer = new("an integer type", t => t.IsInteger());
    public static readonly ElementTypeSet SignedInteger = new("a signed integer type", ElementwiseHelpers.IsSignedInteger);
    public static readonly ElementTypeSet UnsignedInteger = new("an unsigned integer type", t => t.IsInteger() && !ElementwiseHelpers.IsSignedInteger(t));
    public static readonly ElementTypeSet Numeric = new("a numeric type", t => t.IsFloat() || t.IsInteger());
    public static readonly ElementTypeSet SignedNumeric = new("a floating-point or signed integer type", t => t.IsFloat() || ElementwiseHelpers.IsSignedInteger(t));
    public static readonly ElementTypeSet Bool = new("bool", t => t == ElementType.Bool);
    public static readonly ElementTypeSet NumericOrBool = new("a numeric type or bool", t => t.IsFloat() || t.IsInteger() || t == ElementType.Bool);
    public static readonly ElementTypeSet NumericBoolOrString = new("a numeric type, bool or string",
        t => t.IsFloat() || t.IsInteger() || t == ElementType.Bool || t == ElementType.String);
    public static readonly ElementTypeSet Any = new("a tensor element type", ElementwiseHelpers.IsKnown);
}

/// <summary>Small helpers shared by the element-wise and reduction reference kernels.</summary>
internal static class ElementwiseHelpers
{
    public static bool IsSignedInteger(ElementType t) =>
        t is ElementType.Int8 or ElementType.Int16 or ElementType.Int32 or ElementType.Int64 or ElementType.Int4;

    /// <summary>A type this runtime can hold (everything but Undefined and the complex types).</summary>
    public static bool IsKnown(ElementType t) =>
        Enum.IsDefined(t) && t is not (ElementType.Undefined or ElementType.Complex64 or ElementType.Complex128);

    /// <summary>Operand <paramref name="index"/>, which must be present.</summary>
    public static Tensor Required(ReadOnlySpan<Tensor?> inputs, int index, string op, string name) =>
        index < inputs.Length && inputs[index] is { } t ? t : throw new KernelException($"{op}: input {index} ('{name}') is missing");

    /// <summary>Operand <paramref name="index"/> or null when omitted.</summary>
    public static Tensor? Optional(ReadOnlySpan<Tensor?> inputs, int index) => index < inputs.Length ? inputs[index] : null;

    public static void CheckType(Tensor t, ElementTypeSet set, string op, string name)
    {
        if (!set.Contains(t.Type))
            throw new KernelException($"{op}: input '{name}' is {t.Type.Name()}, expected {set.Description}");
    }

    public static void CheckSameType(Tensor a, Tensor b, string op, string nameA, string nameB)
    {
        if (a.Type != b.Type)
            throw new KernelException($"{op}: inputs '{nameA}' ({a.Type.Name()}) and '{nameB}' ({b.Type.Name()}) must have the same element type");
    }

    /// <summary>
    /// True (with a reason) when the node's input <paramref name="index"/> is known before running and its type is
    /// not in <paramref name="set"/>; factories use it to decline a node early.
    /// </summary>
    public static bool RejectsType(KernelNode n, int index, ElementTypeSet set, string name, out string? reason)
    {
        reason = null;
        if (index < n.InputTypes.Count && n.InputTypes[index] is { } t && !set.Contains(t))
        {
            reason = $"{n.OpType}: input '{name}' is {t.Name()}, expected {set.Description}";
            return true;
        }
        return false;
    }

    /// <summary>
    /// Whether the node's opset is older than <paramref name="version"/>. An unknown opset (0) counts as the latest.
    /// </summary>
    public static bool OpsetBefore(KernelNode n, long version) => n.Opset > 0 && n.Opset < version;

    /// <summary>Orders integer values held in a long: u64 values are reinterpreted, so flip the sign bit to compare.</summary>
    public static long OrderKey(long v, ElementType t) => t == ElementType.UInt64 ? v ^ long.MinValue : v;

    /// <summary>Smallest and largest value of an integer or bool type (u64 max is stored as its bit pattern, -1).</summary>
    public static (long Min, long Max) IntegerRange(ElementType t) => t switch
    {
        ElementType.Bool => (0, 1),
        ElementType.Int8 => (sbyte.MinValue, sbyte.MaxValue),
        ElementType.UInt8 => (0, byte.MaxValue),
        ElementType.Int16 => (short.MinValue, short.MaxValue),
        ElementType.UInt16 => (0, ushort.MaxValue),
        ElementType.Int32 => (int.MinValue, int.MaxValue),
        ElementType.UInt32 => (0, uint.MaxValue),
        ElementType.Int64 => (long.MinValue, long.MaxValue),
        ElementType.UInt64 => (0, unchecked((long)ulong.MaxValue)),
        ElementType.Int4 => (-8, 7),
        ElementType.UInt4 => (0, 15),
        _ => throw new KernelTypeException(t),
    };

    /// <summary>
    /// A u64 value (held in a long) as a double, rounded to odd when inexact, so that a later narrowing to f32 / f16 /
    /// bf16 / f8 rounds only once (ElementConvert.SetLong does this for signed values).
    /// </summary>
    public static double UInt64ToDoubleRoundToOdd(long v)
    {
        ulong u = (ulong)v;
        double d = u;
        UInt128 back = (UInt128)d; // exact: d is an integer below 2^65
        if (back == u || (BitConverter.DoubleToInt64Bits(d) & 1) != 0) return d;
        return back < u ? Math.BitIncrement(d) : Math.BitDecrement(d);
    }

    /// <summary>Copies element <paramref name="si"/> of <paramref name="src"/> to element <paramref name="di"/> of a tensor of the same type.</summary>
    public static void CopyElement(Tensor src, long si, Tensor dst, long di)
    {
        if (src.Type == ElementType.String)
        {
            dst.Strings[di] = src.Strings[si];
            return;
        }
        int bits = src.Type.Bits();
        if (bits % 8 == 0)
        {
            int size = bits / 8;
            src.Bytes.Slice(checked((int)(si * size)), size).CopyTo(dst.Bytes.Slice(checked((int)(di * size)), size));
        }
        else ElementConvert.SetCode(dst, di, ElementConvert.GetCode(src, si)); // 4-bit types: the nibble as is
    }

    /// <summary>An int32 / int64 tensor's elements (axes, shapes, counts).</summary>
    public static long[] ReadInts(Tensor t, string op, string name)
    {
        if (t.Type is not (ElementType.Int64 or ElementType.Int32))
            throw new KernelException($"{op}: input '{name}' is {t.Type.Name()}, expected int64 or int32");
        return ElementConvert.ToLongs(t);
    }

    /// <summary>A scalar int32 / int64 tensor (rank 0, or one element).</summary>
    public static long ReadScalarInt(Tensor t, string op, string name)
    {
        var v = ReadInts(t, op, name);
        if (v.Length != 1 || t.Rank > 1) throw new KernelException($"{op}: input '{name}' must be a scalar, it has shape {t.ShapeText}");
        return v[0];
    }

    /// <summary>Normalises an axis in [-rank, rank) (or [-rank, rank] with <paramref name="allowRank"/>).</summary>
    public static int NormalizeAxis(long axis, int rank, string op, string what = "axis", bool allowRank = false)
    {
        long upper = allowRank ? rank : rank - 1;
        if (axis < -rank || axis > upper)
            throw new KernelException($"{op}: {what} {axis} is out of range for a tensor of rank {rank} (allowed [{-rank}, {upper}])");
        return (int)(axis < 0 ? axis + rank : axis);
    }

    public static long Product(ReadOnlySpan<long> dims)
    {
        long p = 1;
        foreach (var d in dims) p = checked(p * d);
        return p;
    }

    /// <summary>A number as ONNX Cast writes it into a string tensor (shortest round-trip form, like numpy's str).</summary>
    public static string FormatNumber(Tensor t, long i)
    {
        var inv = CultureInfo.InvariantCulture;
        switch (t.Type)
        {
            case ElementType.Bool: return ElementConvert.GetLong(t, i) != 0 ? "True" : "False";
            case ElementType.UInt64: return ((ulong)ElementConvert.GetLong(t, i)).ToString(inv);
            case ElementType.Double: return FloatText(ElementConvert.GetDouble(t, i).ToString("R", inv));
            case ElementType.Float16: return FloatText(((Half)ElementConvert.GetDouble(t, i)).ToString(inv));
            default:
                if (t.Type.IsFloat()) return FloatText(((float)ElementConvert.GetDouble(t, i)).ToString("R", inv));
                return ElementConvert.GetLong(t, i).ToString(inv);
        }

        static string FloatText(string s)
        {
            if (s is "NaN" or "-NaN") return "nan";
            if (s == "Infinity" || s == "∞") return "inf";
            if (s == "-Infinity" || s == "-∞") return "-inf";
            s = s.Replace('E', 'e');
            return s.Contains('.') || s.Contains('e') ? s : s + ".0";
        }
    }

    /// <summary>
    /// Parses a string tensor element for Cast: plain and scientific numbers, and (case-insensitively) "NaN", "INF",
    /// "+INF", "-INF", "inf", "infinity".
    /// </summary>
    public static double ParseDouble(string s, string op)
    {
        var t = s.Trim();
        var lower = t.ToLowerInvariant();
        bool negative = lower.StartsWith('-');
        var body = lower.StartsWith('-') || lower.StartsWith('+') ? lower[1..] : lower;
        if (body is "inf" or "infinity") return negative ? double.NegativeInfinity : double.PositiveInfinity;
        if (body == "nan") return negative ? -double.NaN : double.NaN;
        if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)) return d;
        throw new KernelException($"{op}: cannot parse the string '{s}' as a number");
    }
}
