using Alloy.Runtime.Numerics;
using static Alloy.Runtime.Kernels.Reference.ElementwiseHelpers;

namespace Alloy.Runtime.Kernels.Reference;

/// <summary>
/// y = f(x) element by element. Floating-point inputs are widened to double, <paramref name="onFloat"/> is applied
/// and the result rounded once to the output type; integer and bool inputs go through <paramref name="onInteger"/>
/// in long (wrapping on store), or through <paramref name="onFloat"/> when no integer form is given. The output
/// type is <paramref name="output"/>, or the input type.
/// </summary>
internal sealed class ElementwiseUnaryKernel(
    string op, ElementTypeSet accepts, Func<double, double>? onFloat, Func<long, ElementType, long>? onInteger, ElementType? output = null) : IKernel
{
    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = Required(inputs, 0, op, "X");
        CheckType(x, accepts, op, "X");
        var y = Tensor.Create(output ?? x.Type, x.Shape);
        outputs[0] = y;
        if (onInteger is not null && !x.Type.IsFloat())
        {
            for (long i = 0; i < x.Length; i++) ElementConvert.SetLong(y, i, onInteger(ElementConvert.GetLong(x, i), x.Type));
        }
        else if (onFloat is not null)
        {
            for (long i = 0; i < x.Length; i++) ElementConvert.SetDouble(y, i, onFloat(ElementConvert.GetDouble(x, i)));
        }
        else throw new KernelException($"{op}: input 'X' of type {x.Type.Name()} is not supported");
    }
}

/// <summary>
/// y = f(a, b) with multidirectional broadcasting; both operands have the same element type. Floating-point
/// operands are computed in double (<paramref name="onFloat"/>), integer and bool operands in long
/// (<paramref name="onInteger"/>, which also receives the element type so u64 can be treated as unsigned), strings
/// through <paramref name="onString"/>. With <paramref name="unidirectional"/> the result must have a's shape
/// (PRelu's slope broadcasts to X, never the other way).
/// </summary>
internal sealed class ElementwiseBinaryKernel(
    string op, ElementTypeSet accepts, Func<double, double, double>? onFloat, Func<long, long, ElementType, long>? onInteger,
    ElementType? output = null, Func<string, string, bool>? onString = null, bool unidirectional = false, string nameA = "A", string nameB = "B") : IKernel
{
    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var a = Required(inputs, 0, op, nameA);
        var b = Required(inputs, 1, op, nameB);
        CheckSameType(a, b, op, nameA, nameB);
        CheckType(a, accepts, op, nameA);
        var shape = Broadcast.Shape(a.Shape, b.Shape);
        if (unidirectional && !shape.AsSpan().SequenceEqual(a.Shape))
            throw new KernelException($"{op}: '{nameB}' of shape {b.ShapeText} does not broadcast to '{nameA}' of shape {a.ShapeText}");
        var ia = Broadcast.SourceIndices(a.Shape, shape);
        var ib = Broadcast.SourceIndices(b.Shape, shape);
        var y = Tensor.Create(output ?? a.Type, shape);
        outputs[0] = y;
        if (a.Type == ElementType.String)
        {
            if (onString is null) throw new KernelException($"{op}: string inputs are not supported");
            var sa = a.Strings;
            var sb = b.Strings;
            for (long i = 0; i < y.Length; i++) ElementConvert.SetLong(y, i, onString(sa[ia[i]], sb[ib[i]]) ? 1 : 0);
        }
        else if (a.Type.IsFloat() || onInteger is null)
        {
            if (onFloat is null) throw new KernelException($"{op}: input '{nameA}' of type {a.Type.Name()} is not supported");
            var da = ElementConvert.ToDoubles(a);
            var db = ElementConvert.ToDoubles(b);
            for (long i = 0; i < y.Length; i++) ElementConvert.SetDouble(y, i, onFloat(da[ia[i]], db[ib[i]]));
        }
        else
        {
            var la = ElementConvert.ToLongs(a);
            var lb = ElementConvert.ToLongs(b);
            for (long i = 0; i < y.Length; i++) ElementConvert.SetLong(y, i, onInteger(la[ia[i]], lb[ib[i]], a.Type));
        }
    }
}

/// <summary>
/// Pow: base and exponent may have different numeric types; the result has the base's type. Floating-point bases
/// (or a floating-point exponent) compute in double; integer ^ integer is exact in wrapping long arithmetic.
/// </summary>
internal sealed class ElementwisePowKernel : IKernel
{
    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = Required(inputs, 0, "Pow", "X");
        var e = Required(inputs, 1, "Pow", "Y");
        CheckType(x, ElementTypeSet.Numeric, "Pow", "X");
        CheckType(e, ElementTypeSet.Numeric, "Pow", "Y");
        var shape = Broadcast.Shape(x.Shape, e.Shape);
        var ix = Broadcast.SourceIndices(x.Shape, shape);
        var ie = Broadcast.SourceIndices(e.Shape, shape);
        var z = Tensor.Create(x.Type, shape);
        outputs[0] = z;
        if (x.Type.IsFloat() || e.Type.IsFloat())
        {
            var dx = ElementConvert.ToDoubles(x);
            var de = ElementConvert.ToDoubles(e);
            for (long i = 0; i < z.Length; i++) ElementConvert.SetDouble(z, i, Math.Pow(dx[ix[i]], de[ie[i]]));
            return;
        }
        var lx = ElementConvert.ToLongs(x);
        var le = ElementConvert.ToLongs(e);
        bool unsignedExponent = e.Type == ElementType.UInt64;
        for (long i = 0; i < z.Length; i++) ElementConvert.SetLong(z, i, IntegerPower(lx[ix[i]], le[ie[i]], unsignedExponent));
    }

    /// <summary>b^e in wrapping 64-bit arithmetic (the low bits are right for every narrower type, signed or not).</summary>
    public static long IntegerPower(long b, long e, bool unsignedExponent)
    {
        if (e < 0 && !unsignedExponent)
        {
            // 1 / b^|e| truncated toward zero.
            if (b == 0) throw new KernelException("Pow: zero raised to a negative integer power");
            return b == 1 ? 1 : b == -1 ? ((e & 1) == 0 ? 1 : -1) : 0;
        }
        ulong n = (ulong)e;
        long result = 1;
        while (n != 0)
        {
            if ((n & 1) != 0) result = unchecked(result * b);
            b = unchecked(b * b);
            n >>= 1;
        }
        return result;
    }
}

/// <summary>Sum / Mean / Max / Min of one or more inputs, all broadcast together.</summary>
internal sealed class ElementwiseVariadicKernel(string op, ElementTypeSet accepts) : IKernel
{
    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        if (inputs.Length == 0) throw new KernelException($"{op}: at least one input is required");
        var xs = new Tensor[inputs.Length];
        for (int k = 0; k < inputs.Length; k++)
        {
            xs[k] = Required(inputs, k, op, $"data_{k}");
            CheckType(xs[k], accepts, op, $"data_{k}");
            CheckSameType(xs[0], xs[k], op, "data_0", $"data_{k}");
        }
        var type = xs[0].Type;
        var shape = Broadcast.Shape(xs.Select(t => t.Shape).ToArray());
        var index = xs.Select(t => Broadcast.SourceIndices(t.Shape, shape)).ToArray();
        var y = Tensor.Create(type, shape);
        outputs[0] = y;
        if (type.IsFloat())
        {
            var values = xs.Select(ElementConvert.ToDoubles).ToArray();
            for (long i = 0; i < y.Length; i++)
            {
                double acc = values[0][index[0][i]];
                for (int k = 1; k < xs.Length; k++)
                {
                    double v = values[k][index[k][i]];
                    acc = op switch
                    {
                        "Max" => double.IsNaN(acc) || double.IsNaN(v) ? double.NaN : Math.Max(acc, v),
                        "Min" => double.IsNaN(acc) || double.IsNaN(v) ? double.NaN : Math.Min(acc, v),
                        _ => acc + v,
                    };
                }
                ElementConvert.SetDouble(y, i, op == "Mean" ? acc / xs.Length : acc);
            }
            return;
        }
        var longs = xs.Select(ElementConvert.ToLongs).ToArray();
        for (long i = 0; i < y.Length; i++)
        {
            long acc = longs[0][index[0][i]];
            for (int k = 1; k < xs.Length; k++)
            {
                long v = longs[k][index[k][i]];
                acc = op switch
                {
                    "Max" => OrderKey(v, type) > OrderKey(acc, type) ? v : acc,
                    "Min" => OrderKey(v, type) < OrderKey(acc, type) ? v : acc,
                    _ => unchecked(acc + v),
                };
            }
            if (op == "Mean") ElementConvert.SetDouble(y, i, (type == ElementType.UInt64 ? (double)(ulong)acc : acc) / xs.Length);
            else ElementConvert.SetLong(y, i, acc);
        }
    }
}

/// <summary>Where(condition, X, Y): X where condition holds, else Y; all three broadcast together; any element type.</summary>
internal sealed class ElementwiseWhereKernel : IKernel
{
    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var cond = Required(inputs, 0, "Where", "condition");
        var x = Required(inputs, 1, "Where", "X");
        var y = Required(inputs, 2, "Where", "Y");
        CheckType(cond, ElementTypeSet.Bool, "Where", "condition");
        CheckSameType(x, y, "Where", "X", "Y");
        var shape = Broadcast.Shape(cond.Shape, x.Shape, y.Shape);
        var ic = Broadcast.SourceIndices(cond.Shape, shape);
        var ix = Broadcast.SourceIndices(x.Shape, shape);
        var iy = Broadcast.SourceIndices(y.Shape, shape);
        var z = Tensor.Create(x.Type, shape);
        outputs[0] = z;
        var c = cond.Bytes;
        for (long i = 0; i < z.Length; i++)
        {
            if (c[(int)ic[i]] != 0) CopyElement(x, ix[i], z, i);
            else CopyElement(y, iy[i], z, i);
        }
    }
}

/// <summary>
/// Clip: min(max(x, lo), hi). Before opset 11 the bounds are the float attributes 'min' / 'max'; from 11 they are
/// optional scalar inputs of the input's type (integer types from opset 12). When lo &gt; hi every value becomes hi.
/// </summary>
internal sealed class ElementwiseClipKernel(bool boundsAsInputs, float minAttribute, float maxAttribute) : IKernel
{
    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = Required(inputs, 0, "Clip", "input");
        CheckType(x, ElementTypeSet.Numeric, "Clip", "input");
        Tensor? lo = null, hi = null;
        if (boundsAsInputs)
        {
            lo = Optional(inputs, 1);
            hi = Optional(inputs, 2);
            foreach (var (t, name) in new[] { (lo, "min"), (hi, "max") })
            {
                if (t is null) continue;
                CheckSameType(x, t, "Clip", "input", name);
                if (t.Length != 1) throw new KernelException($"Clip: '{name}' must be a scalar, it has shape {t.ShapeText}");
            }
        }
        var y = Tensor.Create(x.Type, x.Shape);
        outputs[0] = y;
        if (x.Type.IsFloat())
        {
            double min = boundsAsInputs ? (lo is null ? double.NegativeInfinity : ElementConvert.GetDouble(lo, 0)) : minAttribute;
            double max = boundsAsInputs ? (hi is null ? double.PositiveInfinity : ElementConvert.GetDouble(hi, 0)) : maxAttribute;
            for (long i = 0; i < x.Length; i++) ElementConvert.SetDouble(y, i, Math.Min(Math.Max(ElementConvert.GetDouble(x, i), min), max));
            return;
        }
        if (!boundsAsInputs) throw new KernelException($"Clip: integer input ({x.Type.Name()}) needs opset 12 or later");
        var type = x.Type;
        var range = IntegerRange(type);
        long loValue = lo is null ? range.Min : ElementConvert.GetLong(lo, 0);
        long hiValue = hi is null ? range.Max : ElementConvert.GetLong(hi, 0);
        for (long i = 0; i < x.Length; i++)
        {
            long v = ElementConvert.GetLong(x, i);
            if (OrderKey(v, type) < OrderKey(loValue, type)) v = loValue;
            if (OrderKey(v, type) > OrderKey(hiValue, type)) v = hiValue;
            ElementConvert.SetLong(y, i, v);
        }
    }
}

/// <summary>
/// Broadcasting before opset 7: with broadcast=1, B's shape matches a contiguous run of A's dimensions starting at
/// <paramref name="axis"/> (by default the trailing ones) and B is repeated over the rest; a single-element B is a
/// scalar. B is viewed with A's rank (ones elsewhere) and handed to the numpy-broadcasting kernel.
/// </summary>
internal sealed class ElementwiseLegacyBroadcastKernel(IKernel inner, string op, long? axis) : IKernel
{
    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var a = Required(inputs, 0, op, "A");
        var b = Required(inputs, 1, op, "B");
        if (b.Length == 1 && a.Rank >= b.Rank)
        {
            inner.Run(context, inputs, outputs);
            return;
        }
        long start = axis is { } ax ? (ax < 0 ? ax + a.Rank : ax) : a.Rank - b.Rank;
        if (start < 0 || start + b.Rank > a.Rank)
            throw new KernelException($"{op}: B of shape {b.ShapeText} cannot be broadcast to A of shape {a.ShapeText} at axis {axis ?? start}");
        var shape = new long[a.Rank];
        Array.Fill(shape, 1L);
        for (int i = 0; i < b.Rank; i++)
        {
            long d = b.Shape[i], target = a.Shape[start + i];
            if (d != target && d != 1)
                throw new KernelException($"{op}: B of shape {b.ShapeText} does not match A of shape {a.ShapeText} at axis {start + i}");
            shape[start + i] = d;
        }
        using var view = ElementConvert.Clone(b, shape);
        var args = inputs.ToArray();
        args[1] = view;
        inner.Run(context, args, outputs);
    }
}

/// <summary>PRelu before opset 7: a 1-D slope with one value per channel applies along axis 1 of X.</summary>
internal sealed class ElementwisePReluChannelKernel(IKernel inner) : IKernel
{
    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = Required(inputs, 0, "PRelu", "X");
        var slope = Required(inputs, 1, "PRelu", "slope");
        if (slope.Rank != 1 || slope.Length == 1 || x.Rank < 2 || slope.Shape[0] != x.Shape[1])
        {
            inner.Run(context, inputs, outputs);
            return;
        }
        var shape = new long[x.Rank - 1];
        Array.Fill(shape, 1L);
        shape[0] = slope.Shape[0];
        using var view = ElementConvert.Clone(slope, shape);
        var args = inputs.ToArray();
        args[1] = view;
        inner.Run(context, args, outputs);
    }
}
