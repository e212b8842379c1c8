namespace Alloy.Tuning;

/// <summary>
/// How much worse than the FP32 baseline a candidate's metric may be: an absolute amount (0.01 = one point of
/// accuracy) or a fraction of the baseline (0.01 = 1 % of it). Higher-is-better metrics may drop by it,
/// lower-is-better metrics may rise by it.
/// </summary>
public readonly record struct TolerableLoss(double Amount, bool Relative)
{
    public static TolerableLoss Absolute(double amount) => new(Check(amount), false);

    public static TolerableLoss RelativeTo(double fraction) => new(Check(fraction), true);

    /// <summary>The worst metric value that still meets the target, given the baseline.</summary>
    public double Threshold(double baseline, bool higherIsBetter)
    {
        double allowed = Relative ? Math.Abs(baseline) * Amount : Amount;
        return higherIsBetter ? baseline - allowed : baseline + allowed;
    }

    /// <summary>True when <paramref name="value"/> meets the target (NaN never does).</summary>
    public bool Meets(double value, double baseline, bool higherIsBetter)
    {
        if (double.IsNaN(value)) return false;
        double threshold = Threshold(baseline, higherIsBetter);
        // A tiny slack absorbs the rounding of the threshold arithmetic itself.
        double slack = 1e-12 * Math.Max(1, Math.Abs(threshold));
        return higherIsBetter ? value >= threshold - slack : value <= threshold + slack;
    }

    public override string ToString() => Relative ? $"{Amount:G4} of the baseline (relative)" : $"{Amount:G4} (absolute)";

    private static double Check(double amount) =>
        double.IsFinite(amount) && amount >= 0 ? amount : throw new ArgumentOutOfRangeException(nameof(amount), amount, "a tolerable loss is a finite number >= 0");
}
