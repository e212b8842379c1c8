namespace Alloy.Calibration;

/// <summary>How calibration runs: the range method and its parameter, batch size, histogram resolution, cache folder.</summary>
public sealed record CalibrationOptions
{
    public CalibrationMethod Method { get; init; } = CalibrationMethod.MinMax;

    /// <summary>Percentile method: the upper percentile p in (50, 100]; the lower one is 100 − p.</summary>
    public double Percentile { get; init; } = 99.99;

    /// <summary>Rows of the calibration data run at once (a static batch dimension of the model overrides it).</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Histogram bins for the percentile, entropy and MSE methods.</summary>
    public int Bins { get; init; } = 2048;

    /// <summary>Folder of the statistics cache; null = no cache.</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>Threads the runtime uses (0 = all cores).</summary>
    public int Threads { get; init; }

    /// <summary>Receives progress lines (batches done); null = silent.</summary>
    public Action<string>? Progress { get; init; }

    internal void Validate()
    {
        if (!(Percentile > 50 && Percentile <= 100))
            throw new CalibrationException($"the percentile must be in (50, 100], not {Percentile}");
        if (BatchSize < 1) throw new CalibrationException($"the calibration batch size must be at least 1, not {BatchSize}");
        if (Bins < 256) throw new CalibrationException($"the histogram needs at least 256 bins, not {Bins}");
    }

    /// <summary>The part of the options that decides the statistics (the cache key includes it).</summary>
    internal string KeyText => Method switch
    {
        CalibrationMethod.MinMax => "minmax",
        CalibrationMethod.Percentile => FormattableString.Invariant($"percentile:{Percentile:R}:bins={Bins}"),
        _ => FormattableString.Invariant($"{Method.Name()}:bins={Bins}"),
    };
}
