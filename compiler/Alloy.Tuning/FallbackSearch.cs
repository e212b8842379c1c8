namespace Alloy.Tuning;

/// <summary>
/// <see cref="TuningStrategy.Fallback"/>: everything low precision; if that misses the target, each op type in
/// FP32 alone (which measures each op type's sensitivity); if none passes, each layer group in FP32 alone, in
/// order of its op type's sensitivity; if none passes, groups fall back cumulatively, most helpful first, until
/// the target is met. Then <see cref="Refinement"/> lowers what it can again.
/// </summary>
internal static class FallbackSearch
{
    public static void Run(TuningSession session, FamilyContext f)
    {
        var all = session.Try(f.AllLow, f.Family, "all-low", $"all {f.Low}");
        if (all is null || all.Passed) return;

        // 1. One op type in FP32 at a time: a candidate and a sensitivity measurement at once.
        var byOpType = new List<(string OpType, TrialRecord Trial)>();
        foreach (var op in f.Graph.OpTypes)
        {
            var t = session.Try(f.WithFp32(f.Graph.NodesOfType(op)), f.Family, "op-type", $"{f.Low}, {op} in fp32");
            if (t is null) break;
            byOpType.Add((op, t));
        }
        if (!byOpType.Any(p => p.Trial.Passed) && !session.Exhausted)
        {
            // 2. One layer group in FP32 at a time, groups of the most sensitive op types first.
            var rank = byOpType.OrderByDescending(p => Goodness(session, p.Trial.Metric)).Select((p, i) => (p.OpType, i)).ToDictionary(p => p.OpType, p => p.i);
            var groups = f.Graph.Groups
                .OrderBy(g => g.OpTypes.Select(o => rank.GetValueOrDefault(o, int.MaxValue)).Min())
                .ThenBy(g => g.Index).ToList();
            var byGroup = new List<(LayerGroup Group, TrialRecord Trial)>();
            foreach (var g in groups)
            {
                var t = session.Try(f.WithFp32(g.Nodes), f.Family, "group", $"{f.Low}, {g.Label} in fp32");
                if (t is null) break;
                byGroup.Add((g, t));
            }
            if (!byGroup.Any(p => p.Trial.Passed) && !session.Exhausted)
            {
                // 3. Cumulative fallback: groups whose own fallback helped most first.
                var order = byGroup.OrderByDescending(p => Goodness(session, p.Trial.Metric)).ThenBy(p => p.Group.Index).Select(p => p.Group)
                    .Concat(f.Graph.Groups.Where(g => byGroup.All(p => p.Group != g))).ToList();
                var fp32 = new List<string>();
                for (int k = 0; k < order.Count; k++)
                {
                    fp32.AddRange(order[k].Nodes);
                    var t = session.Try(f.WithFp32(fp32), f.Family, "cumulative", $"{f.Low}, {k + 1} most sensitive groups in fp32");
                    if (t is null || t.Passed) break;
                }
            }
        }
        Refinement.Run(session, f);
    }

    /// <summary>A metric turned so that larger is better (NaN worst).</summary>
    internal static double Goodness(TuningSession session, double metric) =>
        double.IsNaN(metric) ? double.NegativeInfinity : session.Config.HigherIsBetter ? metric : -metric;
}
