namespace Alloy.Tuning;

/// <summary>
/// INT8 with FP32 fallback. A candidate is built by running <see cref="Pipeline"/>, which must start with
/// <c>partition-int8</c> (after an optional <c>infer-shapes</c>); the nodes a candidate keeps in FP32 are passed to
/// partition-int8 as a node-name regex through its <see cref="ExcludeOption"/> option. Tuning with this family
/// needs a build whose pass registry has <c>partition-int8</c>; otherwise it stops with "INT8 is not available in
/// this build".
/// </summary>
public sealed record QuantizationConfig : PrecisionConfig
{
    public const string PartitionPass = "partition-int8";

    public override string LowType => "int8";

    /// <summary>The pipeline that builds an INT8 candidate.</summary>
    public string Pipeline { get; init; } = "infer-shapes,partition-int8,insert-casts(keep-io-types=true),fold-casts";

    /// <summary>Options given to partition-int8 on every candidate (calibration data, range method).</summary>
    public IReadOnlyDictionary<string, string> PartitionOptions { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>The partition-int8 option that takes the regex of node names to keep FP32.</summary>
    public string ExcludeOption { get; init; } = "fp32-nodes";
}
