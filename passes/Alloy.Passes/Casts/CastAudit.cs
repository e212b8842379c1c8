using Alloy.IR;
using static Alloy.Passes.Casts.CastGraph;

namespace Alloy.Passes.Casts;

/// <summary>One Cast → Cast pair: <c>source : From → Cast(Via) → Cast(To)</c>, in graph <c>Graph</c>.</summary>
public sealed record CastPair(string Graph, string Source, DataType From, DataType Via, DataType To)
{
    public override string ToString() => $"{Graph}: %{Source} : {From.ShortName()} → {Via.ShortName()} → {To.ShortName()}";
}

/// <summary>What <see cref="CastAudit.Scan"/> found.</summary>
public sealed record CastAuditReport(
    int Casts,
    IReadOnlyList<CastPair> ExactPairs,
    IReadOnlyList<CastPair> LossyPairs,
    IReadOnlyList<string> NoOps,
    IReadOnlyList<string> Duplicates)
{
    /// <summary>True when nothing fold-casts would remove is left.</summary>
    public bool Clean => ExactPairs.Count == 0 && NoOps.Count == 0 && Duplicates.Count == 0;
}

/// <summary>
/// Scans a model (every graph and body) for Casts: how many there are, Cast pairs whose intermediate type is exact
/// (foldable), rounding pairs (must stay), Casts to their operand's own type and duplicate Casts. A no-op Cast
/// whose result is a graph output and whose operand cannot take over the output's name is not reported (fold-casts
/// keeps it to keep the interface).
/// </summary>
public static class CastAudit
{
    public static CastAuditReport Scan(Model model)
    {
        int casts = 0;
        var exact = new List<CastPair>();
        var lossy = new List<CastPair>();
        var noOps = new List<string>();
        var duplicates = new List<string>();
        foreach (var g in model.Graph.SelfAndSubgraphs())
        {
            var seen = new HashSet<(Value, string)>();
            foreach (var n in g.Nodes)
            {
                if (!IsCast(n) || n.Inputs[0] is not { } x || CastTarget(n) is not { } to) continue;
                casts++;
                if (x.Kind == ValueKind.NodeResult && x.Producer is { } m && IsCast(m) && m.Inputs[0] is { } source
                    && Elem(source) is { } a && CastTarget(m) is { } b)
                    (b.RepresentsExactly(a) ? exact : lossy).Add(new CastPair(g.Name, source.Name, a, b, to));
                if (Elem(x) == to && CanReplace(n.Outputs[0], x)) noOps.Add($"{g.Name}: Cast of %{x.Name} to its own type {to.ShortName()}");
                var key = string.Join(";", n.Attributes.OrderBy(at => at.Name, StringComparer.Ordinal).Select(at => at.Name + "=" + at.Value));
                if (!seen.Add((x, key))) duplicates.Add($"{g.Name}: second Cast of %{x.Name} to {to.ShortName()}");
            }
        }
        return new CastAuditReport(casts, exact, lossy, noOps, duplicates);
    }
}
