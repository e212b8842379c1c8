using Alloy.Runtime.Numerics;

namespace Alloy.Runtime.Kernels.Reference;

/// <summary>
/// Helpers shared by the data-movement families (shape, indexing, quantization, misc): reading operands, axis
/// normalisation, shape arithmetic, and copying elements of any element type (strings, bool, sub-byte packed
/// types included) without converting them.
/// </summary>
internal static class ShapeHelpers
{
    // ---- operands ----

    /// <summary>Input <paramref name="i"/>, which must be present.</summary>
    public static Tensor In(ReadOnlySpan<Tensor?> inputs, int i, string name) =>
        i < inputs.Length && inputs[i] is { } t ? t : throw new KernelException($"input {i} ('{name}') is missing");

    /// <summary>Input <paramref name="i"/>, or null when omitted.</summary>
    public static Tensor? Opt(ReadOnlySpan<Tensor?> inputs, int i) => i < inputs.Length ? inputs[i] : null;

    /// <summary>The values of an integer tensor (shape, axes, indices…) as longs.</summary>
    public static long[] Ints(Tensor t, string name)
    {
        if (!t.Type.IsInteger())
            throw new KernelException($"input '{name}' must be an integer tensor, got {t.Type.Name()}");
        return ElementConvert.ToLongs(t);
    }

    /// <summary>The values of a 1-D (or scalar) integer tensor.</summary>
    public static long[] Ints1D(Tensor t, string name)
    {
        if (t.Rank > 1) throw new KernelException($"input '{name}' must be 1-D, got shape {t.ShapeText}");
        return Ints(t, name);
    }

    /// <summary>The single value of an integer tensor holding one element.</summary>
    public static long ScalarInt(Tensor t, string name)
    {
        if (t.Length != 1) throw new KernelException($"input '{name}' must hold one value, got shape {t.ShapeText}");
        return Ints(t, name)[0];
    }

    /// <summary>The single value of a numeric tensor holding one element, widened to double.</summary>
    public static double ScalarDouble(Tensor t, string name)
    {
        if (t.Length != 1) throw new KernelException($"input '{name}' must hold one value, got shape {t.ShapeText}");
        if (t.Type == ElementType.String) throw new KernelException($"input '{name}' must be numeric");
        return ElementConvert.GetDouble(t, 0);
    }

    // ---- axes and shapes ----

    /// <summary>An axis in [-rank, rank-1] made non-negative.</summary>
    public static int Axis(long axis, int rank, string what = "axis")
    {
        if (axis < -rank || axis >= rank)
            throw new KernelException($"{what} {axis} is out of range for rank {rank} (valid: [{-rank}, {rank - 1}])");
        return (int)(axis < 0 ? axis + rank : axis);
    }

    /// <summary>Distinct axes normalised against <paramref name="rank"/>.</summary>
    public static int[] Axes(long[] axes, int rank, string what = "axes")
    {
        var r = new int[axes.Length];
        for (int i = 0; i < axes.Length; i++)
        {
            r[i] = Axis(axes[i], rank, what);
            for (int j = 0; j < i; j++)
                if (r[j] == r[i]) throw new KernelException($"{what} [{string.Join(",", axes)}] repeat axis {r[i]}");
        }
        return r;
    }

    public static long Count(ReadOnlySpan<long> shape)
    {
        long n = 1;
        foreach (var d in shape) n = checked(n * d);
        return n;
    }

    /// <summary>Row-major strides in elements.</summary>
    public static long[] Strides(ReadOnlySpan<long> shape)
    {
        var s = new long[shape.Length];
        long k = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            s[i] = k;
            k *= shape[i];
        }
        return s;
    }

    public static string Text(ReadOnlySpan<long> shape) => "[" + string.Join(",", shape.ToArray()) + "]";

    /// <summary>
    /// Calls <paramref name="visit"/> with every multi-index of <paramref name="shape"/> in row-major order,
    /// together with its flat position.
    /// </summary>
    public static void ForEachIndex(ReadOnlySpan<long> shape, Action<long[], long> visit)
    {
        long n = Count(shape);
        if (n == 0) return;
        var idx = new long[shape.Length];
        for (long k = 0; k < n; k++)
        {
            visit(idx, k);
            for (int d = shape.Length - 1; d >= 0; d--)
            {
                if (++idx[d] < shape[d]) break;
                idx[d] = 0;
            }
        }
    }

    /// <summary>
    /// For an output of <paramref name="outShape"/>, the flat source index of every element, computed by
    /// <paramref name="source"/> from the output multi-index (return -1 for "fill").
    /// </summary>
    public static long[] Map(long[] outShape, Func<long[], long> source)
    {
        var map = new long[Count(outShape)];
        ForEachIndex(outShape, (idx, k) => map[k] = source(idx));
        return map;
    }

    // ---- element copying (any element type, no conversion) ----

    /// <summary>
    /// A new tensor of <paramref name="shape"/> whose element k is element <c>map[k]</c> of <paramref name="src"/>;
    /// a negative entry takes element 0 of <paramref name="fill"/> (same element type) or zero / "" without one.
    /// </summary>
    public static Tensor Take(Tensor src, long[] shape, ReadOnlySpan<long> map, Tensor? fill = null)
    {
        var dst = Tensor.Create(src.Type, shape);
        try
        {
            if (map.Length != dst.Length) throw new KernelException($"internal: {map.Length} indices for {dst.Length} elements");
            if (fill is not null && (fill.Type != src.Type || fill.Length < 1))
                throw new KernelException($"fill value must be one {src.Type.Name()} element, got {fill}");
            if (src.Type == ElementType.String)
            {
                var s = src.Strings;
                var d = dst.Strings;
                string f = fill?.Strings[0] ?? "";
                for (int i = 0; i < map.Length; i++) d[i] = map[i] < 0 ? f : s[CheckIndex(map[i], src)];
                return dst;
            }
            int bits = src.Type.Bits();
            if (bits == 4)
            {
                var sb = src.Bytes;
                var db = dst.Bytes;
                int f = fill is null ? 0 : Nibble(fill.Bytes, 0);
                for (int i = 0; i < map.Length; i++) SetNibble(db, i, map[i] < 0 ? f : Nibble(sb, CheckIndex(map[i], src)));
                return dst;
            }
            int size = bits / 8;
            var sbytes = src.Bytes;
            var dbytes = dst.Bytes;
            var fbytes = fill is null ? default : fill.Bytes[..size];
            for (int i = 0; i < map.Length; i++)
            {
                var target = dbytes.Slice(i * size, size);
                if (map[i] < 0)
                {
                    if (fill is not null) fbytes.CopyTo(target);
                }
                else sbytes.Slice(CheckIndex(map[i], src) * size, size).CopyTo(target);
            }
            return dst;
        }
        catch
        {
            dst.Dispose();
            throw;
        }
    }

    private static int CheckIndex(long i, Tensor src) =>
        i < src.Length ? (int)i : throw new KernelException($"internal: element {i} of a tensor of {src.Length}");

    /// <summary>Copies <paramref name="count"/> consecutive elements (any element type).</summary>
    public static void CopyElements(Tensor src, long srcStart, Tensor dst, long dstStart, long count)
    {
        if (src.Type != dst.Type) throw new KernelException($"internal: copying {src.Type.Name()} into {dst.Type.Name()}");
        if (count == 0) return;
        if (srcStart < 0 || dstStart < 0 || srcStart + count > src.Length || dstStart + count > dst.Length)
            throw new KernelException($"internal: copy of {count} elements out of range");
        if (src.Type == ElementType.String)
        {
            Array.Copy(src.Strings, srcStart, dst.Strings, dstStart, count);
            return;
        }
        int bits = src.Type.Bits();
        if (bits == 4)
        {
            var sb = src.Bytes;
            var db = dst.Bytes;
            for (long i = 0; i < count; i++) SetNibble(db, (int)(dstStart + i), Nibble(sb, (int)(srcStart + i)));
            return;
        }
        int size = bits / 8;
        src.Bytes.Slice((int)(srcStart * size), (int)(count * size)).CopyTo(dst.Bytes.Slice((int)(dstStart * size), (int)(count * size)));
    }

    /// <summary>Copies element <paramref name="si"/> of <paramref name="src"/> to element <paramref name="di"/> of <paramref name="dst"/>.</summary>
    public static void CopyElement(Tensor src, long si, Tensor dst, long di) => CopyElements(src, si, dst, di, 1);

    /// <summary>A copy of <paramref name="t"/> with another shape of the same element count.</summary>
    public static Tensor Reshaped(Tensor t, long[] shape)
    {
        if (Count(shape) != t.Length)
            throw new KernelException($"cannot reshape {t.Length} elements {t.ShapeText} to {Text(shape)}");
        return ElementConvert.Clone(t, shape);
    }

    /// <summary>A one-element tensor of <paramref name="type"/> holding <paramref name="value"/> rounded once.</summary>
    public static Tensor ScalarOf(ElementType type, double value)
    {
        var t = Tensor.Create(type, []);
        if (type != ElementType.String) ElementConvert.SetDouble(t, 0, value);
        return t;
    }

    public static int Nibble(Span<byte> b, int k) => (k & 1) == 0 ? b[k >> 1] & 0xF : b[k >> 1] >> 4;

    public static void SetNibble(Span<byte> b, int k, int v) =>
        b[k >> 1] = (k & 1) == 0 ? (byte)((b[k >> 1] & 0xF0) | (v & 0xF)) : (byte)((b[k >> 1] & 0x0F) | ((v & 0xF) << 4));

    /// <summary>Runs <paramref name="build"/> and disposes already-created outputs if it throws.</summary>
    public static void Guard(Span<Tensor?> outputs, Action build)
    {
        try
        {
            build();
        }
        catch
        {
            for (int i = 0; i < outputs.Length; i++)
            {
                outputs[i]?.Dispose();
                outputs[i] = null;
            }
            throw;
        }
    }
}

/// <summary>
/// Orders and compares elements of one tensor by value: floats as doubles (NaN greater than everything, equal to
/// NaN), unsigned 64-bit as ulong, other integers and bool as long, strings ordinally.
/// </summary>
internal sealed class ElementKeys
{
    private readonly double[]? _d;
    private readonly long[]? _l;
    private readonly ulong[]? _u;
    private readonly string[]? _s;

    public ElementKeys(Tensor t)
    {
        if (t.Type == ElementType.String) _s = t.Strings;
        else if (t.Type == ElementType.UInt64) _u = t.ToArray<ulong>();
        else if (t.Type.IsFloat()) _d = ElementConvert.ToDoubles(t);
        else if (t.Type.IsInteger() || t.Type == ElementType.Bool) _l = ElementConvert.ToLongs(t);
        else throw new KernelTypeException(t.Type);
    }

    public int Compare(long i, long j)
    {
        if (_d is not null)
        {
            double a = _d[i], b = _d[j];
            bool na = double.IsNaN(a), nb = double.IsNaN(b);
            if (na || nb) return na == nb ? 0 : na ? 1 : -1;
            return a.CompareTo(b);
        }
        if (_l is not null) return _l[i].CompareTo(_l[j]);
        if (_u is not null) return _u[i].CompareTo(_u[j]);
        return string.CompareOrdinal(_s![i], _s[j]);
    }
}
