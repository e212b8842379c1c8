using Xunit;
using static Alloy.Runtime.Tests.Kernels.LossSignalVisionTextKit;

namespace Alloy.Runtime.Tests.Kernels;

public sealed class LossTests
{
    /// <summary>
    /// The loss of every element by the definition, with explicit multi-indices: input[n, t, d…] for target[n, d…].
    /// Returns the per-element losses and weights (0 for ignored elements).
    /// </summary>
    private static (double[] Loss, double[] Weight) Elementwise(double[] logp, long[] shape, long[] target, double[]? weight, long? ignore)
    {
        var targetShape = new[] { shape[0] }.Concat(shape.Skip(2)).ToArray();
        var loss = new double[target.Length];
        var w = new double[target.Length];
        for (long k = 0; k < target.Length; k++)
        {
            if (ignore is { } ii && target[k] == ii) continue;
            var idx = Unflatten(k, targetShape);
            var full = new[] { idx[0], target[k] }.Concat(idx.Skip(1)).ToArray();
            w[k] = weight?[target[k]] ?? 1;
            loss[k] = -logp[Flatten(full, shape)] * w[k];
        }
        return (loss, w);
    }

    /// <summary>log(softmax) along axis 1, computed as log(exp(x) / Σ exp(x)) on each [n, ·, d…] line.</summary>
    private static double[] LogSoftmax(double[] x, long[] shape)
    {
        var r = new double[x.Length];
        for (long k = 0; k < x.Length; k++)
        {
            var idx = Unflatten(k, shape);
            double sum = 0;
            for (long c = 0; c < shape[1]; c++)
            {
                var j = (long[])idx.Clone();
                j[1] = c;
                sum += Math.Exp(x[Flatten(j, shape)]);
            }
            r[k] = Math.Log(Math.Exp(x[k]) / sum);
        }
        return r;
    }

    [Theory]
    [InlineData("none")]
    [InlineData("sum")]
    [InlineData("mean")]
    public void NllReductionsOnNC(string reduction)
    {
        long[] shape = [3, 5];
        var x = Random(15, 1);
        long[] t = [4, 0, 2];
        var y = Run("NegativeLogLikelihoodLoss", 13, A(("reduction", reduction)), F32(shape, x.Select(v => (float)v).ToArray()), I64([3], t));
        Assert.Equal(ElementType.Float, y.Type);
        double[] expected = [-x[4], -x[5], -x[12]];
        if (reduction == "none")
        {
            Assert.Equal([3L], y.Shape);
            RoundedOnce(expected, y);
        }
        else
        {
            Assert.Empty(y.Shape);
            RoundedOnce([reduction == "sum" ? expected.Sum() : expected.Sum() / 3], y);
        }
    }

    [Fact]
    public void NllNdWithWeightsAndIgnoreIndexAveragesOverTheWeights()
    {
        long[] shape = [2, 3, 4, 5];
        var x = Random(120, 2);
        var rng = new Random(3);
        var t = Enumerable.Range(0, 40).Select(_ => (long)rng.Next(0, 4)).ToArray(); // 3 means ignored
        double[] weight = [0.5, 2, 0.25];
        var (loss, w) = Elementwise(x, shape, t, weight, 3);
        Assert.Contains(3L, t);
        var xs = F64(shape, x);
        var wt = F64([3], weight);
        var none = Run("NegativeLogLikelihoodLoss", 13, A(("reduction", "none"), ("ignore_index", 3L)), xs, I64([2, 4, 5], t), wt);
        Assert.Equal([2L, 4, 5], none.Shape);
        Close(loss, none, 1e-15);
        var sum = Run("NegativeLogLikelihoodLoss", 13, A(("reduction", "sum"), ("ignore_index", 3L)), xs, I64([2, 4, 5], t), wt);
        Close([loss.Sum()], sum, 1e-14);
        var mean = Run("NegativeLogLikelihoodLoss", 13, A(("ignore_index", 3L)), xs, I64([2, 4, 5], t), wt);
        Close([loss.Sum() / w.Sum()], mean, 1e-14);
    }

    [Fact]
    public void NllIgnoreIndexWithoutWeightsAveragesOverTheKeptElements()
    {
        long[] shape = [1, 3, 17];
        var x = Random(51, 4);
        var t = Enumerable.Range(0, 17).Select(i => (long)(i % 4 == 0 ? -1 : i % 3)).ToArray();
        var (loss, w) = Elementwise(x, shape, t, null, -1);
        Assert.Equal(12, w.Sum());
        var y = Run("NegativeLogLikelihoodLoss", 12, A(("ignore_index", -1L)), F64(shape, x), I32([1, 17], t.Select(v => (int)v).ToArray()));
        Close([loss.Sum() / 12], y, 1e-14);
    }

    [Fact]
    public void NllWithEveryElementIgnoredIsNaNForMeanAndZeroForSum()
    {
        var x = F32([2, 2], 1, 2, 3, 4);
        var t = I64([2], 1, 1);
        Assert.True(double.IsNaN(D(Run("NegativeLogLikelihoodLoss", 13, A(("ignore_index", 1L)), x, t))[0]));
        Assert.Equal([0.0], D(Run("NegativeLogLikelihoodLoss", 13, A(("ignore_index", 1L), ("reduction", "sum")), x, t)));
    }

    [Fact]
    public void NllBf16RoundsOnceFromDouble()
    {
        long[] shape = [3, 4, 1];
        var x = Random(12, 5, type: ElementType.BFloat16);
        long[] t = [1, 3, 0];
        double[] weight = [RoundToBf16(0.3), RoundToBf16(1.7), 1, RoundToBf16(0.9)];
        var (loss, w) = Elementwise(x, shape, t, weight, null);
        var y = Run("NegativeLogLikelihoodLoss", 13, A(("reduction", "none")), Of(ElementType.BFloat16, shape, x), I64([3, 1], t), Of(ElementType.BFloat16, [4], weight));
        Assert.Equal(ElementType.BFloat16, y.Type);
        RoundedOnce(loss, y);
        var mean = Run("NegativeLogLikelihoodLoss", 13, null, Of(ElementType.BFloat16, shape, x), I64([3, 1], t), Of(ElementType.BFloat16, [4], weight));
        RoundedOnce([loss.Sum() / w.Sum()], mean);
    }

    [Fact]
    public void NllRejectsBadTargetsShapesAndAttributes()
    {
        var x = F32([2, 3], 1, 2, 3, 4, 5, 6);
        Assert.Contains("outside the class range", Fails("NegativeLogLikelihoodLoss", 13, null, x, I64([2], 0, 3)).Message);
        Assert.Contains("outside the class range", Fails("NegativeLogLikelihoodLoss", 13, A(("ignore_index", 5L)), x, I64([2], -1, 0)).Message);
        Assert.Contains("target shape", Fails("NegativeLogLikelihoodLoss", 13, null, x, I64([3], 0, 1, 2)).Message);
        Assert.Contains("target shape", Fails("NegativeLogLikelihoodLoss", 13, null, x, I64([2, 1], 0, 1)).Message);
        Assert.Contains("weight", Fails("NegativeLogLikelihoodLoss", 13, null, x, I64([2], 0, 1), F32([2], 1, 1)).Message);
        Assert.Contains("int32 or int64", Fails("NegativeLogLikelihoodLoss", 13, null, x, F32([2], 0, 1)).Message);
        Assert.Contains("[N, C]", Fails("NegativeLogLikelihoodLoss", 13, null, F32([3], 1, 2, 3), I64([], 0)).Message);
        Assert.Contains("reduction", Declines("NegativeLogLikelihoodLoss", 13, A(("reduction", "max")), x, I64([2], 0, 1)));
        Assert.Contains("reduction", Declines("SoftmaxCrossEntropyLoss", 13, A(("reduction", "avg")), x, I64([2], 0, 1)));
    }

    [Theory]
    [InlineData("none")]
    [InlineData("sum")]
    [InlineData("mean")]
    public void SoftmaxCrossEntropyMatchesTheDefinitionAndReturnsLogProb(string reduction)
    {
        long[] shape = [3, 17];
        var x = Random(51, 6, -4, 4);
        long[] t = [16, 0, 7];
        var logp = LogSoftmax(x, shape);
        var (loss, _) = Elementwise(logp, shape, t, null, null);
        var outs = RunAll("SoftmaxCrossEntropyLoss", 13, A(("reduction", reduction)), 2, F64(shape, x), I64([3], t));
        Close(reduction switch { "none" => loss, "sum" => [loss.Sum()], _ => [loss.Sum() / 3] }, outs[0]!, 1e-13);
        Assert.Equal(shape, outs[1]!.Shape);
        Close(logp, outs[1]!, 1e-13);
        // Without the second output requested only the loss is produced.
        Assert.Single(RunAll("SoftmaxCrossEntropyLoss", 13, A(("reduction", reduction)), 1, F64(shape, x), I64([3], t)));
    }

    [Fact]
    public void SoftmaxCrossEntropyNdWithWeightsAndNegativeIgnoreIndex()
    {
        long[] shape = [2, 5, 3, 1, 3];
        var x = Random(90, 7);
        var rng = new Random(8);
        var t = Enumerable.Range(0, 18).Select(_ => (long)rng.Next(-1, 5)).ToArray();
        double[] weight = Random(5, 9, 0.1, 2);
        var logp = LogSoftmax(x, shape);
        var (loss, w) = Elementwise(logp, shape, t, weight, -1);
        var y = Run("SoftmaxCrossEntropyLoss", 12, A(("ignore_index", -1L)), F64(shape, x), I64([2, 3, 1, 3], t), F64([5], weight));
        Close([loss.Sum() / w.Sum()], y, 1e-13);
        var none = Run("SoftmaxCrossEntropyLoss", 12, A(("ignore_index", -1L), ("reduction", "none")), F64(shape, x), I64([2, 3, 1, 3], t), F64([5], weight));
        Assert.Equal([2L, 3, 1, 3], none.Shape);
        Close(loss, none, 1e-13);
    }

    [Fact]
    public void SoftmaxCrossEntropyIsStableForLargeScores()
    {
        var y = RunAll("SoftmaxCrossEntropyLoss", 13, A(("reduction", "none")), 2, F32([1, 3], 1000, 0, -1000), I64([1], 1));
        Close([1000], y[0]!, 1e-7);
        Close([0, -1000, -2000], y[1]!, 1e-7);
    }

    [Fact]
    public void SoftmaxCrossEntropyF16RoundsOnceFromDouble()
    {
        long[] shape = [3, 3];
        var x = Random(9, 10, type: ElementType.Float16);
        long[] t = [2, 1, 0];
        var logp = LogSoftmax(x, shape);
        var (loss, _) = Elementwise(logp, shape, t, null, null);
        var outs = RunAll("SoftmaxCrossEntropyLoss", 13, A(("reduction", "none")), 2, Of(ElementType.Float16, shape, x), I64([3], t));
        Assert.Equal(ElementType.Float16, outs[0]!.Type);
        RoundedOnce(loss, outs[0]!);
        RoundedOnce(logp, outs[1]!);
    }
}
