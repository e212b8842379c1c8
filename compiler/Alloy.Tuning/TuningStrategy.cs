namespace Alloy.Tuning;

/// <summary>How the tuner searches.</summary>
public enum TuningStrategy
{
    /// <summary>All low precision first; then FP32 fallback by op type in order of measured sensitivity, then layer group by layer group, then cumulatively.</summary>
    Fallback,

    /// <summary>Automatic mixed precision: per-group sensitivity (phase 1), then a Pareto front of relative bit-ops against the metric (phase 2).</summary>
    Pareto,
}
