using System.Text.RegularExpressions;
using Alloy.IR;
using Alloy.Onnx;
using Alloy.Passes;
using Alloy.Passes.Precision;
using Alloy.Passes.Quantization;
using Alloy.Pipeline;

namespace Alloy.Tuning;

/// <summary>
/// Builds the model of a candidate from the source model's serialized bytes: the unchanged model (after
/// infer-shapes) for the baseline, the mixed-precision pipeline with the FP32 nodes forced by name for BF16/FP16,
/// the INT8 pipeline of <c>alloy compile --int8</c> for INT8.
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
        var options = new MarkPrecisionOptions
        {
            Fp32Nodes = NamePattern(spec.Fp32Nodes),
            Target = mp.Target,
            Schema = mp.AllowNonstandardTypes ? TypeSchema.Alloy : TypeSchema.Onnx,
        };
        return
        [
            _registry.Create(new PassSpec("infer-shapes", new Dictionary<string, string>())),
            new MarkPrecisionPass(low, options),
            _registry.Create(new PassSpec("propagate-" + mp.LowType, new Dictionary<string, string>())),
            _registry.Create(new PassSpec("insert-casts", new Dictionary<string, string> { ["keep-io-types"] = mp.KeepIoTypes ? "true" : "false" })),
            _registry.Create(new PassSpec("fold-casts", new Dictionary<string, string>())),
        ];
    }

    /// <summary>
    /// The pipeline <c>alloy compile --int8</c> runs (<see cref="Int8Pipeline.Specs"/>): partition-int8 with the
    /// calibrated ranges and the candidate's fallen-back and kept nodes as <c>fp32-nodes</c>; with a rest type,
    /// mark/propagate that type with the kept nodes FP32, casts, fold-quantize-casts.
    /// </summary>
    private List<IPass> QuantizationPasses(QuantizationConfig q, CandidateSpec spec)
    {
        if (!HasInt8) throw new TuningException("INT8 is not available in this build (no partition-int8 pass is registered)");
        var ranges = q.ResolvedRanges ?? q.RangesFile
            ?? throw new TuningException($"{_modelName}: the INT8 family has no calibrated ranges (set QuantizationConfig.CalibrationData or RangesFile)");
        var partition = new Dictionary<string, string>(q.PartitionOptions, StringComparer.Ordinal) { ["ranges"] = ranges };
        if (NamePattern(spec.Fp32Nodes.Union(spec.KeptFp32).ToList()) is { } excluded) partition["fp32-nodes"] = excluded.ToString();
        Dictionary<string, string>? mark = null;
        if (q.RestType is not null)
        {
            mark = new Dictionary<string, string>(StringComparer.Ordinal);
            if (q.Target is { } target) mark["target"] = target;
            if (NamePattern(spec.KeptFp32) is { } kept) mark["fp32-nodes"] = kept.ToString();
        }
        try
        {
            return Int8Pipeline.Specs(partition, q.RestType, mark, q.KeepIoTypes).Select(s => _registry.Create(s)).ToList();
        }
        catch (PipelineSyntaxException e)
        {
            throw new TuningException($"{_modelName}: INT8 candidate {spec.Key}: {e.Message}", e);
        }
    }

    /// <summary>A regex that matches exactly the given node names.</summary>
    public static Regex? NamePattern(IReadOnlyCollection<string> names) =>
        names.Count == 0 ? null : new Regex("^(?:" + string.Join("|", names.Select(Regex.Escape)) + ")$", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(5));
}
