using Alloy.Calibration;

namespace Alloy.Tuning;

/// <summary>
/// INT8 with a fallback: Conv / MatMul / Gemm run INT8 (QDQ) from calibrated ranges, and the layer groups the
/// search takes out of INT8 run FP32 (<see cref="RestType"/> null, <c>--dtype int8</c>) or the rest type
/// (<c>bf16</c> / <c>fp16</c>: INT8 where it holds the metric, else the rest type, else FP32). The tuner calibrates
/// once per run with <see cref="Calibrator"/> (cached on disk) and builds every candidate with
/// <c>Int8Pipeline.Specs</c>, the pipeline <c>alloy compile --int8 --calib</c> runs, with the fallen-back nodes in
/// partition-int8's <c>fp32-nodes</c>.
/// </summary>
public sealed record QuantizationConfig : PrecisionConfig
{
    public const string PartitionPass = "partition-int8";

    public QuantizationConfig()
    {
    }

    /// <param name="calibrationData">Calibration inputs (<c>.npy</c>, samples along dimension 0) for the model's single input.</param>
    public QuantizationConfig(string calibrationData) => CalibrationData = calibrationData;

    /// <summary><c>int8</c>, or <c>int8+bf16</c> / <c>int8+fp16</c> with a <see cref="RestType"/>.</summary>
    public override string LowType => RestType is null ? "int8" : "int8+" + RestType;

    /// <summary>partition-int8 marks its nodes <c>prec = i8</c>.</summary>
    public override string PrecisionAnnotation => "i8";

    /// <summary>Calibration inputs (<c>.npy</c>); required unless <see cref="RangesFile"/> is given.</summary>
    public string? CalibrationData { get; init; }

    /// <summary>Ranges already calibrated (a calibration cache file or <c>{"ranges": {name: [min, max]}}</c>), instead of <see cref="CalibrationData"/>.</summary>
    public string? RangesFile { get; init; }

    /// <summary>Calibration method, its percentile, batch size; <see cref="CalibrationOptions.CacheDirectory"/> null = <c>TuningConfig.CacheDirectory/calibration</c>.</summary>
    public CalibrationOptions Calibration { get; init; } = new();

    /// <summary>What nodes taken out of INT8 run: null = FP32; <c>bf16</c> or <c>fp16</c> = that type, except the FP32 nodes the same run's search of that type's family chose.</summary>
    public string? RestType { get; init; }

    /// <summary>Further options of partition-int8 on every candidate (<c>activations</c>, <c>int8-ops</c>, <c>per-channel</c>).</summary>
    public IReadOnlyDictionary<string, string> PartitionOptions { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>The mark-* target (kernel availability) for the rest type.</summary>
    public string? Target { get; init; }

    /// <summary>Keep graph inputs and outputs FP32 when a rest type is set.</summary>
    public bool KeepIoTypes { get; init; } = true;

    /// <summary>The ranges file candidates are built with (set by the tuner after calibrating).</summary>
    internal string? ResolvedRanges { get; init; }

    /// <summary>What decides the ranges (method and parameters, data SHA-256), for the cache keys (set by the tuner).</summary>
    internal string CalibrationKey { get; init; } = "";
}
