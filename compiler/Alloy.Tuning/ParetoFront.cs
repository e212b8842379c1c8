namespace Alloy.Tuning;

/// <summary>The trials no other trial beats in both cost and metric.</summary>
public static class ParetoFront
{
    /// <summary>Trials (with a finite metric) for which no other trial is at most as expensive and at least as good, and strictly better in one of the two; by cost.</summary>
    public static IReadOnlyList<TrialRecord> Of(IReadOnlyList<TrialRecord> trials, bool higherIsBetter)
    {
        double Good(TrialRecord t) => higherIsBetter ? t.Metric : -t.Metric;
        var points = trials.Where(t => double.IsFinite(t.Metric)).ToList();
        return points.Where(p => !points.Any(q =>
                q.RelativeBitOps <= p.RelativeBitOps && Good(q) >= Good(p) && (q.RelativeBitOps < p.RelativeBitOps || Good(q) > Good(p))))
            .OrderBy(p => p.RelativeBitOps).ThenBy(p => p.Index).ToList();
    }
}
