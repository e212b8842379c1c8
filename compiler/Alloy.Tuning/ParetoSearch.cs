namespace Alloy.Tuning;

/// <summary>
/// <see cref="TuningStrategy.Pareto"/> (automatic mixed precision). Phase 1 measures each layer group's
/// sensitivity: the sensitivity metric with only that group low and everything else FP32, cached on disk.
/// Phase 2 walks the curve of candidates that keep the k most sensitive groups FP32 (relative bit-ops rise with k)
/// against the real metric: k = 0, then 1, 2, 4, … until a candidate meets the target, then every k between the
/// last miss and that hit in order, so the cheapest passing k of the curve is found even where the curve is not
/// monotone. Every evaluated point is kept for the front. Then <see cref="Refinement"/>.
/// </summary>
internal static class ParetoSearch
{
    public static void Run(TuningSession session, FamilyContext f)
    {
        // Phase 1.
        var cache = session.OpenSensitivityCache();
        var measured = new List<GroupSensitivity>();
        foreach (var g in f.Graph.Groups)
        {
            var s = session.Sensitivity(cache, f.Family, g, f.OnlyLow(g));
            if (s is null) break;
            measured.Add(s);
        }
        bool higherIsBetter = session.Config.SensitivityMetric == SensitivityMetric.Sqnr || session.Config.HigherIsBetter;
        var order = measured.OrderBy(s => double.IsNaN(s.Value) ? double.NegativeInfinity : higherIsBetter ? s.Value : -s.Value)
            .ThenBy(s => s.Group.Index).Select(s => s.Group)
            .Concat(f.Graph.Groups.Where(g => measured.All(s => s.Group != g))).ToList();

        // Phase 2.
        TrialRecord? Point(int k)
        {
            var spec = f.WithFp32(order.Take(k).SelectMany(g => g.Nodes));
            return session.Try(spec, f.Family, "pareto", k == 0 ? $"all {f.Low}" : $"{f.Low}, {k} most sensitive group{(k > 1 ? "s" : "")} in fp32");
        }
        var first = Point(0);
        if (first is null || first.Passed) return;
        int miss = 0, hit = -1;
        for (int step = 1; ; step *= 2)
        {
            int k = Math.Min(step, order.Count);
            var t = Point(k);
            if (t is null) break;
            if (t.Passed)
            {
                hit = k;
                break;
            }
            miss = k;
            if (k == order.Count) break;
        }
        if (hit > 0)
            for (int k = miss + 1; k < hit; k++)
            {
                var t = Point(k);
                if (t is null || t.Passed) break;
            }
        Refinement.Run(session, f);
    }
}
