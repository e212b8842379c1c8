using Alloy.Runtime.Kernels;
using Xunit;
using static Alloy.Runtime.Tests.Kernels.ElementwiseTestKit;

namespace Alloy.Runtime.Tests.Kernels;

public sealed class ReductionsTests
{
    private static readonly Dictionary<string, Func<double[], double>> Aggregates = new()
    {
        ["ReduceSum"] = g => g.Sum(),
        ["ReduceMean"] = g => g.Sum() / g.Length,
        ["ReduceMax"] = g => g.Max(),
        ["ReduceMin"] = g => g.Min(),
        ["ReduceProd"] = g => g.Aggregate(1.0, (a, b) => a * b),
        ["ReduceL1"] = g => g.Sum(Math.Abs),
        ["ReduceL2"] = g => Math.Sqrt(g.Sum(v => v * v)),
        ["ReduceLogSum"] = g => Math.Log(g.Sum()),
        ["ReduceLogSumExp"] = g => Math.Log(g.Sum(Math.Exp)),
        ["ReduceSumSquare"] = g => g.Sum(v => v * v),
    };

    /// <summary>
    /// The brute-force reduction: for every output position (reduced axes kept as 1) gather its group by walking
    /// the reduced axes, then aggregate.
    /// </summary>
    private static double[] Reduce(double[] x, long[] shape, bool[] reduced, Func<double[], double> aggregate)
    {
        int rank = shape.Length;
        var kept = shape.Select((d, i) => reduced[i] ? 1 : d).ToArray();
        long outCount = kept.Aggregate(1L, (a, b) => a * b);
        var result = new double[outCount];
        for (long o = 0; o < outCount; o++)
        {
            var outIndex = Unflatten(o, kept);
            var group = new List<double>();
            for (long i = 0; i < x.Length; i++)
            {
                var inIndex = Unflatten(i, shape);
                bool match = true;
                for (int d = 0; d < rank && match; d++) match = reduced[d] || inIndex[d] == outIndex[d];
                if (match) group.Add(x[i]);
            }
            result[o] = aggregate([.. group]);
        }
        return result;
    }

    private static long[] Unflatten(long flat, long[] shape)
    {
        var index = new long[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            index[d] = shape[d] == 0 ? 0 : flat % shape[d];
            flat = shape[d] == 0 ? 0 : flat / shape[d];
        }
        return index;
    }

    public static TheoryData<string, string, int> ReduceCases()
    {
        var data = new TheoryData<string, string, int>();
        foreach (var op in Aggregates.Keys)
            foreach (var axes in new[] { "", "0", "1", "-1", "0,2", "2,0,1" })
                data.Add(op, axes, axes.Length % 2);
        return data;
    }

    [Theory]
    [MemberData(nameof(ReduceCases))]
    public void ReduceMatchesBruteForce(string op, string axesText, int keepDims)
    {
        long[] shape = [3, 17, 1];
        var axes = axesText.Length == 0 ? [] : axesText.Split(',').Select(long.Parse).ToArray();
        var reduced = new bool[3];
        foreach (var a in axes) reduced[a < 0 ? a + 3 : a] = true;
        if (axes.Length == 0) Array.Fill(reduced, true);
        bool positive = op is "ReduceLogSum" or "ReduceProd";
        var x = Random(51, op.Length + axes.Length, positive ? 0.5 : -2, positive ? 1.5 : 2);
        var expected = Reduce(x, shape, reduced, Aggregates[op]);
        var expectedShape = keepDims == 1 ? shape.Select((d, i) => reduced[i] ? 1 : d).ToArray() : shape.Where((_, i) => !reduced[i]).ToArray();

        // Opset 13: axes as an attribute (ReduceSum: as an input).
        var attributes = Attrs(("keepdims", (long)keepDims));
        using var input = Of(ElementType.Float, shape, x);
        Tensor y13;
        if (op == "ReduceSum") y13 = Run(op, 13, attributes, input, axes.Length == 0 ? null : I64([axes.Length], axes));
        else
        {
            if (axes.Length > 0) attributes["axes"] = axes;
            y13 = Run(op, 13, attributes, input);
        }
        AssertRoundedOnce(expected, y13, expectedShape);

        // Opset 18: axes as an input for every reduction.
        var y18 = Run(op, 18, Attrs(("keepdims", (long)keepDims)), input, axes.Length == 0 ? null : I64([axes.Length], axes));
        AssertRoundedOnce(expected, y18, expectedShape);

        // bf16 in, double accumulation, one rounding out.
        var xb = x.Select(v => RoundTo(ElementType.BFloat16, v)).ToArray();
        var yb = Run(op, 18, Attrs(("keepdims", (long)keepDims)), Of(ElementType.BFloat16, shape, xb), axes.Length == 0 ? null : I64([axes.Length], axes));
        Assert.Equal(ElementType.BFloat16, yb.Type);
        AssertRoundedOnce(Reduce(xb, shape, reduced, Aggregates[op]), yb, expectedShape);
    }

    [Fact]
    public void AccumulationIsInDouble()
    {
        using var x = F32([3], 1e8f, 1, -1e8f);
        AssertValues([1], Run("ReduceSum", 13, null, x, null));
        var many = Enumerable.Repeat(0.1, 1000).Select(v => RoundTo(ElementType.Float16, v)).ToArray();
        using var h = Of(ElementType.Float16, [1000], many);
        AssertRoundedOnce([many.Sum()], Run("ReduceSum", 13, Attrs(("keepdims", 0L)), h, null), []);
        AssertRoundedOnce([many.Sum() / 1000], Run("ReduceMean", 13, Attrs(("keepdims", 0L)), h), []);
    }

    [Fact]
    public void EmptyAxesAndNoop()
    {
        var x = Random(6, 3);
        using var t = Of(ElementType.Float, [2, 3], x);
        // Empty axes input reduces everything unless noop_with_empty_axes.
        AssertRoundedOnce([x.Sum()], Run("ReduceSum", 13, null, t, I64([0])), [1, 1]);
        AssertRoundedOnce(x, Run("ReduceSum", 13, Attrs(("noop_with_empty_axes", 1L)), t, I64([0])), [2, 3]);
        AssertRoundedOnce(x, Run("ReduceSum", 13, Attrs(("noop_with_empty_axes", 1L)), t, null), [2, 3]);
        // With noop each output is the op applied to one element.
        AssertRoundedOnce(x.Select(v => v * v).ToArray(), Run("ReduceSumSquare", 18, Attrs(("noop_with_empty_axes", 1L)), t, null), [2, 3]);
        AssertRoundedOnce(x.Select(Math.Abs).ToArray(), Run("ReduceL1", 18, Attrs(("noop_with_empty_axes", 1L)), t, I64([0])), [2, 3]);
        // Before the axes became an input, an empty or absent attribute means all axes.
        AssertRoundedOnce([x.Max()], Run("ReduceMax", 13, Attrs(("keepdims", 0L)), t), []);
        AssertRoundedOnce([x.Max()], Run("ReduceMax", 13, Attrs(("keepdims", 0L), ("axes", Array.Empty<long>())), t), []);
    }

    [Fact]
    public void EmptyReductionsGiveTheIdentity()
    {
        using var x = F32([2, 0], []);
        AssertValues([0, 0], Run("ReduceSum", 13, Attrs(("keepdims", 0L)), x, I64([1], 1)));
        AssertValues([1, 1], Run("ReduceProd", 18, Attrs(("keepdims", 0L)), x, I64([1], 1)));
        AssertValues([double.NegativeInfinity, double.NegativeInfinity], Run("ReduceMax", 18, Attrs(("keepdims", 0L)), x, I64([1], 1)));
        AssertValues([double.PositiveInfinity, double.PositiveInfinity], Run("ReduceMin", 18, Attrs(("keepdims", 0L)), x, I64([1], 1)));
        AssertValues([double.NaN, double.NaN], Run("ReduceMean", 18, Attrs(("keepdims", 0L)), x, I64([1], 1)));
        AssertValues([double.NegativeInfinity, double.NegativeInfinity], Run("ReduceLogSumExp", 18, Attrs(("keepdims", 0L)), x, I64([1], 1)));
        AssertValues([0, 0], Run("ReduceL2", 18, Attrs(("keepdims", 0L)), x, I64([1], 1)));
        using var i = I32([2, 0], []);
        Assert.Equal(new long[] { int.MinValue, int.MinValue }, Longs(Run("ReduceMax", 18, Attrs(("keepdims", 0L)), i, I64([1], 1))));
        var sum = Run("ReduceSum", 13, null, x, I64([1], 0));
        Assert.Equal(new long[] { 1, 0 }, sum.Shape);
    }

    [Fact]
    public void IntegerReductionsAreExact()
    {
        using var x = I64([2, 3], (1L << 60) + 1, 1, -1, 3, 5, 7);
        Assert.Equal(new long[] { (1L << 60) + 1, 15 }, Longs(Run("ReduceSum", 13, Attrs(("keepdims", 0L)), x, I64([1], 1))));
        Assert.Equal(new long[] { -((1L << 60) + 1), 105 }, Longs(Run("ReduceProd", 13, Attrs(("axes", new long[] { 1 }), ("keepdims", 0L)), x)));
        Assert.Equal(new long[] { (1L << 60) + 3, 15 }, Longs(Run("ReduceL1", 13, Attrs(("axes", new long[] { 1 }), ("keepdims", 0L)), x)));
        Assert.Equal(new long[] { 3, 5 }, Longs(Run("ReduceMean", 13, Attrs(("axes", new long[] { 0 }), ("keepdims", 0L)), I32([2, 2], 3, 4, 4, 6))));
        using var u = Tensor.FromArray(ElementType.UInt64, [3], new ulong[] { 5, ulong.MaxValue, 7 });
        Assert.Equal(new ulong[] { ulong.MaxValue }, Run("ReduceMax", 13, null, u).ToArray<ulong>());
        Assert.Equal(new ulong[] { 5 }, Run("ReduceMin", 13, null, u).ToArray<ulong>());
        using var b = Bools([2, 2], true, false, false, false);
        Assert.Equal(new long[] { 1, 0 }, Longs(Run("ReduceMax", 20, Attrs(("keepdims", 0L)), b, I64([1], 1))));
    }

    [Fact]
    public void ReduceRejectsBadAxes()
    {
        using var x = F32([2, 3], 1, 2, 3, 4, 5, 6);
        Throws("ReduceSum", 13, null, "more than once", x, I64([2], 1, -1));
        Throws("ReduceSum", 13, null, "out of range", x, I64([1], 2));
        Throws("ReduceMean", 13, Attrs(("axes", new long[] { -3 })), "out of range", x);
        Assert.Null(Create("ReduceMean", 18, Attrs(("axes", new long[] { 0 })), out var reason, x));
        Assert.Contains("input", reason);
        Throws("ReduceSum", 13, null, "int64", x, F32([1], 0));
        // Before opset 18 the axes are an attribute; an axes input alone is unambiguous, both at once are not.
        Throws("ReduceMean", 13, Attrs(("axes", new long[] { 0 })), "both", x, I64([1], 1));
        AssertValues([2, 5], Run("ReduceMean", 13, Attrs(("keepdims", 0L)), x, I64([1], 1)));
    }

    [Fact]
    public void ReduceMaxPropagatesNaNAndLogSumExpIsStable()
    {
        AssertValues([double.NaN], Run("ReduceMax", 13, null, F32([3], 1, float.NaN, 2)));
        var big = Run("ReduceLogSumExp", 13, null, F64([2], 1000, 1000));
        AssertValues([1000 + Math.Log(2)], big, 1e-12);
        AssertValues([double.PositiveInfinity], Run("ReduceLogSumExp", 13, null, F64([2], double.PositiveInfinity, 1)));
    }

    [Fact]
    public void ArgMaxAndArgMin()
    {
        using var x = F32([2, 3], 2, 5, 5, 7, 1, 7);
        Assert.Equal(new long[] { 1, 0 }, Longs(Run("ArgMax", 13, Attrs(("axis", 1L), ("keepdims", 0L)), x)));
        Assert.Equal(new long[] { 2, 2 }, Longs(Run("ArgMax", 13, Attrs(("axis", -1L), ("keepdims", 0L), ("select_last_index", 1L)), x)));
        var keep = Run("ArgMin", 13, Attrs(("axis", 1L)), x);
        Assert.Equal(new long[] { 2, 1 }, keep.Shape);
        Assert.Equal(ElementType.Int64, keep.Type);
        Assert.Equal(new long[] { 0, 1 }, Longs(keep));
        var axis0 = Run("ArgMax", 13, null, x);
        Assert.Equal(new long[] { 1, 3 }, axis0.Shape);
        Assert.Equal(new long[] { 1, 0, 1 }, Longs(axis0));
        Assert.Equal(new long[] { 0, 1, 0 }, Longs(Run("ArgMin", 13, Attrs(("keepdims", 0L)), x)));
        // NaN counts as the extreme; the first one (or the last with select_last_index).
        using var n = F32([5], 1, float.NaN, 9, float.NaN, 0);
        Assert.Equal(new long[] { 1 }, Longs(Run("ArgMax", 13, null, n)));
        Assert.Equal(new long[] { 1 }, Longs(Run("ArgMin", 13, null, n)));
        Assert.Equal(new long[] { 3 }, Longs(Run("ArgMax", 13, Attrs(("select_last_index", 1L)), n)));
        using var u = Tensor.FromArray(ElementType.UInt64, [3], new ulong[] { 5, ulong.MaxValue, 7 });
        Assert.Equal(new long[] { 1 }, Longs(Run("ArgMax", 13, null, u)));
        var odd = Random(17, 9);
        using var t = Of(ElementType.BFloat16, [17], odd.Select(v => RoundTo(ElementType.BFloat16, v)).ToArray());
        Assert.Equal(new long[] { Array.IndexOf(odd.Select(v => RoundTo(ElementType.BFloat16, v)).ToArray(), odd.Select(v => RoundTo(ElementType.BFloat16, v)).Max()) },
            Longs(Run("ArgMax", 13, null, t)));
        Throws("ArgMax", 13, Attrs(("axis", 1L)), "empty", F32([2, 0], []));
        Throws("ArgMax", 13, Attrs(("axis", 2L)), "out of range", x);
    }

    private static double[] SoftmaxRow(double[] row) => row.Select(v => Math.Exp(v - row.Max()) / row.Sum(w => Math.Exp(w - row.Max()))).ToArray();
    private static double[] LogSoftmaxRow(double[] row) => row.Select(v => v - row.Max() - Math.Log(row.Sum(w => Math.Exp(w - row.Max())))).ToArray();

    [Fact]
    public void SoftmaxFromOpset13WorksAlongOneAxis()
    {
        // [2,3,4] along axis 1: rows are x[i, :, k].
        var x = Random(24, 17);
        using var t = Of(ElementType.Float, [2, 3, 4], x);
        var expected = new double[24];
        var expectedLog = new double[24];
        var expectedHard = new double[24];
        for (int i = 0; i < 2; i++)
            for (int k = 0; k < 4; k++)
            {
                var idx = Enumerable.Range(0, 3).Select(j => i * 12 + j * 4 + k).ToArray();
                var row = idx.Select(p => x[p]).ToArray();
                var s = SoftmaxRow(row);
                var l = LogSoftmaxRow(row);
                int best = Array.IndexOf(row, row.Max());
                for (int j = 0; j < 3; j++) (expected[idx[j]], expectedLog[idx[j]], expectedHard[idx[j]]) = (s[j], l[j], j == best ? 1 : 0);
            }
        AssertValues(expected.Select(v => (double)(float)v).ToArray(), Run("Softmax", 13, Attrs(("axis", 1L)), t), 1e-7);
        AssertValues(expectedLog.Select(v => (double)(float)v).ToArray(), Run("LogSoftmax", 13, Attrs(("axis", -2L)), t), 1e-6);
        AssertValues(expectedHard, Run("Hardmax", 13, Attrs(("axis", 1L)), t));
        // The default axis is -1 from opset 13.
        var last = Run("Softmax", 13, null, t);
        AssertValues(Enumerable.Range(0, 6).SelectMany(r => SoftmaxRow(x[(r * 4)..(r * 4 + 4)])).Select(v => (double)(float)v).ToArray(), last, 1e-7);
    }

    [Fact]
    public void SoftmaxBeforeOpset13CoercesTo2D()
    {
        var x = Random(24, 19);
        using var t = Of(ElementType.Float, [2, 3, 4], x);
        // axis 1 (the default): two rows of 12.
        var rows = new[] { x[..12], x[12..] };
        AssertValues(rows.SelectMany(SoftmaxRow).Select(v => (double)(float)v).ToArray(), Run("Softmax", 11, null, t), 1e-7);
        AssertValues(rows.SelectMany(LogSoftmaxRow).Select(v => (double)(float)v).ToArray(), Run("LogSoftmax", 11, null, t), 1e-6);
        var hard = Values(Run("Hardmax", 11, null, t));
        Assert.Equal(2, hard.Sum());
        Assert.Equal(1, hard[Array.IndexOf(x, x[..12].Max())]);
        // axis 0: one row of everything.
        AssertValues(SoftmaxRow(x).Select(v => (double)(float)v).ToArray(), Run("Softmax", 1, Attrs(("axis", 0L)), t), 1e-7);
        // axis = rank: every element is its own row.
        AssertValues(Enumerable.Repeat(1.0, 24).ToArray(), Run("Softmax", 11, Attrs(("axis", 3L)), t));
    }

    [Fact]
    public void SoftmaxIsStableAndRoundsOnceInNarrowTypes()
    {
        AssertValues([0.5, 0.5], Run("Softmax", 13, null, F32([2], 1e30f, 1e30f)));
        AssertValues([-Math.Log(2), -Math.Log(2)], Run("LogSoftmax", 13, null, F64([2], 1e300, 1e300)), 1e-15);
        var x = Random(17, 23, -3, 3, ElementType.Float16);
        using var h = Of(ElementType.Float16, [17], x);
        AssertRoundedOnce(SoftmaxRow(x), Run("Softmax", 13, null, h), [17]);
        AssertRoundedOnce(LogSoftmaxRow(x), Run("LogSoftmax", 13, null, h), [17]);
        Assert.Null(Create("Softmax", 13, null, out var reason, I32([1], 1)));
        Assert.Contains("floating-point", reason);
    }

    [Fact]
    public void CumSumModes()
    {
        using var x = F64([5], 1, 2, 3, 4, 5);
        using var axis = I32([], 0);
        AssertValues([1, 3, 6, 10, 15], Run("CumSum", 14, null, x, axis));
        AssertValues([0, 1, 3, 6, 10], Run("CumSum", 14, Attrs(("exclusive", 1L)), x, axis));
        AssertValues([15, 14, 12, 9, 5], Run("CumSum", 14, Attrs(("reverse", 1L)), x, axis));
        AssertValues([14, 12, 9, 5, 0], Run("CumSum", 14, Attrs(("reverse", 1L), ("exclusive", 1L)), x, axis));
        using var m = I64([2, 3], 1, 2, 3, 4, 5, 6);
        Assert.Equal(new long[] { 1, 3, 6, 4, 9, 15 }, Longs(Run("CumSum", 14, null, m, I64([1], -1))));
        Assert.Equal(new long[] { 1, 2, 3, 5, 7, 9 }, Longs(Run("CumSum", 14, null, m, I64([], 0))));
        var odd = Random(17, 29, -2, 2, ElementType.BFloat16);
        var running = new double[17];
        double acc = 0;
        for (int i = 0; i < 17; i++) running[i] = acc += odd[i];
        AssertRoundedOnce(running, Run("CumSum", 14, null, Of(ElementType.BFloat16, [17], odd), axis), [17]);
        Throws("CumSum", 14, null, "scalar", x, I64([2], 0, 0));
        Throws("CumSum", 14, null, "out of range", x, I64([], 1));
    }
}
