using Alloy.IR;

namespace Alloy.TorchScript;

/// <summary>
/// What a TorchScript archive does not record: the element types and shapes of <c>forward</c>'s tensor
/// parameters. Dimensions may be symbolic (<c>Dim.Named("N")</c>) to keep a dynamic batch. Inputs not listed are
/// float32 of unknown rank; an op that fixes the rank (convolution, recurrent layers, pooling) or the element type
/// (embedding indices) refines them.
/// </summary>
public sealed record TorchScriptImportOptions
{
    public IReadOnlyDictionary<string, TensorType> InputTypes { get; init; } = new Dictionary<string, TensorType>();

    public static TorchScriptImportOptions Default { get; } = new();

    /// <summary>
    /// Options from input type specs such as <c>x=f32[N,1,8,8]</c> or <c>ids=i64[N,16]</c> (element type by its short
    /// IR name; each dimension a number or a symbol). Throws <see cref="FormatException"/> naming the bad spec.
    /// </summary>
    public static TorchScriptImportOptions Parse(IEnumerable<string> specs)
    {
        var types = new Dictionary<string, TensorType>(StringComparer.Ordinal);
        foreach (var raw in specs)
        {
            var spec = raw.Trim();
            if (spec.Length == 0) continue;
            int eq = spec.IndexOf('=');
            int open = spec.IndexOf('[');
            if (eq <= 0 || open < eq || !spec.EndsWith(']'))
                throw new FormatException($"input type '{spec}' is not NAME=TYPE[DIMS] (for example x=f32[N,1,8,8])");
            var name = spec[..eq];
            var typeName = spec[(eq + 1)..open];
            if (!DataTypes.TryParseShortName(typeName, out var elementType))
                throw new FormatException($"input type '{spec}': '{typeName}' is not an element type (f32, f16, bf16, i64, i32, bool, …)");
            var inner = spec[(open + 1)..^1];
            var dims = inner.Length == 0 ? [] : inner.Split(',').Select(d =>
            {
                d = d.Trim();
                if (long.TryParse(d, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n)) return Dim.Of(n);
                if (d.Length > 0 && (char.IsLetter(d[0]) || d[0] == '_') && d.All(c => char.IsLetterOrDigit(c) || c == '_')) return Dim.Named(d);
                throw new FormatException($"input type '{spec}': dimension '{d}' is neither a size nor a symbol");
            }).ToArray();
            if (!types.TryAdd(name, new TensorType(elementType, new Shape(dims))))
                throw new FormatException($"input '{name}' is given twice");
        }
        return new TorchScriptImportOptions { InputTypes = types };
    }
}
