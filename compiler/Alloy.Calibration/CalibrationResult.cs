using Alloy.Passes.Precision;

namespace Alloy.Calibration;

/// <summary>What calibration produced: the range of every observed float tensor (graph inputs and node results), by name.</summary>
public sealed record CalibrationResult(
    CalibrationMethod Method,
    long Samples,
    int Batches,
    IReadOnlyDictionary<string, ValueRange> Ranges,
    string ModelSha256,
    string DataSha256)
{
    /// <summary>True when the ranges came from the cache instead of running the model.</summary>
    public bool CacheHit { get; init; }

    /// <summary>The cache file holding these ranges (null without a cache).</summary>
    public string? CachePath { get; init; }

    /// <summary>Wall time of the calibration (zero on a cache hit).</summary>
    public TimeSpan Elapsed { get; init; }

    /// <summary>Non-finite activation elements the model produced on the calibration data (left out of the statistics).</summary>
    public long NonFiniteActivations { get; init; }
}
