using Xunit;
using Alloy.Runtime.Numerics;
using static Alloy.Runtime.Tests.Kernels.LinAlgHarness;

namespace Alloy.Runtime.Tests.Kernels;

public sealed class NormalizationTests
{
    private static double Mean(IEnumerable<double> v) => v.Average();
    private static double Var(IReadOnlyList<double> v)
    {
        double m = v.Average();
        return v.Sum(e => (e - m) * (e - m)) / v.Count;
    }

    /// <summary>The elements of channel <paramref name="ch"/> of an [N, C, inner] tensor.</summary>
    private static List<double> Channel(double[] x, long n, long c, long inner, long ch)
    {
        var r = new List<double>();
        for (long b = 0; b < n; b++) for (long i = 0; i < inner; i++) r.Add(x[(b * c + ch) * inner + i]);
        return r;
    }

    [Theory]
    [InlineData(ElementType.Float, new long[] { 2, 3, 4, 5 })]
    [InlineData(ElementType.Float, new long[] { 17, 3 })]
    [InlineData(ElementType.BFloat16, new long[] { 1, 3, 17 })]
    public void BatchNormalizationInference(ElementType type, long[] shape)
    {
        long n = shape[0], c = shape[1], inner = Count(shape) / (n * c);
        var x = RandomOf(type, Count(shape), 1);
        var scale = RandomOf(type, c, 2);
        var bias = RandomOf(type, c, 3);
        var mean = RandomOf(type, c, 4);
        var var = RandomOf(type, c, 5).Select(v => Math.Abs(v) + 0.25).Select(v => Round(type, v)).ToArray();
        float eps = 1e-3f;
        var expected = new double[x.Length];
        for (long i = 0; i < x.Length; i++)
        {
            long ch = i / inner % c;
            expected[i] = scale[ch] * (x[i] - mean[ch]) / Math.Sqrt(var[ch] + eps) + bias[ch];
        }
        var y = Run1("BatchNormalization", A(("epsilon", eps)), T(type, shape, x), T(type, [c], scale), T(type, [c], bias), T(type, [c], mean), T(type, [c], var));
        AssertRounded(expected, y, type, shape);
    }

    [Fact]
    public void BatchNormalizationTrainingModeUsesBatchStatistics()
    {
        long[] shape = [3, 2, 5];
        var x = Random(30, 6);
        double[] scale = [0.5, -2], bias = [0.25, 1], mean = [0.1f, -0.2f], var = [1.5, 0.75];
        float eps = 1e-5f, momentum = 0.8f;
        var r = RunN("BatchNormalization", A(("epsilon", eps), ("momentum", momentum), ("training_mode", 1L)), 3, 15,
            F32(shape, x), F32([2], scale), F32([2], bias), F32([2], mean), F32([2], var));
        var expected = new double[30];
        var runMean = new double[2];
        var runVar = new double[2];
        for (int ch = 0; ch < 2; ch++)
        {
            var v = Channel(x, 3, 2, 5, ch);
            double m = Mean(v), s2 = Var(v);
            runMean[ch] = mean[ch] * momentum + m * (1 - (double)momentum);
            runVar[ch] = var[ch] * momentum + s2 * (1 - (double)momentum);
            for (int b = 0; b < 3; b++)
                for (int i = 0; i < 5; i++)
                {
                    int k = (b * 2 + ch) * 5 + i;
                    expected[k] = (x[k] - m) / Math.Sqrt(s2 + eps) * scale[ch] + bias[ch];
                }
        }
        AssertRounded(expected, r[0], ElementType.Float, shape);
        AssertRounded(runMean, r[1], ElementType.Float, [2]);
        AssertRounded(runVar, r[2], ElementType.Float, [2]);
    }

    [Fact]
    public void BatchNormalizationRefusesUnsupportedModes()
    {
        Assert.Null(Create("BatchNormalization", null, out var reason, opset: 9, outputs: 5));
        Assert.Contains("training outputs", reason);
        Assert.Null(Create("BatchNormalization", A(("spatial", 0L)), out reason, opset: 7));
        Assert.Contains("spatial", reason);
        Throws("one per channel", "BatchNormalization", null, F32([1, 2, 2], Random(4, 1)), F32([3], Random(3, 1)), F32([2], Random(2, 1)), F32([2], Random(2, 1)), F32([2], Random(2, 1)));
    }

    /// <summary>Layer norm over the trailing dims from <paramref name="axis"/>: per leading index, (x - mean) / sqrt(var + eps).</summary>
    private static (double[] Y, double[] Mean, double[] Inv) NaiveLayerNorm(double[] x, long[] shape, int axis, double[] scale, double[]? bias, double eps)
    {
        long inner = Count(shape[axis..]), outer = x.Length / inner;
        var y = new double[x.Length];
        var means = new double[outer];
        var invs = new double[outer];
        for (long o = 0; o < outer; o++)
        {
            var v = x.Skip((int)(o * inner)).Take((int)inner).ToList();
            double m = Mean(v), inv = 1 / Math.Sqrt(Var(v) + eps);
            means[o] = m;
            invs[o] = inv;
            for (long i = 0; i < inner; i++) y[o * inner + i] = (v[(int)i] - m) * inv * scale[i] + (bias?[i] ?? 0);
        }
        return (y, means, invs);
    }

    [Theory]
    [InlineData(-1L, true)]
    [InlineData(1L, false)]
    [InlineData(0L, true)]
    public void LayerNormalizationWithStatisticsOutputs(long axis, bool withBias)
    {
        long[] shape = [3, 4, 17];
        int ax = (int)(axis < 0 ? axis + 3 : axis);
        var normShape = shape[ax..];
        var x = Random(Count(shape), 7);
        var scale = Random(Count(normShape), 8);
        var bias = withBias ? Random(Count(normShape), 9) : null;
        var (ey, em, ei) = NaiveLayerNorm(x, shape, ax, scale, bias, 1e-5f);
        var r = RunN("LayerNormalization", A(("axis", axis)), 3, 17, F32(shape, x), F32(normShape, scale), bias is null ? null : F32(normShape, bias));
        AssertRounded(ey, r[0], ElementType.Float, shape);
        var statShape = shape.Select((d, i) => i >= ax ? 1 : d).ToArray();
        AssertRounded(em, r[1], ElementType.Float, statShape);
        AssertRounded(ei, r[2], ElementType.Float, statShape);
    }

    [Fact]
    public void LayerNormalizationFloat16KeepsFloatStatistics()
    {
        long[] shape = [5, 3];
        var x = RandomOf(ElementType.Float16, 15, 10);
        var scale = RandomOf(ElementType.Float16, 3, 11);
        var (ey, em, _) = NaiveLayerNorm(x, shape, 1, scale, null, 1e-2f);
        var r = RunN("LayerNormalization", A(("epsilon", 1e-2f)), 2, 17, T(ElementType.Float16, shape, x), T(ElementType.Float16, [3], scale));
        AssertRounded(ey, r[0], ElementType.Float16, shape);
        AssertRounded(em, r[1], ElementType.Float, [5, 1]);
        // Scale broadcast from a lower rank: [1, 3] against [5, 3].
        var y2 = Run1("LayerNormalization", A(("epsilon", 1e-2f)), T(ElementType.Float16, shape, x), T(ElementType.Float16, [1, 3], scale));
        AssertRounded(ey, y2, ElementType.Float16, shape);
    }

    [Fact]
    public void InstanceNormalizationPerSampleAndChannel()
    {
        long[] shape = [2, 3, 17];
        var x = Random(Count(shape), 12);
        var scale = Random(3, 13);
        var bias = Random(3, 14);
        var expected = new double[x.Length];
        for (int b = 0; b < 2; b++)
            for (int ch = 0; ch < 3; ch++)
            {
                var v = x.Skip((b * 3 + ch) * 17).Take(17).ToList();
                double m = Mean(v), s = Math.Sqrt(Var(v) + 1e-5f);
                for (int i = 0; i < 17; i++) expected[(b * 3 + ch) * 17 + i] = scale[ch] * (v[i] - m) / s + bias[ch];
            }
        AssertRounded(expected, Run1("InstanceNormalization", null, F32(shape, x), F32([3], scale), F32([3], bias)), ElementType.Float, shape);
    }

    private static double[] NaiveGroupNorm(double[] x, long n, long c, long inner, long groups, Func<long, double> scale, Func<long, double> bias, double eps)
    {
        var y = new double[x.Length];
        long cpg = c / groups;
        for (long b = 0; b < n; b++)
            for (long g = 0; g < groups; g++)
            {
                var idx = new List<long>();
                for (long ch = g * cpg; ch < (g + 1) * cpg; ch++) for (long i = 0; i < inner; i++) idx.Add((b * c + ch) * inner + i);
                var v = idx.Select(k => x[k]).ToList();
                double m = Mean(v), s = Math.Sqrt(Var(v) + eps);
                foreach (var k in idx) y[k] = (x[k] - m) / s * scale(k / inner % c) + bias(k / inner % c);
            }
        return y;
    }

    [Fact]
    public void GroupNormalizationOpset21ScalesPerChannel()
    {
        long[] shape = [2, 6, 3, 1];
        var x = Random(Count(shape), 15);
        var scale = Random(6, 16);
        var bias = Random(6, 17);
        var expected = NaiveGroupNorm(x, 2, 6, 3, 3, ch => scale[ch], ch => bias[ch], 1e-5f);
        var y = RunN("GroupNormalization", A(("num_groups", 3L)), 1, 21, F32(shape, x), F32([6], scale), F32([6], bias))[0];
        AssertRounded(expected, y, ElementType.Float, shape);
    }

    [Fact]
    public void GroupNormalizationOpset18ScalesPerGroup()
    {
        long[] shape = [1, 6, 5];
        var x = Random(Count(shape), 18);
        var scale = Random(2, 19);
        var bias = Random(2, 20);
        var expected = NaiveGroupNorm(x, 1, 6, 5, 2, ch => scale[ch / 3], ch => bias[ch / 3], 1e-3f);
        var y = RunN("GroupNormalization", A(("num_groups", 2L), ("epsilon", 1e-3f)), 1, 18, F32(shape, x), F32([2], scale), F32([2], bias))[0];
        AssertRounded(expected, y, ElementType.Float, shape);
        // Per-channel parameters under opset 18 are an error, not a silent reinterpretation.
        var e = Assert.Throws<Alloy.Runtime.Kernels.KernelException>(() =>
            RunN("GroupNormalization", A(("num_groups", 2L)), 1, 18, F32(shape, x), F32([6], Random(6, 1)), F32([6], Random(6, 2))));
        Assert.Contains("opset 18", e.Message);
        var e2 = Assert.Throws<Alloy.Runtime.Kernels.KernelException>(() =>
            RunN("GroupNormalization", A(("num_groups", 4L)), 1, 21, F32(shape, x), F32([6], Random(6, 1)), F32([6], Random(6, 2))));
        Assert.Contains("cannot be split", e2.Message);
    }

    [Theory]
    [InlineData(1L, -1L)]
    [InlineData(2L, -1L)]
    [InlineData(2L, 0L)]
    public void LpNormalizationAlongAnAxis(long p, long axis)
    {
        long[] shape = [3, 5];
        var x = Random(15, 21);
        var expected = new double[15];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 5; j++)
            {
                var line = axis == 0 ? Enumerable.Range(0, 3).Select(k => x[k * 5 + j]) : Enumerable.Range(0, 5).Select(k => x[i * 5 + k]);
                double norm = p == 1 ? line.Sum(Math.Abs) : Math.Sqrt(line.Sum(v => v * v));
                expected[i * 5 + j] = x[i * 5 + j] / norm;
            }
        AssertRounded(expected, Run1("LpNormalization", A(("p", p), ("axis", axis)), F32(shape, x)), ElementType.Float, shape);
        Assert.Null(Create("LpNormalization", A(("p", 3L)), out var reason, types: [ElementType.Float]));
        Assert.Contains("p = 3", reason);
    }

    [Fact]
    public void MeanVarianceNormalizationDefaultAndCustomAxes()
    {
        long[] shape = [2, 3, 2, 2];
        var x = Random(24, 22);
        var expected = new double[24];
        for (int ch = 0; ch < 3; ch++)
        {
            var idx = new List<int>();
            for (int b = 0; b < 2; b++) for (int i = 0; i < 4; i++) idx.Add((b * 3 + ch) * 4 + i);
            var v = idx.Select(k => x[k]).ToList();
            double m = Mean(v), s = Math.Sqrt(Var(v));
            foreach (var k in idx) expected[k] = (x[k] - m) / (s + 1e-9);
        }
        AssertRounded(expected, Run1("MeanVarianceNormalization", null, F32(shape, x)), ElementType.Float, shape);

        var custom = new double[24];
        for (int o = 0; o < 6; o++)
        {
            var v = x.Skip(o * 4).Take(4).ToList();
            double m = Mean(v), s = Math.Sqrt(Var(v));
            for (int i = 0; i < 4; i++) custom[o * 4 + i] = (v[i] - m) / (s + 1e-9);
        }
        AssertRounded(custom, Run1("MeanVarianceNormalization", A(("axes", new long[] { 2, -1 })), F32(shape, x)), ElementType.Float, shape);
    }
}
