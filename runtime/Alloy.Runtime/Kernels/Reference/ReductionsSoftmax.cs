using Alloy.Runtime.Numerics;
using static Alloy.Runtime.Kernels.Reference.ElementwiseHelpers;

namespace Alloy.Runtime.Kernels.Reference;

internal enum SoftmaxOp { Softmax, LogSoftmax, Hardmax }

/// <summary>
/// Softmax / LogSoftmax / Hardmax. From opset 13 they work along one axis (default -1). Before 13 (default axis 1)
/// the input is coerced to 2D: [product of dims before axis, product of dims from axis on], and each row of the
/// second dimension is normalised as a whole. Computed in double with the row maximum subtracted; Hardmax marks the
/// first maximum of each row (NaN counts as the maximum, as numpy's argmax treats it).
/// </summary>
internal sealed class SoftmaxKernel(string op, SoftmaxOp kind, long axis, bool coerceTo2D) : IKernel
{
    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = Required(inputs, 0, op, "input");
        CheckType(x, ElementTypeSet.Float, op, "input");
        long outer, n, inner;
        if (coerceTo2D)
        {
            int a = NormalizeAxis(axis, x.Rank, op, allowRank: true);
            (outer, n, inner) = (Product(x.Shape.AsSpan(0, a)), Product(x.Shape.AsSpan(a)), 1);
        }
        else (outer, n, inner) = ReductionsHelpers.Split(x.Shape, NormalizeAxis(axis, x.Rank, op));
        var y = Tensor.Create(x.Type, x.Shape);
        outputs[0] = y;
        var v = ElementConvert.ToDoubles(x);
        for (long o = 0; o < outer; o++)
            for (long k = 0; k < inner; k++)
            {
                long start = o * n * inner + k;
                if (kind == SoftmaxOp.Hardmax)
                {
                    long best = 0;
                    for (long j = 1; j < n; j++)
                        if (ReductionsHelpers.Better(v[start + j * inner], v[start + best * inner], max: true, selectLast: false)) best = j;
                    for (long j = 0; j < n; j++) ElementConvert.SetDouble(y, start + j * inner, j == best ? 1 : 0);
                    continue;
                }
                double m = double.NegativeInfinity;
                for (long j = 0; j < n; j++) m = Math.Max(m, v[start + j * inner]);
                double sum = 0;
                for (long j = 0; j < n; j++) sum += Math.Exp(v[start + j * inner] - m);
                double logSum = Math.Log(sum);
                for (long j = 0; j < n; j++)
                {
                    double shifted = v[start + j * inner] - m;
                    ElementConvert.SetDouble(y, start + j * inner, kind == SoftmaxOp.Softmax ? Math.Exp(shifted) / sum : shifted - logSum);
                }
            }
    }
}

/// <summary>
/// CumSum along the axis given by the second input (a scalar int32 / int64): inclusive or (exclusive) excluding the
/// current element, forward or (reverse) from the end. Floating-point sums run in double and each output is rounded
/// once; integer sums are exact in wrapping long arithmetic.
/// </summary>
internal sealed class CumSumKernel(bool exclusive, bool reverse) : IKernel
{
    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = Required(inputs, 0, "CumSum", "x");
        var axisTensor = Required(inputs, 1, "CumSum", "axis");
        CheckType(x, ElementTypeSet.Numeric, "CumSum", "x");
        long axis = ReadScalarInt(axisTensor, "CumSum", "axis");
        var (outer, n, inner) = ReductionsHelpers.Split(x.Shape, NormalizeAxis(axis, x.Rank, "CumSum"));
        var y = Tensor.Create(x.Type, x.Shape);
        outputs[0] = y;
        bool isFloat = x.Type.IsFloat();
        var dv = isFloat ? ElementConvert.ToDoubles(x) : null;
        var lv = isFloat ? null : ElementConvert.ToLongs(x);
        for (long o = 0; o < outer; o++)
            for (long k = 0; k < inner; k++)
            {
                double dsum = 0;
                long lsum = 0;
                for (long step = 0; step < n; step++)
                {
                    long j = reverse ? n - 1 - step : step;
                    long i = o * n * inner + j * inner + k;
                    if (isFloat)
                    {
                        if (exclusive) { ElementConvert.SetDouble(y, i, dsum); dsum += dv![i]; }
                        else { dsum += dv![i]; ElementConvert.SetDouble(y, i, dsum); }
                    }
                    else
                    {
                        if (exclusive) { ElementConvert.SetLong(y, i, lsum); lsum = unchecked(lsum + lv![i]); }
                        else { lsum = unchecked(lsum + lv![i]); ElementConvert.SetLong(y, i, lsum); }
                    }
                }
            }
    }
}
