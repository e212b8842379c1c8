namespace Alloy.Pipeline;

/// <summary>One pass in a pipeline string: its id and options (<c>insert-casts(keep-io-types=true)</c>).</summary>
public sealed record PassSpec(string Id, IReadOnlyDictionary<string, string> Options)
{
    public override string ToString() => Options.Count == 0 ? Id : $"{Id}({string.Join(",", Options.Select(o => $"{o.Key}={o.Value}"))})";
}

/// <summary>A pipeline string could not be read or names an unknown pass.</summary>
public sealed class PipelineSyntaxException(string message) : Exception(message);

/// <summary>Reads pipeline strings: comma-separated pass ids, each optionally followed by <c>(key=value,...)</c>.</summary>
public static class PipelineParser
{
    public static IReadOnlyList<PassSpec> Parse(string pipeline)
    {
        var specs = new List<PassSpec>();
        int i = 0;
        while (i < pipeline.Length)
        {
            while (i < pipeline.Length && char.IsWhiteSpace(pipeline[i])) i++;
            int start = i;
            while (i < pipeline.Length && (char.IsLetterOrDigit(pipeline[i]) || pipeline[i] == '-')) i++;
            var id = pipeline[start..i];
            if (id.Length == 0) throw new PipelineSyntaxException($"pipeline '{pipeline}': expected a pass id at position {start}");
            var options = new Dictionary<string, string>(StringComparer.Ordinal);
            while (i < pipeline.Length && char.IsWhiteSpace(pipeline[i])) i++;
            if (i < pipeline.Length && pipeline[i] == '(')
            {
                int close = pipeline.IndexOf(')', i);
                if (close < 0) throw new PipelineSyntaxException($"pipeline '{pipeline}': '(' at position {i} is not closed");
                foreach (var part in pipeline[(i + 1)..close].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    var eq = part.IndexOf('=');
                    var key = eq < 0 ? part : part[..eq].Trim();
                    var value = eq < 0 ? "true" : part[(eq + 1)..].Trim();
                    if (!options.TryAdd(key, value)) throw new PipelineSyntaxException($"pipeline '{pipeline}': option '{key}' of '{id}' is given twice");
                }
                i = close + 1;
            }
            specs.Add(new PassSpec(id, options));
            while (i < pipeline.Length && char.IsWhiteSpace(pipeline[i])) i++;
            if (i < pipeline.Length)
            {
                if (pipeline[i] != ',') throw new PipelineSyntaxException($"pipeline '{pipeline}': expected ',' at position {i}");
                i++;
            }
        }
        if (specs.Count == 0) throw new PipelineSyntaxException("the pipeline is empty");
        return specs;
    }
}

/// <summary>Pass factories by id; creates pass managers from pipeline strings.</summary>
public sealed class PassRegistry
{
    private readonly Dictionary<string, (string Description, Func<IReadOnlyDictionary<string, string>, IPass> Create)> _passes = new(StringComparer.Ordinal);

    public void Register(string id, string description, Func<IReadOnlyDictionary<string, string>, IPass> create) => _passes[id] = (description, create);

    public IEnumerable<(string Id, string Description)> Passes => _passes.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => (p.Key, p.Value.Description));

    public PassManager Build(string pipeline) => Build(PipelineParser.Parse(pipeline));

    /// <summary>A pass manager for passes given directly (option values may hold any characters).</summary>
    public PassManager Build(IEnumerable<PassSpec> specs) => new(specs.Select(Create).ToList());

    public IPass Create(PassSpec spec) =>
        _passes.TryGetValue(spec.Id, out var p)
            ? p.Create(spec.Options)
            : throw new PipelineSyntaxException($"unknown pass '{spec.Id}' (known: {string.Join(", ", _passes.Keys.Order(StringComparer.Ordinal))})");
}
