namespace Alloy.Tuning;

/// <summary>
/// The state of a search: trial <see cref="Trial"/> of at most <see cref="MaxTrials"/> in <see cref="Phase"/>, the
/// metric of the last evaluation and the best passing one so far, and an estimate of the time left.
/// </summary>
public readonly record struct TuningProgress(
    string Phase, int Trial, int MaxTrials, string Candidate, double? Current, double? Best, TimeSpan Elapsed, TimeSpan? Remaining, bool Finished);
