using Alloy.Pipeline;

namespace Alloy.Passes.Quantization;

/// <summary>
/// The INT8 pipelines as pass specs: <c>infer-shapes, partition-int8</c>, and with a low type
/// <c>infer-shapes, partition-int8, mark-T, propagate-T, insert-casts, fold-casts, fold-quantize-casts</c> (the BF16/FP16 passes leave the
/// <c>prec = i8</c> nodes alone; fold-casts lets DequantizeLinear produce the low type and fold-quantize-casts lets
/// QuantizeLinear consume it directly where the opset allows, opset 19 and later).
/// </summary>
public static class Int8Pipeline
{
    /// <param name="partition">Options of partition-int8 (at least <c>ranges</c>); <c>bf16-scales</c> is added for BF16.</param>
    /// <param name="low">"bf16", "fp16" or null for INT8 + FP32 only.</param>
    /// <param name="mark">Options of mark-T (overrides, target).</param>
    public static IReadOnlyList<PassSpec> Specs(IReadOnlyDictionary<string, string> partition, string? low = null,
        IReadOnlyDictionary<string, string>? mark = null, bool keepIoTypes = true)
    {
        var p = new Dictionary<string, string>(partition, StringComparer.Ordinal);
        if (low == "bf16") p.TryAdd("bf16-scales", "true");
        var specs = new List<PassSpec>
        {
            new("infer-shapes", new Dictionary<string, string>()),
            new(PartitionInt8Pass.PassId, p),
        };
        if (low is not null)
        {
            specs.Add(new($"mark-{low}", mark ?? new Dictionary<string, string>()));
            specs.Add(new($"propagate-{low}", new Dictionary<string, string>()));
            specs.Add(new("insert-casts", new Dictionary<string, string> { ["keep-io-types"] = keepIoTypes ? "true" : "false" }));
            specs.Add(new("fold-casts", new Dictionary<string, string>()));
            specs.Add(new(FoldQuantizeCastsPass.PassId, new Dictionary<string, string>()));
        }
        return specs;
    }
}
