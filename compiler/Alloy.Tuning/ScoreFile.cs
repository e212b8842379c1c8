using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Alloy.Onnx;

namespace Alloy.Tuning;

/// <summary>
/// A JSON file of scores by key (evaluation history, sensitivity cache) with a header saying what it belongs
/// to. Rewritten atomically (temporary file + rename) after every new score, so an interrupted run — even one
/// killed with SIGKILL — loses at most the evaluation in flight.
/// </summary>
internal sealed class ScoreFile
{
    private readonly Dictionary<string, double> _scores = new(StringComparer.Ordinal);
    private readonly IReadOnlyDictionary<string, string> _header;
    private readonly object _lock = new();

    private ScoreFile(string? path, IReadOnlyDictionary<string, string> header)
    {
        Path = path;
        _header = header;
    }

    /// <summary>Null when nothing is persisted.</summary>
    public string? Path { get; }

    public int Count => _scores.Count;

    /// <summary>Opens (or starts) the file <paramref name="name"/> in <paramref name="folder"/>; a clean start ignores what is there.</summary>
    public static ScoreFile Open(string? folder, string name, IReadOnlyDictionary<string, string> header, bool cleanStart)
    {
        var file = new ScoreFile(folder is null ? null : System.IO.Path.Combine(folder, name), header);
        if (file.Path is null || cleanStart || !File.Exists(file.Path)) return file;
        try
        {
            var root = JsonNode.Parse(File.ReadAllText(file.Path)) as JsonObject;
            if (root?["scores"] is JsonObject scores)
                foreach (var (key, value) in scores)
                    if (value is JsonValue v && Number(v) is { } d) file._scores[key] = d;
        }
        catch (JsonException e)
        {
            throw new TuningException($"{file.Path}: the tuning cache is not valid JSON ({e.Message}); delete it or use a clean start");
        }
        return file;
    }

    public bool TryGet(string key, out double value)
    {
        lock (_lock) return _scores.TryGetValue(key, out value);
    }

    public void Set(string key, double value)
    {
        lock (_lock)
        {
            _scores[key] = value;
            if (Path is not null) AtomicFile.WriteAllText(Path, Serialize());
        }
    }

    private string Serialize()
    {
        var sb = new StringBuilder();
        sb.Append("{\n");
        foreach (var (k, v) in _header) sb.Append("  ").Append(JsonSerializer.Serialize(k)).Append(": ").Append(JsonSerializer.Serialize(v)).Append(",\n");
        sb.Append("  \"scores\": {");
        bool first = true;
        foreach (var (k, v) in _scores.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            sb.Append(first ? "\n    " : ",\n    ").Append(JsonSerializer.Serialize(k)).Append(": ").Append(Format(v));
            first = false;
        }
        sb.Append(first ? "}\n}\n" : "\n  }\n}\n");
        return sb.ToString();
    }

    /// <summary>Numbers in JSON; the non-finite ones as the strings "NaN", "Infinity", "-Infinity".</summary>
    internal static string Format(double v) =>
        double.IsFinite(v) ? v.ToString("R", CultureInfo.InvariantCulture) : JsonSerializer.Serialize(v.ToString(CultureInfo.InvariantCulture));

    private static double? Number(JsonValue v)
    {
        if (v.TryGetValue<double>(out var d)) return d;
        if (v.TryGetValue<string>(out var s) && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out d)) return d;
        return null;
    }
}
