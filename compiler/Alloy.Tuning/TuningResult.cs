using Alloy.IR;

namespace Alloy.Tuning;

/// <summary>
/// What a tuning run found: the chosen candidate (the cheapest that meets the target; the FP32 baseline when
/// none does) with its built model, every trial, the phase-1 sensitivities, the Pareto front, and how many
/// evaluations the run actually performed.
/// </summary>
public sealed class TuningResult : IDisposable
{
    internal TuningResult(string modelName, string modelHash, TuningConfig config, double baseline, TrialRecord chosen, Model chosenModel,
        IReadOnlyList<TrialRecord> trials, IReadOnlyList<GroupSensitivity> sensitivities, IReadOnlyList<TunableGraph> graphs,
        int evaluations, int phase1Evaluations, string stopReason, TimeSpan elapsed, string? historyPath)
    {
        ModelName = modelName;
        ModelHash = modelHash;
        Config = config;
        Baseline = baseline;
        Chosen = chosen;
        ChosenModel = chosenModel;
        Trials = trials;
        Sensitivities = sensitivities;
        Graphs = graphs;
        Evaluations = evaluations;
        Phase1Evaluations = phase1Evaluations;
        StopReason = stopReason;
        Elapsed = elapsed;
        HistoryPath = historyPath;
        ParetoFront = Tuning.ParetoFront.Of(trials, config.HigherIsBetter);
        PrecisionByOp = PrecisionTable.Of(chosenModel);
    }

    public string ModelName { get; }

    /// <summary>SHA-256 (hex, 20 digits) of the serialized source model: the cache key.</summary>
    public string ModelHash { get; }

    public TuningConfig Config { get; }

    /// <summary>The FP32 model's metric.</summary>
    public double Baseline { get; }

    /// <summary>The worst metric that meets the target.</summary>
    public double Threshold => Config.TolerableLoss.Threshold(Baseline, Config.HigherIsBetter);

    public TrialRecord Chosen { get; }

    /// <summary>The chosen candidate's model (owned by this result).</summary>
    public Model ChosenModel { get; }

    /// <summary>Every trial in order; index 0 is the FP32 baseline.</summary>
    public IReadOnlyList<TrialRecord> Trials { get; }

    public IReadOnlyList<GroupSensitivity> Sensitivities { get; }

    /// <summary>The tunable nodes and layer groups of each family.</summary>
    public IReadOnlyList<TunableGraph> Graphs { get; }

    /// <summary>Trials on the Pareto front of relative bit-ops against the metric, by cost.</summary>
    public IReadOnlyList<TrialRecord> ParetoFront { get; }

    public SortedDictionary<string, SortedDictionary<string, int>> PrecisionByOp { get; }

    /// <summary>Evaluations of the metric this run performed (trials answered from the history are not counted).</summary>
    public int Evaluations { get; }

    /// <summary>Phase-1 sensitivity measurements this run performed (zero when the cache held them all).</summary>
    public int Phase1Evaluations { get; }

    /// <summary>Trials answered from the evaluation history.</summary>
    public int ReusedTrials => Trials.Count(t => t.Reused);

    /// <summary>Why the search ended: "completed", the trial budget, or the timeout.</summary>
    public string StopReason { get; }

    public TimeSpan Elapsed { get; }

    public string? HistoryPath { get; }

    public void Dispose() => ChosenModel.Dispose();
}
