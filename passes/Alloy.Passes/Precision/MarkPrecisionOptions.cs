using System.Text.RegularExpressions;
using Alloy.IR;
using Alloy.Pipeline;

namespace Alloy.Passes.Precision;

/// <summary>
/// What mark-bf16 / mark-fp16 take besides the policy table. In a pipeline string, list options use ';' between
/// entries (option values cannot contain ','): <c>mark-bf16(fp32-ops=Softmax;LayerNormalization,fp32-nodes=^/head/)</c>.
/// Hosts that need any character (a regex with ',' or ')') build the pass from this record directly.
/// </summary>
public sealed record MarkPrecisionOptions
{
    /// <summary>Op types forced to FP32 (<c>fp32-ops</c>, why = <c>override_op</c>).</summary>
    public IReadOnlySet<string> Fp32Ops { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>Op types forced to low precision (<c>low-ops</c>, why = <c>override_op</c>): painted allow.</summary>
    public IReadOnlySet<string> LowOps { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>Nodes whose name matches are forced to FP32 (<c>fp32-nodes</c>, why = <c>override_name</c>).</summary>
    public Regex? Fp32Nodes { get; init; }

    /// <summary>Nodes whose name matches are forced to low precision (<c>low-nodes</c>, why = <c>override_name</c>).</summary>
    public Regex? LowNodes { get; init; }

    /// <summary>Calibrated ranges by value name (<c>ranges=FILE.json</c>); null when no data was given.</summary>
    public IReadOnlyDictionary<string, ValueRange>? Ranges { get; init; }

    /// <summary>FP16 only: a value or weight whose largest magnitude exceeds this fraction of 65504 stays FP32 (<c>fp16-safe-fraction</c>, default 0.5).</summary>
    public double Fp16SafeFraction { get; init; } = 0.5;

    /// <summary>The named target of the kernel-availability rule (<c>target</c>: reference, native, icelake, sapphirerapids); null = every kernel available.</summary>
    public string? Target { get; init; }

    /// <summary>Count only native low-precision kernels (dot-product instructions) as available (<c>native-only</c>); allow-list contractions without them are demoted to infer.</summary>
    public bool NativeOnly { get; init; }

    /// <summary>A kernel-availability predicate to use instead of <see cref="Target"/> (for hosts that know their target's kernels).</summary>
    public Func<string, DataType, bool>? KernelAvailable { get; init; }

    /// <summary>The type schema the output must satisfy (<c>schema=onnx|alloy</c>, default onnx: nodes whose op does not admit the low type at the model's opset stay FP32).</summary>
    public TypeSchema Schema { get; init; } = TypeSchema.Onnx;

    /// <summary>The option names of mark-*.</summary>
    public static readonly IReadOnlyList<string> OptionNames = ["fp32-ops", "low-ops", "fp32-nodes", "low-nodes", "ranges", "fp16-safe-fraction", "target", "native-only", "schema"];

    /// <summary>Reads the options of a pipeline string; unknown options, bad regexes, unreadable range files and unknown targets are errors.</summary>
    public static MarkPrecisionOptions Parse(string passId, IReadOnlyDictionary<string, string> values)
    {
        var o = new PassOptions(passId, values);
        var fp32Ops = OptionValues.List(o.String("fp32-ops", ""));
        var lowOps = OptionValues.List(o.String("low-ops", ""));
        var fp32Nodes = OptionValues.Pattern(passId, "fp32-nodes", o.String("fp32-nodes", ""));
        var lowNodes = OptionValues.Pattern(passId, "low-nodes", o.String("low-nodes", ""));
        var rangesPath = o.String("ranges", "");
        var fraction = o.Double("fp16-safe-fraction", 0.5);
        var target = o.String("target", "");
        var nativeOnly = o.Bool("native-only", false);
        var schema = o.String("schema", "onnx") switch
        {
            "onnx" => TypeSchema.Onnx,
            "alloy" => TypeSchema.Alloy,
            var s => throw new PipelineSyntaxException($"pass '{passId}': option 'schema' must be onnx or alloy, not '{s}'"),
        };
        o.RejectUnknown();

        if (!(fraction > 0 && fraction <= 1))
            throw new PipelineSyntaxException($"pass '{passId}': option 'fp16-safe-fraction' must be in (0, 1], not {fraction}");
        if (target.Length > 0 && !KernelTargets.Names.Contains(target))
            throw new PipelineSyntaxException($"pass '{passId}': unknown target '{target}' (known: {string.Join(", ", KernelTargets.Names)})");
        var both = fp32Ops.Intersect(lowOps).ToList();
        if (both.Count > 0)
            throw new PipelineSyntaxException($"pass '{passId}': op type(s) {string.Join(", ", both)} are in both fp32-ops and low-ops");

        IReadOnlyDictionary<string, ValueRange>? ranges = null;
        if (rangesPath.Length > 0)
        {
            try
            {
                ranges = ValueRanges.Load(rangesPath);
            }
            catch (FormatException e)
            {
                throw new PipelineSyntaxException($"pass '{passId}': option 'ranges': {e.Message}");
            }
        }
        return new MarkPrecisionOptions
        {
            Fp32Ops = fp32Ops,
            LowOps = lowOps,
            Fp32Nodes = fp32Nodes,
            LowNodes = lowNodes,
            Ranges = ranges,
            Fp16SafeFraction = fraction,
            Target = target.Length > 0 ? target : null,
            NativeOnly = nativeOnly,
            Schema = schema,
        };
    }


    /// <summary>The kernel-availability predicate these options select (null = every kernel available).</summary>
    internal Func<string, DataType, bool>? Availability() =>
        KernelAvailable ?? (Target is { } t ? KernelTargets.Availability(t, NativeOnly) : NativeOnly ? KernelTargets.Availability("native", true) : null);
}
