using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Alloy.Onnx;
using Alloy.Passes.Precision;

namespace Alloy.Calibration;

/// <summary>
/// Calibrated ranges on disk, one JSON file per (model hash, data hash, method and its parameters), written
/// atomically. The file holds the key parts and a <c>ranges</c> object mapping value names to <c>[min, max]</c>, which
/// partition-int8 reads directly (<c>ranges=FILE</c>).
/// </summary>
public static class CalibrationCache
{
    public static string Sha256OfFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    public static string Key(string modelSha256, string dataSha256, string methodKey) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{modelSha256}\n{dataSha256}\n{methodKey}")))[..32];

    public static string PathFor(string directory, string methodName, string key) => Path.Combine(directory, $"{methodName}-{key}.json");

    /// <summary>The cached result, or null when there is none or it cannot be read (a damaged entry is recomputed).</summary>
    public static CalibrationResult? TryRead(string path)
    {
        if (!File.Exists(path)) return null;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var root = doc.RootElement;
            var ranges = ValueRanges.Parse(root.GetProperty("ranges").GetRawText(), path);
            return new CalibrationResult(
                CalibrationMethods.Parse(root.GetProperty("method").GetString()!),
                root.GetProperty("samples").GetInt64(),
                root.GetProperty("batches").GetInt32(),
                ranges,
                root.GetProperty("model_sha256").GetString()!,
                root.GetProperty("data_sha256").GetString()!)
            { CacheHit = true, CachePath = path };
        }
        catch (Exception e) when (e is JsonException or FormatException or KeyNotFoundException or InvalidOperationException or CalibrationException or IOException)
        {
            return null;
        }
    }

    public static void Write(string path, CalibrationResult result, string methodKey)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("model_sha256", result.ModelSha256);
            w.WriteString("data_sha256", result.DataSha256);
            w.WriteString("method", result.Method.Name());
            w.WriteString("method_key", methodKey);
            w.WriteNumber("samples", result.Samples);
            w.WriteNumber("batches", result.Batches);
            w.WriteStartObject("ranges");
            foreach (var (name, r) in result.Ranges.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                w.WriteStartArray(name);
                w.WriteRawValue(Number(r.Min));
                w.WriteRawValue(Number(r.Max));
                w.WriteEndArray();
            }
            w.WriteEndObject();
            w.WriteEndObject();
        }
        AtomicFile.Write(path, s => s.Write(ms.GetBuffer(), 0, (int)ms.Length));
    }

    private static string Number(double d) => d.ToString("R", CultureInfo.InvariantCulture);
}
