using System.Collections.Immutable;
using System.Security.Cryptography;
using Alloy.IR;
using Alloy.Onnx;

namespace Alloy.Tuning;

/// <summary>
/// Accuracy-driven tuning: finds the cheapest mixed-precision configuration of a model whose metric (the user's
/// evaluation function over a compiled candidate) stays within the tolerable loss of the FP32 model's.
/// </summary>
public static class Autotuner
{
    /// <summary>
    /// Tunes <paramref name="model"/> (left unchanged) over <see cref="TuningConfig.ConfigSet"/> with the configured
    /// strategy. Cancelling stops after the evaluation in flight; what was evaluated is in the history (when a
    /// cache folder is set) and a rerun continues from it.
    /// </summary>
    public static TuningResult Autotune(Model model, TuningConfig config, EvaluationFunction evaluate, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(evaluate);
        var name = model.SourcePath ?? (model.Graph.Name.Length > 0 ? model.Graph.Name : "model");
        if (config.ConfigSet.Count == 0) throw new TuningException($"{name}: the config set is empty");
        if (config.MaxTrials < 1) throw new TuningException($"{name}: MaxTrials must be at least 1");
        if (config.Timeout is { } t && t <= TimeSpan.Zero) throw new TuningException($"{name}: the timeout must be positive");
        if (config.Strategy == TuningStrategy.Pareto && config.SensitivityMetric == SensitivityMetric.Sqnr && config.SensitivityInputs is null)
            throw new TuningException($"{name}: the Pareto strategy with the SQNR sensitivity metric needs SensitivityInputs");

        var bytes = OnnxWireWriter.ToBytes(model);
        var hash = Convert.ToHexStringLower(SHA256.HashData(bytes))[..20];
        var baseDir = model.SourcePath is { } p ? Path.GetDirectoryName(Path.GetFullPath(p)) ?? "." : Directory.GetCurrentDirectory();
        var builder = new CandidateBuilder(bytes, name, baseDir);
        if (config.ConfigSet.OfType<QuantizationConfig>().Any() && !builder.HasInt8)
            throw new TuningException("INT8 is not available in this build (no partition-int8 pass is registered)");

        // INT8 families: calibrate once, before any evaluation (bad calibration data stops here).
        using var calibration = new Int8Calibration();
        config = config with { ConfigSet = calibration.Resolve(config.ConfigSet, bytes, model.SourcePath, name, config.CacheDirectory) };

        using var session = new TuningSession(builder, config, evaluate, hash, cancellation);
        session.EvaluateBaseline();
        var graphs = new List<TunableGraph>();
        var searched = new Dictionary<string, FamilyContext>(StringComparer.Ordinal);
        foreach (var family in config.ConfigSet)
        {
            var context = Analyze(session, family, KeptFp32(session, family, searched));
            searched[family.LowType] = context;
            graphs.Add(context.Graph);
            if (context.Graph.Nodes.Count == 0 || session.Exhausted) continue;
            if (config.Strategy == TuningStrategy.Pareto) ParetoSearch.Run(session, context);
            else FallbackSearch.Run(session, context);
        }
        var chosen = session.Best ?? session.Trials[0];
        session.Report("done", chosen.Label, finished: true);
        var family0 = config.ConfigSet.FirstOrDefault(c => c.LowType == chosen.Spec.LowType);
        var chosenModel = session.Build(chosen.Spec, family0);
        return new TuningResult(name, hash, config, session.Baseline, chosen, chosenModel, [.. session.Trials], [.. session.Sensitivities], graphs,
            session.Evaluations, session.Phase1Evaluations, session.StopReason ?? "completed", session.Elapsed, session.HistoryPath);
    }

    /// <summary>
    /// The nodes an INT8 family with a rest type keeps FP32 in every candidate: the FP32 nodes of the cheapest
    /// passing candidate of the rest type's own family searched before it (all of its tunable nodes when none
    /// passed); none when that family is not in the config set.
    /// </summary>
    private static ImmutableSortedSet<string> KeptFp32(TuningSession session, PrecisionConfig family, Dictionary<string, FamilyContext> searched)
    {
        var none = ImmutableSortedSet<string>.Empty.WithComparer(StringComparer.Ordinal);
        if (family is not QuantizationConfig { RestType: { } rest } || !searched.TryGetValue(rest, out var restFamily)) return none;
        var best = session.Trials.Where(t => t.Passed && t.Spec.LowType == rest)
            .OrderBy(t => t.RelativeBitOps).ThenBy(t => t.Index).FirstOrDefault();
        return best is not null ? best.Spec.Fp32Nodes : restFamily.Graph.Nodes.Select(n => n.Name).ToImmutableSortedSet(StringComparer.Ordinal);
    }

    /// <summary>The tunable nodes, layer groups and per-node MACs of a family, read from its all-low candidate.</summary>
    private static FamilyContext Analyze(TuningSession session, PrecisionConfig family, ImmutableSortedSet<string> keptFp32)
    {
        using var allLow = session.Build(CandidateSpec.AllLow(family.LowType) with { KeptFp32 = keptFp32 }, family);
        var graph = TunableGraph.Analyze(allLow, family.LowType, family.PrecisionAnnotation);
        var macs = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var g in allLow.Graph.SelfAndSubgraphs())
            foreach (var n in g.Nodes)
                macs.TryAdd(NodeNames.Of(n), BitOpsCostModel.Macs(n));
        return new FamilyContext(family, graph, macs, keptFp32);
    }

    /// <summary>
    /// The reference the tuner is measured against: everything low, then op types cumulatively to FP32 in order of
    /// first appearance until the target is met (no sensitivity measurement, no refinement). Returns the trials,
    /// the last being the one it would choose. Uses the same history as <see cref="Autotune"/>.
    /// </summary>
    public static IReadOnlyList<TrialRecord> PlainOpTypeFallback(Model model, TuningConfig config, EvaluationFunction evaluate, CancellationToken cancellation = default)
    {
        var bytes = OnnxWireWriter.ToBytes(model);
        var hash = Convert.ToHexStringLower(SHA256.HashData(bytes))[..20];
        var name = model.SourcePath ?? "model";
        var baseDir = model.SourcePath is { } p ? Path.GetDirectoryName(Path.GetFullPath(p)) ?? "." : Directory.GetCurrentDirectory();
        using var calibration = new Int8Calibration();
        config = config with { ConfigSet = calibration.Resolve(config.ConfigSet, bytes, model.SourcePath, name, config.CacheDirectory) };
        using var session = new TuningSession(new CandidateBuilder(bytes, name, baseDir), config with { MaxTrials = int.MaxValue, Timeout = null }, evaluate, hash, cancellation);
        session.EvaluateBaseline();
        var family = config.ConfigSet[0];
        var f = Analyze(session, family, ImmutableSortedSet<string>.Empty.WithComparer(StringComparer.Ordinal));
        var fp32 = new List<string>();
        var t = session.Try(f.AllLow, family, "all-low", "all low");
        foreach (var op in f.Graph.OpTypes)
        {
            if (t is null || t.Passed) break;
            fp32.AddRange(f.Graph.NodesOfType(op));
            t = session.Try(f.WithFp32(fp32), family, "plain", $"+{op} in fp32");
        }
        return [.. session.Trials];
    }
}
