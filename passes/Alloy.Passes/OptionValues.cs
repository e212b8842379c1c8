using System.Text.RegularExpressions;
using Alloy.Pipeline;

namespace Alloy.Passes;

/// <summary>Parsing of the list and regular-expression option values the passes share.</summary>
internal static class OptionValues
{
    /// <summary>A <c>;</c>-separated list of names (op types), trimmed, empty entries dropped.</summary>
    public static HashSet<string> List(string text) =>
        new(text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), StringComparer.Ordinal);

    /// <summary>A node-name pattern, or null when the option is empty; a bad pattern is a pipeline error naming the option.</summary>
    public static Regex? Pattern(string passId, string name, string text)
    {
        if (text.Length == 0) return null;
        try
        {
            return new Regex(text, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
        }
        catch (ArgumentException e)
        {
            throw new PipelineSyntaxException($"pass '{passId}': option '{name}' is not a valid regular expression: {e.Message}");
        }
    }
}
