using Alloy.IR;
using Alloy.Passes.Precision;

namespace Alloy.Tuning;

/// <summary>Per op type, how many nodes run in each precision (from the <c>prec</c> annotations, partition-int8's <c>i8</c> as <c>int8</c>; Casts left out).</summary>
public static class PrecisionTable
{
    public static SortedDictionary<string, SortedDictionary<string, int>> Of(Model m)
    {
        var table = new SortedDictionary<string, SortedDictionary<string, int>>(StringComparer.Ordinal);
        foreach (var g in m.Graph.SelfAndSubgraphs())
            foreach (var n in g.Nodes)
            {
                if (n.OpType == "Cast") continue;
                var prec = PrecisionAnnotations.PrecisionOf(n) ?? "other";
                if (prec == "i8") prec = "int8";
                if (!table.TryGetValue(n.OpType, out var row)) table[n.OpType] = row = new(StringComparer.Ordinal);
                row[prec] = row.GetValueOrDefault(prec) + 1;
            }
        return table;
    }
}
