namespace Alloy.Tuning;

/// <summary>
/// BF16 or FP16 with FP32 fallback: <c>new MixedPrecisionConfig(["bf16", "fp32"])</c>. Candidates are built by the
/// mixed-precision pipeline (infer-shapes, mark-*, propagate-*, insert-casts, fold-casts) with the fallen-back
/// nodes forced to FP32 by name.
/// </summary>
public sealed record MixedPrecisionConfig : PrecisionConfig
{
    public MixedPrecisionConfig(IReadOnlyList<string> dtypes)
    {
        var low = dtypes.Where(d => d != "fp32").Distinct(StringComparer.Ordinal).ToList();
        if (!dtypes.Contains("fp32"))
            throw new ArgumentException($"dtypes [{string.Join(", ", dtypes)}]: include fp32 (the fallback type)", nameof(dtypes));
        if (low.Count != 1 || low[0] is not ("bf16" or "fp16"))
            throw new ArgumentException($"dtypes [{string.Join(", ", dtypes)}]: give exactly one of bf16, fp16 besides fp32", nameof(dtypes));
        Dtypes = [.. dtypes];
        LowType = low[0];
    }

    public IReadOnlyList<string> Dtypes { get; }

    public override string LowType { get; }

    /// <summary>Keep graph inputs and outputs FP32 (<c>insert-casts(keep-io-types=true)</c>); on by default so the tuned model takes the same data.</summary>
    public bool KeepIoTypes { get; init; } = true;

    /// <summary>The named target of mark-*'s kernel-availability rule (reference, native, icelake, sapphirerapids); null = every kernel available.</summary>
    public string? Target { get; init; }

    /// <summary>
    /// Let ops run low even where the model's ONNX opset does not admit the type (<c>mark-*(schema=alloy)</c>): the
    /// tuned model is then for Alloy's runtime only. Off by default, so the tuned model is valid ONNX.
    /// </summary>
    public bool AllowNonstandardTypes { get; init; }
}
