using System.Globalization;
using System.Text.Json;
using Alloy.Passes.Precision;

namespace Alloy.Passes.Quantization;

/// <summary>
/// Reads calibrated ranges for partition-int8: a JSON object mapping value names to <c>[min, max]</c> (the
/// <see cref="ValueRanges"/> format), or a calibration file whose <c>ranges</c> member is such an object; or the
/// inline form <c>name:min:max;name:min:max</c> of the <c>inline-ranges</c> option.
/// </summary>
public static class CalibratedRanges
{
    public static IReadOnlyDictionary<string, ValueRange> Load(string path)
    {
        var text = ValueRanges.ReadFile(path);
        try
        {
            using var doc = JsonDocument.Parse(text);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("ranges", out var ranges) && ranges.ValueKind == JsonValueKind.Object)
                return ValueRanges.Parse(ranges.GetRawText(), path);
        }
        catch (JsonException e)
        {
            throw new FormatException($"{path}: not valid JSON: {e.Message}", e);
        }
        return ValueRanges.Parse(text, path);
    }

    public static IReadOnlyDictionary<string, ValueRange> ParseInline(string text)
    {
        var result = new Dictionary<string, ValueRange>(StringComparer.Ordinal);
        foreach (var entry in text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int hiColon = entry.LastIndexOf(':');
            int loColon = hiColon > 0 ? entry.LastIndexOf(':', hiColon - 1) : -1;
            if (loColon <= 0
                || !double.TryParse(entry[(loColon + 1)..hiColon], NumberStyles.Float, CultureInfo.InvariantCulture, out var lo)
                || !double.TryParse(entry[(hiColon + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var hi))
                throw new FormatException($"inline range '{entry}' must be name:min:max");
            if (!(lo <= hi)) throw new FormatException($"inline range '{entry}' has min above max");
            result[entry[..loColon]] = new ValueRange(lo, hi);
        }
        return result;
    }
}
