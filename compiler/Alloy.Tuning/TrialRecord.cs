namespace Alloy.Tuning;

/// <summary>
/// One candidate the search looked at: its position, search phase and description, its configuration, the
/// metric, its cost relative to FP32, whether it meets the target, and whether the metric came from the
/// evaluation history instead of a new evaluation.
/// </summary>
public sealed record TrialRecord(
    int Index, string Phase, string Label, CandidateSpec Spec, double Metric, double RelativeBitOps, bool Passed, bool Reused, double Seconds);

/// <summary>Phase-1 sensitivity of one layer group: the metric with only this group in <see cref="LowType"/> and everything else FP32.</summary>
public sealed record GroupSensitivity(string LowType, LayerGroup Group, double Value, bool Reused);
