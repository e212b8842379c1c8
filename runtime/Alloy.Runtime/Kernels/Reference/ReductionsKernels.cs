using Alloy.Runtime.Numerics;
using static Alloy.Runtime.Kernels.Reference.ElementwiseHelpers;

namespace Alloy.Runtime.Kernels.Reference;

internal enum ReduceOp { Sum, Mean, Max, Min, Prod, L1, L2, LogSum, LogSumExp, SumSquare }

/// <summary>
/// The Reduce* ops. Axes come from the 'axes' attribute, or (from the opset where each op took them as an input:
/// ReduceSum 13, the others 18) from the optional second input. Absent or empty axes reduce every axis, unless
/// noop_with_empty_axes is set: then nothing is reduced (each output element is the op applied to one input element,
/// e.g. x^2 for ReduceSumSquare). Floating-point values accumulate in double and round once on store; integer
/// Sum / Prod / Max / Min / L1 / SumSquare are exact in wrapping long arithmetic; integer Mean / L2 / LogSum /
/// LogSumExp compute in double and truncate on store. An empty reduction gives the identity (0, 1, the type's lowest
/// / highest value or -inf / +inf for Max / Min, NaN for Mean, -inf for the logarithms).
/// </summary>
internal sealed class ReduceKernel(string op, ReduceOp kind, bool axesFromInput, long[]? axesAttribute, bool keepDims, bool noopWithEmptyAxes) : IKernel
{
    public static ElementTypeSet Accepts(ReduceOp kind) => kind is ReduceOp.Max or ReduceOp.Min ? ElementTypeSet.NumericOrBool : ElementTypeSet.Numeric;

    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = Required(inputs, 0, op, "data");
        CheckType(x, Accepts(kind), op, "data");
        var axesInput = Optional(inputs, 1);
        if (!axesFromInput && axesInput is not null && axesAttribute is not null)
            throw new KernelException($"{op}: axes given both as the 'axes' attribute and as an input");
        // Before the opset that made axes an input, an axes input without the attribute is still unambiguous.
        var axes = axesInput is not null ? ReadInts(axesInput, op, "axes") : axesFromInput ? null : axesAttribute;
        var reduced = ReductionsHelpers.ReducedAxes(op, x.Rank, axes, noopWithEmptyAxes);
        var (outputIndex, keptShape) = ReductionsHelpers.OutputIndex(x.Shape, reduced);
        long outCount = Product(keptShape);
        long groupSize = outCount == 0 ? 0 : x.Length / outCount;
        var outShape = keepDims ? keptShape : x.Shape.Where((_, i) => !reduced[i]).ToArray();
        var y = Tensor.Create(x.Type, outShape);
        outputs[0] = y;

        bool integerExact = !x.Type.IsFloat() && kind is ReduceOp.Sum or ReduceOp.Prod or ReduceOp.Max or ReduceOp.Min or ReduceOp.L1 or ReduceOp.SumSquare;
        if (integerExact) ReduceIntegers(x, y, outputIndex, outCount);
        else ReduceDoubles(x, y, outputIndex, outCount, groupSize);
    }

    private void ReduceDoubles(Tensor x, Tensor y, long[] outputIndex, long outCount, long groupSize)
    {
        var v = ElementConvert.ToDoubles(x);
        var acc = new double[outCount];
        double init = kind switch
        {
            ReduceOp.Prod => 1,
            ReduceOp.Max => double.NegativeInfinity,
            ReduceOp.Min => double.PositiveInfinity,
            _ => 0,
        };
        Array.Fill(acc, init);
        double[]? shift = null;
        if (kind == ReduceOp.LogSumExp)
        {
            // Subtract each group's maximum before exponentiating (when it is finite) so exp cannot overflow.
            shift = new double[outCount];
            Array.Fill(shift, double.NegativeInfinity);
            for (long i = 0; i < v.Length; i++) shift[outputIndex[i]] = Math.Max(shift[outputIndex[i]], v[i]);
            for (long o = 0; o < outCount; o++) if (!double.IsFinite(shift[o])) shift[o] = 0;
        }
        for (long i = 0; i < v.Length; i++)
        {
            long o = outputIndex[i];
            double e = v[i];
            acc[o] = kind switch
            {
                ReduceOp.Sum or ReduceOp.Mean or ReduceOp.LogSum => acc[o] + e,
                ReduceOp.L1 => acc[o] + Math.Abs(e),
                ReduceOp.L2 or ReduceOp.SumSquare => acc[o] + e * e,
                ReduceOp.Prod => acc[o] * e,
                ReduceOp.Max => double.IsNaN(e) || double.IsNaN(acc[o]) ? double.NaN : Math.Max(acc[o], e),
                ReduceOp.Min => double.IsNaN(e) || double.IsNaN(acc[o]) ? double.NaN : Math.Min(acc[o], e),
                ReduceOp.LogSumExp => acc[o] + Math.Exp(e - shift![o]),
                _ => throw new InvalidOperationException(),
            };
        }
        for (long o = 0; o < outCount; o++)
        {
            double r = kind switch
            {
                ReduceOp.Mean => acc[o] / groupSize,
                ReduceOp.L2 => Math.Sqrt(acc[o]),
                ReduceOp.LogSum => Math.Log(acc[o]),
                ReduceOp.LogSumExp => shift![o] + Math.Log(acc[o]),
                _ => acc[o],
            };
            ElementConvert.SetDouble(y, o, r);
        }
    }

    private void ReduceIntegers(Tensor x, Tensor y, long[] outputIndex, long outCount)
    {
        var type = x.Type;
        var v = ElementConvert.ToLongs(x);
        var acc = new long[outCount];
        var range = IntegerRange(type);
        long init = kind switch
        {
            ReduceOp.Prod => 1,
            ReduceOp.Max => range.Min,
            ReduceOp.Min => range.Max,
            _ => 0,
        };
        Array.Fill(acc, init);
        bool signed = IsSignedInteger(type);
        for (long i = 0; i < v.Length; i++)
        {
            long o = outputIndex[i];
            long e = v[i];
            acc[o] = kind switch
            {
                ReduceOp.Sum => unchecked(acc[o] + e),
                ReduceOp.L1 => unchecked(acc[o] + (signed && e < 0 ? -e : e)),
                ReduceOp.SumSquare => unchecked(acc[o] + e * e),
                ReduceOp.Prod => unchecked(acc[o] * e),
                ReduceOp.Max => OrderKey(e, type) > OrderKey(acc[o], type) ? e : acc[o],
                ReduceOp.Min => OrderKey(e, type) < OrderKey(acc[o], type) ? e : acc[o],
                _ => throw new InvalidOperationException(),
            };
        }
        for (long o = 0; o < outCount; o++) ElementConvert.SetLong(y, o, acc[o]);
    }
}

/// <summary>
/// ArgMax / ArgMin along one axis: the int64 index of the first (or with select_last_index the last) extreme value.
/// NaN counts as the extreme, as numpy's argmax / argmin treat it.
/// </summary>
internal sealed class ArgReduceKernel(string op, bool max, long axis, bool keepDims, bool selectLast) : IKernel
{
    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = Required(inputs, 0, op, "data");
        CheckType(x, ElementTypeSet.Numeric, op, "data");
        int a = NormalizeAxis(axis, x.Rank, op);
        var (outer, n, inner) = ReductionsHelpers.Split(x.Shape, a);
        if (n == 0) throw new KernelException($"{op}: axis {axis} of shape {x.ShapeText} is empty, there is no {(max ? "maximum" : "minimum")}");
        var outShape = keepDims
            ? x.Shape.Select((d, i) => i == a ? 1 : d).ToArray()
            : x.Shape.Where((_, i) => i != a).ToArray();
        var y = Tensor.Create(ElementType.Int64, outShape);
        outputs[0] = y;
        var result = y.Span<long>();
        bool isFloat = x.Type.IsFloat();
        var dv = isFloat ? ElementConvert.ToDoubles(x) : null;
        var lv = isFloat ? null : ElementConvert.ToLongs(x);
        for (long o = 0; o < outer; o++)
            for (long k = 0; k < inner; k++)
            {
                long baseIndex = o * n * inner + k;
                long best = 0;
                for (long j = 1; j < n; j++)
                {
                    long candidate = baseIndex + j * inner, current = baseIndex + best * inner;
                    bool better = isFloat
                        ? ReductionsHelpers.Better(dv![candidate], dv[current], max, selectLast)
                        : ReductionsHelpers.Better(OrderKey(lv![candidate], x.Type), OrderKey(lv[current], x.Type), max, selectLast);
                    if (better) best = j;
                }
                result[checked((int)(o * inner + k))] = best;
            }
    }
}

/// <summary>Shared index arithmetic of the reduction kernels.</summary>
internal static class ReductionsHelpers
{
    /// <summary>Which axes a Reduce* op reduces (duplicate or out-of-range axes are errors).</summary>
    public static bool[] ReducedAxes(string op, int rank, long[]? axes, bool noopWithEmptyAxes)
    {
        var reduced = new bool[rank];
        if (axes is null || axes.Length == 0)
        {
            if (!noopWithEmptyAxes) Array.Fill(reduced, true);
            return reduced;
        }
        foreach (var axis in axes)
        {
            int k = NormalizeAxis(axis, rank, op, "axis in 'axes'");
            if (reduced[k]) throw new KernelException($"{op}: axis {axis} appears more than once in 'axes' [{string.Join(",", axes)}]");
            reduced[k] = true;
        }
        return reduced;
    }

    /// <summary>
    /// For every input element (row-major), the flat index of its output element; and the output shape with the
    /// reduced axes kept as 1.
    /// </summary>
    public static (long[] OutputIndex, long[] KeptShape) OutputIndex(long[] shape, bool[] reduced)
    {
        int rank = shape.Length;
        var kept = shape.Select((d, i) => reduced[i] ? 1 : d).ToArray();
        var strides = new long[rank];
        long stride = 1;
        for (int i = rank - 1; i >= 0; i--)
        {
            strides[i] = reduced[i] ? 0 : stride;
            stride *= kept[i];
        }
        long count = Product(shape);
        var map = new long[count];
        var index = new long[rank];
        long o = 0;
        for (long n = 0; n < count; n++)
        {
            map[n] = o;
            for (int i = rank - 1; i >= 0; i--)
            {
                index[i]++;
                o += strides[i];
                if (index[i] < shape[i]) break;
                o -= strides[i] * index[i];
                index[i] = 0;
            }
        }
        return (map, kept);
    }

    /// <summary>The element counts before, along and after <paramref name="axis"/>.</summary>
    public static (long Outer, long N, long Inner) Split(long[] shape, int axis) =>
        (Product(shape.AsSpan(0, axis)), shape[axis], Product(shape.AsSpan(axis + 1)));

    /// <summary>Whether <paramref name="candidate"/> replaces <paramref name="current"/> as the extreme (NaN is the most extreme).</summary>
    public static bool Better(double candidate, double current, bool max, bool selectLast)
    {
        if (double.IsNaN(current)) return selectLast && double.IsNaN(candidate);
        if (double.IsNaN(candidate)) return true;
        if (candidate == current) return selectLast;
        return max ? candidate > current : candidate < current;
    }

    public static bool Better(long candidate, long current, bool max, bool selectLast)
    {
        if (candidate == current) return selectLast;
        return max ? candidate > current : candidate < current;
    }
}
