using Alloy.Runtime;

namespace Alloy.Tuning;

/// <summary>What <see cref="Autotuner.Autotune"/> searches, how far, and against which target.</summary>
public sealed record TuningConfig
{
    /// <summary>The candidate families (BF16+FP32, FP16+FP32, INT8+FP32); the cheapest passing candidate over all of them wins.</summary>
    public IReadOnlyList<PrecisionConfig> ConfigSet { get; init; } = [new MixedPrecisionConfig(["bf16", "fp32"])];

    /// <summary>Most trials (candidate evaluations, including ones answered from the cache) after the FP32 baseline, per run.</summary>
    public int MaxTrials { get; init; } = 100;

    /// <summary>Wall-clock budget; the search stops after the evaluation that crosses it. Null = no limit.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>How much worse than the FP32 baseline the chosen model may be.</summary>
    public TolerableLoss TolerableLoss { get; init; } = TolerableLoss.Absolute(0.01);

    /// <summary>True for accuracy-like metrics, false for error-like ones (loss, max-abs).</summary>
    public bool HigherIsBetter { get; init; } = true;

    public TuningStrategy Strategy { get; init; } = TuningStrategy.Fallback;

    /// <summary>What phase 1 of <see cref="TuningStrategy.Pareto"/> measures per layer group.</summary>
    public SensitivityMetric SensitivityMetric { get; init; } = SensitivityMetric.Sqnr;

    /// <summary>Inputs (by graph input name, all with the same number of rows) for the SQNR sensitivity metric; required by <see cref="SensitivityMetric.Sqnr"/>.</summary>
    public IReadOnlyDictionary<string, Tensor>? SensitivityInputs { get; init; }

    /// <summary>Folder of the evaluation history and the sensitivity cache; null = nothing is kept between runs.</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>Ignore (and overwrite) what the cache folder holds for this model.</summary>
    public bool CleanStart { get; init; }

    /// <summary>
    /// Names the evaluation function and its data in the cache keys: a cached metric is reused only for the same
    /// model, candidate and evaluation id. Change it whenever the evaluation or its data changes.
    /// </summary>
    public string EvaluationId { get; init; } = "evaluate";

    /// <summary>Parallel workers for running candidates (<see cref="CompiledCandidate.Run"/>); 0 = one per core.</summary>
    public int Workers { get; init; }

    /// <summary>Rows per batch when a candidate runs its inputs.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Receives a progress update before and after every evaluation.</summary>
    public ITuningProgress? Progress { get; init; }

    internal int EffectiveWorkers => Workers > 0 ? Workers : Environment.ProcessorCount;
}
