namespace Alloy.Tuning;

/// <summary>The metric phase 1 of the Pareto search ranks layer groups by.</summary>
public enum SensitivityMetric
{
    /// <summary>SQNR of the candidate's outputs against the FP32 model's on <see cref="TuningConfig.SensitivityInputs"/> (fast, no labels).</summary>
    Sqnr,

    /// <summary>The user's evaluation function.</summary>
    Evaluation,
}
