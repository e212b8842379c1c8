using System.Text.RegularExpressions;
using Alloy.Passes.Precision;
using Alloy.Pipeline;

namespace Alloy.Passes.Quantization;

/// <summary>How activations are quantized.</summary>
public enum ActivationScheme
{
    /// <summary>uint8 with a zero point: the range [min(lo, 0), max(hi, 0)] maps onto 0..255.</summary>
    UInt8Asymmetric,
    /// <summary>int8, zero point 0: [−m, m] maps onto −127..127 with m = max(|lo|, |hi|).</summary>
    Int8Symmetric,
}

/// <summary>
/// What partition-int8 takes. In a pipeline string list options use ';' between entries:
/// <c>partition-int8(ranges=calib.json,fp32-ops=Gemm,fp32-nodes=^/head/,activations=s8)</c>.
/// </summary>
public sealed record PartitionInt8Options
{
    /// <summary>The ops that run INT8 by default.</summary>
    public static readonly IReadOnlySet<string> DefaultInt8Ops = new HashSet<string>(StringComparer.Ordinal) { "Conv", "MatMul", "Gemm" };

    /// <summary>Ops that can carry INT8 between INT8 ops without changing the quantization (shared scale).</summary>
    public static readonly IReadOnlySet<string> CarryOps = new HashSet<string>(StringComparer.Ordinal) { "MaxPool", "Reshape", "Transpose", "Flatten", "Concat" };

    /// <summary>Calibrated ranges by value name; a compute node whose activation operands have none stays FP32.</summary>
    public IReadOnlyDictionary<string, ValueRange> Ranges { get; init; } = new Dictionary<string, ValueRange>();

    /// <summary>Compute op types that run INT8 (<c>int8-ops</c>; default Conv, MatMul, Gemm).</summary>
    public IReadOnlySet<string> Int8Ops { get; init; } = DefaultInt8Ops;

    /// <summary>Op types that stay FP32 (<c>fp32-ops</c>), compute or carry ops.</summary>
    public IReadOnlySet<string> Fp32Ops { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>Nodes whose name matches run INT8 when they can (<c>int8-nodes</c>), whatever their op type's default.</summary>
    public Regex? Int8Nodes { get; init; }

    /// <summary>Nodes whose name matches stay FP32 (<c>fp32-nodes</c>).</summary>
    public Regex? Fp32Nodes { get; init; }

    public ActivationScheme Activations { get; init; } = ActivationScheme.UInt8Asymmetric;

    /// <summary>Per-output-channel weight scales (<c>per-channel</c>, default true; needs opset ≥ 13).</summary>
    public bool PerChannel { get; init; } = true;

    /// <summary>Round every activation scale up to a BF16-representable value (<c>bf16-scales</c>), so DequantizeLinear can produce BF16 and QuantizeLinear consume it exactly.</summary>
    public bool Bf16Scales { get; init; }

    public static readonly IReadOnlyList<string> OptionNames = ["ranges", "inline-ranges", "int8-ops", "fp32-ops", "int8-nodes", "fp32-nodes", "activations", "per-channel", "bf16-scales"];

    public static PartitionInt8Options Parse(string passId, IReadOnlyDictionary<string, string> values)
    {
        var o = new PassOptions(passId, values);
        var rangesPath = o.String("ranges", "");
        var inline = o.String("inline-ranges", "");
        var int8Ops = o.String("int8-ops", "");
        var fp32Ops = OptionValues.List(o.String("fp32-ops", ""));
        var int8Nodes = OptionValues.Pattern(passId, "int8-nodes", o.String("int8-nodes", ""));
        var fp32Nodes = OptionValues.Pattern(passId, "fp32-nodes", o.String("fp32-nodes", ""));
        var activations = o.String("activations", "u8");
        var perChannel = o.Bool("per-channel", true);
        var bf16Scales = o.Bool("bf16-scales", false);
        o.RejectUnknown();

        var ranges = new Dictionary<string, ValueRange>(StringComparer.Ordinal);
        try
        {
            if (rangesPath.Length > 0)
                foreach (var (k, v) in CalibratedRanges.Load(rangesPath)) ranges[k] = v;
            if (inline.Length > 0)
                foreach (var (k, v) in CalibratedRanges.ParseInline(inline)) ranges[k] = v;
        }
        catch (FormatException e)
        {
            throw new PipelineSyntaxException($"pass '{passId}': {e.Message}");
        }
        var ops = int8Ops.Length > 0 ? OptionValues.List(int8Ops) : new HashSet<string>(DefaultInt8Ops, StringComparer.Ordinal);
        foreach (var op in ops)
            if (!DefaultInt8Ops.Contains(op))
                throw new PipelineSyntaxException($"pass '{passId}': option 'int8-ops': '{op}' has no INT8 form (INT8 ops: {string.Join(", ", DefaultInt8Ops.Order(StringComparer.Ordinal))})");
        var both = ops.Intersect(fp32Ops).ToList();
        if (int8Ops.Length > 0 && both.Count > 0)
            throw new PipelineSyntaxException($"pass '{passId}': op type(s) {string.Join(", ", both)} are in both int8-ops and fp32-ops");
        return new PartitionInt8Options
        {
            Ranges = ranges,
            Int8Ops = ops,
            Fp32Ops = fp32Ops,
            Int8Nodes = int8Nodes,
            Fp32Nodes = fp32Nodes,
            Activations = activations switch
            {
                "u8" or "uint8" => ActivationScheme.UInt8Asymmetric,
                "s8" or "int8" => ActivationScheme.Int8Symmetric,
                _ => throw new PipelineSyntaxException($"pass '{passId}': option 'activations' must be u8 (asymmetric) or s8 (symmetric), not '{activations}'"),
            },
            PerChannel = perChannel,
            Bf16Scales = bf16Scales,
        };
    }
}
