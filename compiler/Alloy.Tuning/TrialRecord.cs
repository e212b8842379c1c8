namespace Alloy.Tuning;

/// <summary>
/// One candidate the search looked at: its position, search phase and description, its configuration, the
/// metric, its cost relative to FP32, whether it meets the target, and whether the metric came from the
/// evaluation history instead of a new evaluation.
/// </summary>
public sealed record TrialRecord(
    int Index, string Phase, string Label, CandidateSpec Spec, double Metric, double RelativeBitOps, bool Passed, bool Reused, double Seconds);
