using Xunit;

namespace Alloy.Tuning.Tests;

public sealed class TolerableLossTests
{
    [Fact]
    public void AbsoluteAndRelativeThresholds()
    {
        Assert.Equal(0.97, TolerableLoss.Absolute(0.01).Threshold(0.98, higherIsBetter: true), 12);
        Assert.Equal(0.9702, TolerableLoss.RelativeTo(0.01).Threshold(0.98, higherIsBetter: true), 12);
        Assert.Equal(0.11, TolerableLoss.Absolute(0.01).Threshold(0.10, higherIsBetter: false), 12);
        Assert.Equal(0.101, TolerableLoss.RelativeTo(0.01).Threshold(0.10, higherIsBetter: false), 12);
    }

    [Fact]
    public void MeetsIncludesTheBoundaryAndRejectsNaN()
    {
        var loss = TolerableLoss.Absolute(0.005);
        Assert.True(loss.Meets(0.9731481481, 0.9781481481, true));
        Assert.False(loss.Meets(0.9712962963, 0.9781481481, true));
        Assert.False(loss.Meets(double.NaN, 0.5, true));
        Assert.True(loss.Meets(0.004, 0.0, false));
        Assert.False(loss.Meets(0.006, 0.0, false));
    }

    [Fact]
    public void NegativeOrNonFiniteAmountsAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => TolerableLoss.Absolute(-0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => TolerableLoss.RelativeTo(double.NaN));
    }
}
