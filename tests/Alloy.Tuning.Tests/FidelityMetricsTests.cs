using Alloy.Runtime;
using Xunit;

namespace Alloy.Tuning.Tests;

/// <summary>The built-in metrics against values computed by hand.</summary>
public sealed class FidelityMetricsTests
{
    private static Tensor F(params float[] v) => Tensor.FromFloats([v.Length], v);

    [Fact]
    public void SqnrIsSignalOverNoiseInDecibels()
    {
        using var r = F(3, 4);       // signal 25
        using var a = F(3, 4.5f);    // noise 0.25
        Assert.Equal(20.0, FidelityMetrics.Sqnr([r], [a]), 9);
        Assert.Equal(FidelityMetrics.SqnrCeiling, FidelityMetrics.Sqnr([r], [r]));
        using var nan = F(3, float.NaN);
        Assert.Equal(double.NegativeInfinity, FidelityMetrics.Sqnr([r], [nan]));
    }

    [Fact]
    public void CosineAndMaxAbs()
    {
        using var r = F(1, 0);
        using var a = F(1, 1);
        Assert.Equal(1 / Math.Sqrt(2), FidelityMetrics.Cosine([r], [a]), 12);
        Assert.Equal(1.0, FidelityMetrics.MaxAbs([r], [a]));
        using var b = F(-2, 0.5f);
        Assert.Equal(3.0, FidelityMetrics.MaxAbs([r], [b]));
        Assert.Equal(-2 / Math.Sqrt(4.25), FidelityMetrics.Cosine([r], [b]), 12);
    }

    [Fact]
    public void Top1CountsArgmaxHits()
    {
        using var logits = Tensor.FromFloats([3, 3], [0.1f, 0.7f, 0.2f, 0.9f, 0.05f, 0.05f, 0.2f, 0.3f, 0.5f]);
        using var labels = Tensor.FromArray(ElementType.Int64, [3], new long[] { 1, 0, 0 });
        Assert.Equal(2 / 3.0, FidelityMetrics.Top1(logits, labels), 12);
    }

    [Fact]
    public void ShapeMismatchIsAnError()
    {
        using var r = F(1, 2);
        using var a = F(1, 2, 3);
        var e = Assert.Throws<TuningException>(() => FidelityMetrics.Sqnr([r], [a]));
        Assert.Contains("[3]", e.Message);
        using var logits = Tensor.FromFloats([2, 2], [1, 0, 0, 1]);
        using var labels = Tensor.FromArray(ElementType.Int64, [3], new long[] { 0, 1, 1 });
        Assert.Contains("3 labels for 2 rows", Assert.Throws<TuningException>(() => FidelityMetrics.Top1(logits, labels)).Message);
    }
}
