using System.Text.RegularExpressions;
using Alloy.IR;
using Alloy.Onnx;
using Alloy.Passes;
using Alloy.Passes.Precision;
using Alloy.Pipeline;

namespace Alloy.Tuning;

/// <summary>
/// Builds the model of a candidate from the source model's serialized bytes: the unchanged model (after
/// infer-shapes) for the baseline, the mixed-precision pipeline with the FP32 nodes forced by name for BF16/FP16,
/// the <see cref="QuantizationConfig.Pipeline"/> for INT8.
/// </summary>
public sealed class CandidateBuilder
{
    private readonly byte[] _modelBytes;
    private readonly string _modelName;
    private readonly string _baseDir;
    private readonly PassRegistry _registry = StandardPasses.CreateRegistry();

    public CandidateBuilder(byte[] modelBytes, string modelName, string baseDir)
    {
        _modelBytes = modelBytes;
        _modelName = modelName;
        _baseDir = baseDir;
    }

    public string ModelName => _modelName;

    /// <summary>True when this build registers the INT8 partition pass.</summary>
    public bool HasInt8 => _registry.Passes.Any(p => p.Id == QuantizationConfig.PartitionPass);

    /// <summary>The candidate's model (the caller owns and disposes it).</summary>
    public Model Build(CandidateSpec spec, PrecisionConfig? family, CancellationToken cancellation = default)
    {
        var model = OnnxImporter.FromBytes(_modelBytes, _modelName, _baseDir);
        try
        {
            List<IPass> passes = spec.IsBaseline
                ? [_registry.Create(new PassSpec("infer-shapes", new Dictionary<string, string>()))]
                : family switch
                {
                    MixedPrecisionConfig mp => MixedPrecisionPasses(mp, spec),
                    QuantizationConfig q => QuantizationPasses(q, spec),
                    null => throw new TuningException($"{_modelName}: candidate {spec.Key} names no precision family"),
                    _ => throw new TuningException($"{_modelName}: unknown precision family {family.GetType().Name}"),
                };
            new PassManager(passes).Run(model, new PassManagerOptions { Cancellation = cancellation });
            return model;
        }
        catch (PipelineException e)
        {
            model.Dispose();
            throw new TuningException($"{_modelName}: building candidate {spec.Key} failed: {e.Message}", e);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private List<IPass> MixedPrecisionPasses(MixedPrecisionConfig mp, CandidateSpec spec)
    {
        var low = PrecisionAnnotations.ElementType(mp.LowType);
        var options = new MarkPrecisionOptions { Fp32Nodes = NamePattern(spec.Fp32Nodes), Target = mp.Target };
        return
        [
            _registry.Create(new PassSpec("infer-shapes", new Dictionary<string, string>())),
            new MarkPrecisionPass(low, options),
            _registry.Create(new PassSpec("propagate-" + mp.LowType, new Dictionary<string, string>())),
            _registry.Create(new PassSpec("insert-casts", new Dictionary<string, string> { ["keep-io-types"] = mp.KeepIoTypes ? "true" : "false" })),
            _registry.Create(new PassSpec("fold-casts", new Dictionary<string, string>())),
        ];
    }

    private List<IPass> QuantizationPasses(QuantizationConfig q, CandidateSpec spec)
    {
        if (!HasInt8) throw new TuningException("INT8 is not available in this build (no partition-int8 pass is registered)");
        IReadOnlyList<PassSpec> specs;
        try
        {
            specs = PipelineParser.Parse(q.Pipeline);
        }
        catch (PipelineSyntaxException e)
        {
            throw new TuningException($"QuantizationConfig.Pipeline: {e.Message}", e);
        }
        int first = specs.Count > 0 && specs[0].Id == "infer-shapes" ? 1 : 0;
        if (specs.Count <= first || specs[first].Id != QuantizationConfig.PartitionPass)
            throw new TuningException($"QuantizationConfig.Pipeline '{q.Pipeline}' must start with {QuantizationConfig.PartitionPass} (after an optional infer-shapes)");
        var passes = new List<IPass>();
        for (int i = 0; i < specs.Count; i++)
        {
            var s = specs[i];
            if (i == first)
            {
                var options = new Dictionary<string, string>(s.Options, StringComparer.Ordinal);
                foreach (var (k, v) in q.PartitionOptions) options[k] = v;
                if (NamePattern(spec.Fp32Nodes) is { } rx) options[q.ExcludeOption] = rx.ToString();
                s = new PassSpec(s.Id, options);
            }
            try
            {
                passes.Add(_registry.Create(s));
            }
            catch (PipelineSyntaxException e)
            {
                throw new TuningException($"QuantizationConfig.Pipeline: {e.Message}", e);
            }
        }
        return passes;
    }

    /// <summary>A regex that matches exactly the given node names.</summary>
    public static Regex? NamePattern(IReadOnlyCollection<string> names) =>
        names.Count == 0 ? null : new Regex("^(?:" + string.Join("|", names.Select(Regex.Escape)) + ")$", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(5));
}
