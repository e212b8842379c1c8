namespace Alloy.Calibration;

/// <summary>How a tensor's calibrated range is chosen from what was observed.</summary>
public enum CalibrationMethod
{
    /// <summary>The smallest and the largest value seen.</summary>
    MinMax,
    /// <summary>The (100 − p)-th and p-th percentiles of the values seen (default p = 99.99).</summary>
    Percentile,
    /// <summary>The clipping threshold whose 128-level quantized histogram is closest to the observed one in KL divergence.</summary>
    Entropy,
    /// <summary>The clipping threshold with the least expected squared quantization plus clipping error.</summary>
    Mse,
}

public static class CalibrationMethods
{
    public static IReadOnlyList<string> Names { get; } = ["minmax", "percentile", "entropy", "mse"];

    public static string Name(this CalibrationMethod m) => m switch
    {
        CalibrationMethod.MinMax => "minmax",
        CalibrationMethod.Percentile => "percentile",
        CalibrationMethod.Entropy => "entropy",
        _ => "mse",
    };

    public static CalibrationMethod Parse(string text) => text.ToLowerInvariant() switch
    {
        "minmax" or "min-max" => CalibrationMethod.MinMax,
        "percentile" => CalibrationMethod.Percentile,
        "entropy" or "kl" => CalibrationMethod.Entropy,
        "mse" => CalibrationMethod.Mse,
        _ => throw new CalibrationException($"unknown calibration method '{text}' (known: {string.Join(", ", Names)})"),
    };
}
