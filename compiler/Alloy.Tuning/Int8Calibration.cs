using System.Globalization;
using Alloy.Calibration;
using Alloy.Onnx;

namespace Alloy.Tuning;

/// <summary>
/// Calibrates the INT8 families of a tuning run once, before anything is evaluated: runs <see cref="Calibrator"/>
/// (or reads its cache) on the source model and the family's calibration data, and gives each family the ranges
/// file and the key (method, parameters, data SHA-256) that its cache entries depend on. Bad calibration data stops
/// the run with a <see cref="TuningException"/> naming the file and the reason.
/// </summary>
internal sealed class Int8Calibration : IDisposable
{
    private readonly List<string> _temporary = [];

    /// <summary>Calibration results of this run, by data file and method (for the report).</summary>
    public List<CalibrationResult> Results { get; } = [];

    public IReadOnlyList<PrecisionConfig> Resolve(IReadOnlyList<PrecisionConfig> families, byte[] modelBytes, string? sourcePath, string modelName, string? tuneCache)
    {
        var resolved = new List<PrecisionConfig>();
        var done = new Dictionary<string, (string Ranges, string Key)>(StringComparer.Ordinal);
        foreach (var family in families)
        {
            if (family is not QuantizationConfig q)
            {
                resolved.Add(family);
                continue;
            }
            if (q.CalibrationData is null)
            {
                if (q.RangesFile is null) throw new TuningException($"{modelName}: INT8 tuning needs calibration data (QuantizationConfig.CalibrationData, --calib FILE.npy) or a ranges file");
                if (!File.Exists(q.RangesFile)) throw new TuningException($"{q.RangesFile}: ranges file not found");
                resolved.Add(q with { ResolvedRanges = Path.GetFullPath(q.RangesFile), CalibrationKey = "ranges:" + CalibrationCache.Sha256OfFile(q.RangesFile) });
                continue;
            }
            var options = q.Calibration with { CacheDirectory = q.Calibration.CacheDirectory ?? (tuneCache is null ? null : Path.Combine(tuneCache, "calibration")) };
            var method = options.Method == CalibrationMethod.Percentile
                ? string.Create(CultureInfo.InvariantCulture, $"percentile:{options.Percentile:R}:bins={options.Bins}")
                : options.Method is CalibrationMethod.MinMax ? "minmax" : string.Create(CultureInfo.InvariantCulture, $"{options.Method.Name()}:bins={options.Bins}");
            var id = q.CalibrationData + "\n" + method;
            if (!done.TryGetValue(id, out var entry))
            {
                var result = Calibrate(q.CalibrationData, options, modelBytes, sourcePath, modelName);
                Results.Add(result);
                var ranges = result.CachePath;
                if (ranges is null)
                {
                    ranges = Path.Combine(Path.GetTempPath(), $"alloy-tune-ranges-{Guid.NewGuid():N}.json");
                    CalibrationCache.Write(ranges, result, method);
                    _temporary.Add(ranges);
                }
                done[id] = entry = (ranges, $"{method}:{result.DataSha256}");
            }
            resolved.Add(q with { ResolvedRanges = entry.Ranges, CalibrationKey = entry.Key });
        }
        return resolved;
    }

    /// <summary>
    /// Calibrates the model file itself when the tuned model is that file unchanged (so the cache entry is the one
    /// <c>alloy compile --int8</c> uses), else a temporary copy of the model's bytes.
    /// </summary>
    private CalibrationResult Calibrate(string data, CalibrationOptions options, byte[] modelBytes, string? sourcePath, string modelName)
    {
        if (!File.Exists(data)) throw new TuningException($"{data}: calibration data not found");
        string? path = sourcePath is not null && File.Exists(sourcePath) && SameModel(sourcePath, modelBytes) ? sourcePath : null;
        if (path is null)
        {
            path = Path.Combine(Path.GetTempPath(), $"alloy-tune-model-{Guid.NewGuid():N}.onnx");
            File.WriteAllBytes(path, modelBytes);
            _temporary.Add(path);
        }
        try
        {
            return Calibrator.Run(path, data, options);
        }
        catch (CalibrationException e)
        {
            throw new TuningException($"{modelName}: calibration failed: {e.Message}", e);
        }
    }

    private static bool SameModel(string path, byte[] modelBytes)
    {
        try
        {
            using var m = OnnxImporter.Load(path);
            return OnnxWireWriter.ToBytes(m).AsSpan().SequenceEqual(modelBytes);
        }
        catch (Exception e) when (e is IOException or OnnxImportException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        foreach (var f in _temporary)
        {
            try { File.Delete(f); }
            catch (IOException) { }
        }
    }
}
