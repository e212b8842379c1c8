using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Alloy.IR;
using Alloy.Runtime;

namespace Alloy.Tuning;

/// <summary>
/// The state one <see cref="Autotuner.Autotune"/> call shares between its search strategies: the trial list, the
/// budget (trials, time, cancellation), the evaluation history and sensitivity cache on disk, progress.
/// Every candidate is evaluated at most once per run, and not at all when the history already holds its metric.
/// </summary>
internal sealed class TuningSession : IDisposable
{
    private readonly CandidateBuilder _builder;
    private readonly TuningConfig _config;
    private readonly EvaluationFunction _evaluate;
    private readonly CancellationToken _cancellation;
    private readonly ScoreFile _history;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<TrialRecord> _trials = [];
    private readonly Dictionary<CandidateSpec, TrialRecord> _byCandidate = [];
    private readonly List<GroupSensitivity> _sensitivities = [];
    private double _evaluationSeconds;
    private Tensor[]? _referenceOutputs;

    public TuningSession(CandidateBuilder builder, TuningConfig config, EvaluationFunction evaluate, string modelHash, CancellationToken cancellation)
    {
        _builder = builder;
        _config = config;
        _evaluate = evaluate;
        _cancellation = cancellation;
        ModelHash = modelHash;
        var families = string.Join(";", config.ConfigSet.Select(Describe).Order(StringComparer.Ordinal));
        var header = new Dictionary<string, string> { ["kind"] = "alloy-tune-evaluations", ["model"] = modelHash, ["evaluation"] = config.EvaluationId, ["families"] = families };
        _history = ScoreFile.Open(config.CacheDirectory, $"evaluations-{Digest(modelHash, config.EvaluationId, families)}.json", header, config.CleanStart);
    }

    public string ModelHash { get; }
    public TuningConfig Config => _config;
    public CandidateBuilder Builder => _builder;
    public IReadOnlyList<TrialRecord> Trials => _trials;
    public IReadOnlyList<GroupSensitivity> Sensitivities => _sensitivities;
    public double Baseline { get; private set; } = double.NaN;
    public double Fp32BitOps { get; private set; }
    public int Evaluations { get; private set; }
    public int Phase1Evaluations { get; private set; }
    public string? StopReason { get; private set; }
    public TimeSpan Elapsed => _clock.Elapsed;
    public string? HistoryPath => _history.Path;

    /// <summary>Trials counted against <see cref="TuningConfig.MaxTrials"/> (all but the FP32 baseline).</summary>
    private int Counted => _trials.Count(t => !t.Spec.IsBaseline);

    public bool Exhausted => StopReason is not null;

    public TrialRecord? Best => _trials.Where(t => t.Passed).OrderBy(t => t.RelativeBitOps).ThenBy(t => _config.HigherIsBetter ? -t.Metric : t.Metric).ThenBy(t => t.Index).FirstOrDefault();

    /// <summary>Evaluates the FP32 model: the baseline the target is relative to.</summary>
    public TrialRecord EvaluateBaseline()
    {
        using var model = _builder.Build(CandidateSpec.Baseline, null, _cancellation);
        Fp32BitOps = BitOpsCostModel.BitOps(model);
        if (Fp32BitOps <= 0) throw new TuningException($"{_builder.ModelName}: the model has no float computation to tune");
        var trial = Record(CandidateSpec.Baseline, null, "baseline", "fp32 (baseline)", model);
        Baseline = trial.Metric;
        if (!double.IsFinite(Baseline))
            throw new TuningException($"{_builder.ModelName}: the evaluation of the FP32 model returned {Baseline}; the target needs a finite baseline");
        return trial;
    }

    /// <summary>
    /// The trial of a candidate: the one already made in this run, else a new one (from the history, or
    /// evaluated now). Null when the budget is spent.
    /// </summary>
    public TrialRecord? Try(CandidateSpec spec, PrecisionConfig family, string phase, string label)
    {
        if (_byCandidate.TryGetValue(spec, out var done)) return done;
        if (!CheckBudget()) return null;
        using var model = _builder.Build(spec, family, _cancellation);
        return Record(spec, family, phase, label, model);
    }

    /// <summary>Builds a candidate's model without evaluating it (for analysis).</summary>
    public Model Build(CandidateSpec spec, PrecisionConfig? family) => _builder.Build(spec, family, _cancellation);

    private bool CheckBudget()
    {
        _cancellation.ThrowIfCancellationRequested();
        if (StopReason is not null) return false;
        if (Counted >= _config.MaxTrials) StopReason = $"max trials ({_config.MaxTrials}) reached";
        else if (_config.Timeout is { } limit && _clock.Elapsed >= limit) StopReason = $"timeout ({limit.TotalSeconds:G4} s) reached";
        return StopReason is null;
    }

    private TrialRecord Record(CandidateSpec spec, PrecisionConfig? family, string phase, string label, Model model)
    {
        double bitOps = BitOpsCostModel.BitOps(model);
        double relative = Fp32BitOps > 0 ? bitOps / Fp32BitOps : 1;
        var key = spec.Key;
        bool reused = _history.TryGet(key, out var metric);
        double seconds = 0;
        if (!reused)
        {
            Report(phase, label, finished: false);
            var clock = Stopwatch.StartNew();
            metric = RunEvaluation(spec, model, bitOps, relative);
            seconds = clock.Elapsed.TotalSeconds;
            _evaluationSeconds += seconds;
            Evaluations++;
            _history.Set(key, metric);
        }
        bool passed = spec.IsBaseline || _config.TolerableLoss.Meets(metric, Baseline, _config.HigherIsBetter);
        var trial = new TrialRecord(_trials.Count, phase, label, spec, metric, relative, passed, reused, seconds);
        _trials.Add(trial);
        _byCandidate[spec] = trial;
        Report(phase, label, finished: false);
        return trial;
    }

    private double RunEvaluation(CandidateSpec spec, Model model, double bitOps, double relative)
    {
        var candidate = new CompiledCandidate(spec, model, bitOps, relative, _config.EffectiveWorkers, _config.BatchSize) { Cancellation = _cancellation };
        try
        {
            return _evaluate(candidate);
        }
        catch (Exception e) when (e is not (OperationCanceledException or TuningException))
        {
            throw new TuningException($"{_builder.ModelName}: evaluating candidate {spec.Key} failed: {e.Message}", e);
        }
    }

    /// <summary>
    /// Phase-1 sensitivity of a group: the sensitivity metric of the candidate that runs only this group low.
    /// From the cache when it holds it; null when the time budget is spent.
    /// </summary>
    public GroupSensitivity? Sensitivity(ScoreFile cache, PrecisionConfig family, LayerGroup group, CandidateSpec spec)
    {
        _cancellation.ThrowIfCancellationRequested();
        var key = $"{family.LowType}/{group.Index}";
        if (cache.TryGet(key, out var value))
            return Add(new GroupSensitivity(family.LowType, group, value, true));
        if (_config.Timeout is { } limit && _clock.Elapsed >= limit)
        {
            StopReason ??= $"timeout ({limit.TotalSeconds:G4} s) reached";
            return null;
        }
        Report("sensitivity", $"{family.LowType} {group.Label}", finished: false);
        using var model = _builder.Build(spec, family, _cancellation);
        var candidate = new CompiledCandidate(spec, model, 0, 0, _config.EffectiveWorkers, _config.BatchSize) { Cancellation = _cancellation };
        if (_config.SensitivityMetric == SensitivityMetric.Sqnr)
        {
            var inputs = _config.SensitivityInputs ?? throw new TuningException("the SQNR sensitivity metric needs TuningConfig.SensitivityInputs");
            var reference = ReferenceOutputs(inputs);
            var outputs = candidate.Run(inputs, _cancellation);
            try
            {
                value = FidelityMetrics.Sqnr(reference, outputs);
            }
            finally
            {
                foreach (var o in outputs) o.Dispose();
            }
        }
        else
        {
            value = RunEvaluation(spec, model, 0, 0);
        }
        Phase1Evaluations++;
        cache.Set(key, value);
        return Add(new GroupSensitivity(family.LowType, group, value, false));
    }

    private GroupSensitivity Add(GroupSensitivity s)
    {
        _sensitivities.Add(s);
        return s;
    }

    private Tensor[] ReferenceOutputs(IReadOnlyDictionary<string, Tensor> inputs)
    {
        if (_referenceOutputs is not null) return _referenceOutputs;
        using var model = _builder.Build(CandidateSpec.Baseline, null, _cancellation);
        var baseline = new CompiledCandidate(CandidateSpec.Baseline, model, 0, 1, _config.EffectiveWorkers, _config.BatchSize) { Cancellation = _cancellation };
        Phase1Evaluations++;
        return _referenceOutputs = baseline.Run(inputs, _cancellation);
    }

    /// <summary>Opens the phase-1 cache of a family: keyed by the model, the candidate types, the sensitivity metric and its data.</summary>
    public ScoreFile OpenSensitivityCache()
    {
        var families = string.Join(";", _config.ConfigSet.Select(Describe).Order(StringComparer.Ordinal));
        string metric, data;
        if (_config.SensitivityMetric == SensitivityMetric.Sqnr)
        {
            metric = "sqnr";
            data = _config.SensitivityInputs is { } inputs ? DataDigest(inputs) : "none";
        }
        else
        {
            metric = "evaluation";
            data = _config.EvaluationId;
        }
        var header = new Dictionary<string, string> { ["kind"] = "alloy-tune-sensitivity", ["model"] = ModelHash, ["families"] = families, ["metric"] = metric, ["data"] = data };
        return ScoreFile.Open(_config.CacheDirectory, $"sensitivity-{Digest(ModelHash, families, metric, data)}.json", header, _config.CleanStart);
    }

    public void Report(string phase, string label, bool finished)
    {
        if (_config.Progress is not { } progress) return;
        var last = _trials.Count > 0 ? _trials[^1].Metric : (double?)null;
        TimeSpan? remaining = null;
        if (Evaluations > 0)
        {
            double perEvaluation = _evaluationSeconds / Evaluations;
            remaining = TimeSpan.FromSeconds(perEvaluation * Math.Max(0, _config.MaxTrials - Counted));
            if (_config.Timeout is { } limit && limit - _clock.Elapsed < remaining) remaining = limit - _clock.Elapsed < TimeSpan.Zero ? TimeSpan.Zero : limit - _clock.Elapsed;
        }
        progress.Report(new TuningProgress(phase, Counted, _config.MaxTrials, label, last, Best?.Metric, _clock.Elapsed, finished ? TimeSpan.Zero : remaining, finished));
    }

    internal static string Describe(PrecisionConfig c) => c switch
    {
        MixedPrecisionConfig mp => $"{mp.LowType}(target={mp.Target ?? "any"},keep-io={mp.KeepIoTypes}{(mp.AllowNonstandardTypes ? ",schema=alloy" : "")})",
        QuantizationConfig q => $"{q.LowType}(calibration={q.CalibrationKey};{string.Join("&", q.PartitionOptions.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key + "=" + p.Value))};target={q.Target ?? "any"},keep-io={q.KeepIoTypes})",
        _ => c.GetType().Name,
    };

    internal static string Digest(params string[] parts) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\u0001", parts))))[..20];

    /// <summary>A digest of tensors by name, type, shape and bytes.</summary>
    internal static string DataDigest(IReadOnlyDictionary<string, Tensor> data)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (name, t) in data.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            hash.AppendData(Encoding.UTF8.GetBytes($"{name}:{t.Type.Name()}{t.ShapeText};"));
            hash.AppendData(t.Bytes);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset())[..20];
    }

    public void Dispose()
    {
        if (_referenceOutputs is not null)
            foreach (var t in _referenceOutputs) t.Dispose();
    }
}
