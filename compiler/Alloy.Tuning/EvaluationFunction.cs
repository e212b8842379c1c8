namespace Alloy.Tuning;

/// <summary>
/// Measures a compiled candidate: typically runs <see cref="CompiledCandidate.Run"/> on held-out data and returns
/// accuracy (or any score; set <see cref="TuningConfig.HigherIsBetter"/> for its direction). It must be
/// deterministic for resumed runs to reach the same result. NaN counts as failing the target.
/// </summary>
public delegate double EvaluationFunction(CompiledCandidate candidate);
