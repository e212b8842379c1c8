using Alloy.Runtime.Numerics;

namespace Alloy.Runtime.Kernels.Reference;

/// <summary>
/// Small helpers shared by the linear-algebra, convolution, normalization and recurrent reference kernels:
/// operand access with clear messages, type checks, strides, and rounding a double to an element type.
/// </summary>
internal static class LinearAlgebraHelpers
{
    /// <summary>Operand <paramref name="i"/>, which must be present.</summary>
    public static Tensor Required(ReadOnlySpan<Tensor?> inputs, int i, string op, string name)
    {
        if (i >= inputs.Length || inputs[i] is null)
            throw new KernelException($"{op}: required input {i} ('{name}') is missing");
        return inputs[i]!;
    }

    /// <summary>Operand <paramref name="i"/>, or null when omitted (or absent from the operand list).</summary>
    public static Tensor? Optional(ReadOnlySpan<Tensor?> inputs, int i) => i < inputs.Length ? inputs[i] : null;

    /// <summary>Throws unless <paramref name="t"/> holds a floating-point element type.</summary>
    public static void RequireFloat(Tensor t, string op, string name)
    {
        if (!t.Type.IsFloat())
            throw new KernelException($"{op}: input '{name}' is {t.Type.Name()}, expected a floating-point type");
    }

    /// <summary>Throws unless <paramref name="t"/> holds a float or an integer element type.</summary>
    public static void RequireNumeric(Tensor t, string op, string name)
    {
        if (!t.Type.IsFloat() && !t.Type.IsInteger())
            throw new KernelException($"{op}: input '{name}' is {t.Type.Name()}, expected a numeric type");
    }

    /// <summary>Throws unless both tensors have the same element type.</summary>
    public static void RequireSameType(Tensor a, string aName, Tensor b, string bName, string op)
    {
        if (a.Type != b.Type)
            throw new KernelException($"{op}: input '{bName}' is {b.Type.Name()} but '{aName}' is {a.Type.Name()}; they must have the same type");
    }

    /// <summary>For a factory: the reason a known input type is not a float type, or null.</summary>
    public static string? FloatTypeReason(KernelNode n, int i, string name)
    {
        if (i < n.InputTypes.Count && n.InputTypes[i] is { } t && !t.IsFloat())
            return $"{n.OpType}: input '{name}' of type {t.Name()} is not supported (floating-point types only)";
        return null;
    }

    /// <summary>For a factory: the reason a known input type is neither float nor integer, or null.</summary>
    public static string? NumericTypeReason(KernelNode n, int i, string name)
    {
        if (i < n.InputTypes.Count && n.InputTypes[i] is { } t && !t.IsFloat() && !t.IsInteger())
            return $"{n.OpType}: input '{name}' of type {t.Name()} is not supported (numeric types only)";
        return null;
    }

    public static long Product(ReadOnlySpan<long> dims)
    {
        long p = 1;
        foreach (var d in dims) p = checked(p * d);
        return p;
    }

    /// <summary>Row-major strides of <paramref name="shape"/>.</summary>
    public static long[] Strides(ReadOnlySpan<long> shape)
    {
        var s = new long[shape.Length];
        long stride = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            s[i] = stride;
            stride *= shape[i];
        }
        return s;
    }

    public static string ShapeText(ReadOnlySpan<long> shape) => "[" + string.Join(",", shape.ToArray()) + "]";

    /// <summary>An axis in [-rank, rank) normalised to [0, rank).</summary>
    public static int Axis(long axis, int rank, string op, string what = "axis")
    {
        if (axis < -rank || axis >= rank)
            throw new KernelException($"{op}: {what} {axis} is out of range for a tensor of rank {rank}");
        return (int)(axis < 0 ? axis + rank : axis);
    }

    /// <summary>
    /// <paramref name="v"/> rounded to the nearest value of element type <paramref name="type"/>, widened back
    /// (the same rounding <see cref="ElementConvert.SetDouble"/> applies on store).
    /// </summary>
    public static double RoundTo(ElementType type, double v) => type switch
    {
        ElementType.Double => v,
        ElementType.Float => (float)v,
        ElementType.Float16 => (double)(Half)v,
        ElementType.BFloat16 => BFloat16.FromFloat((float)v).ToFloat(),
        _ => RoundThroughTensor(type, v),
    };

    private static double RoundThroughTensor(ElementType type, double v)
    {
        using var t = Tensor.Create(type, [1]);
        ElementConvert.SetDouble(t, 0, v);
        return ElementConvert.GetDouble(t, 0);
    }

    /// <summary>Advances a row-major multi-index over <paramref name="shape"/>; false after the last one.</summary>
    public static bool Next(long[] index, ReadOnlySpan<long> shape)
    {
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            if (++index[i] < shape[i]) return true;
            index[i] = 0;
        }
        return false;
    }
}
