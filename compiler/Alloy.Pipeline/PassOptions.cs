using System.Globalization;

namespace Alloy.Pipeline;

/// <summary>Typed reading of a pass's options; an unknown option or a bad value is a <see cref="PipelineSyntaxException"/>.</summary>
public sealed class PassOptions(string passId, IReadOnlyDictionary<string, string> values)
{
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    public bool Bool(string name, bool fallback)
    {
        _read.Add(name);
        if (!values.TryGetValue(name, out var v)) return fallback;
        return v switch
        {
            "true" or "1" or "yes" => true,
            "false" or "0" or "no" => false,
            _ => throw new PipelineSyntaxException($"pass '{passId}': option '{name}' must be true or false, not '{v}'"),
        };
    }

    public string String(string name, string fallback)
    {
        _read.Add(name);
        return values.TryGetValue(name, out var v) ? v : fallback;
    }

    public double Double(string name, double fallback)
    {
        _read.Add(name);
        if (!values.TryGetValue(name, out var v)) return fallback;
        return double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)
            ? d : throw new PipelineSyntaxException($"pass '{passId}': option '{name}' must be a number, not '{v}'");
    }

    /// <summary>Call after reading every option: rejects options the pass does not know.</summary>
    public void RejectUnknown()
    {
        foreach (var key in values.Keys)
            if (!_read.Contains(key))
                throw new PipelineSyntaxException($"pass '{passId}' has no option '{key}' (options: {string.Join(", ", _read.Order(StringComparer.Ordinal))})");
    }
}
