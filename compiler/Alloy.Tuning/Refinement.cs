namespace Alloy.Tuning;

/// <summary>
/// The last step of both strategies: from the cheapest passing candidate of a family, return its FP32 layer
/// groups to low precision one at a time, the costliest first, keeping each return that still meets the target.
/// The result is never more expensive than the start.
/// </summary>
internal static class Refinement
{
    public static void Run(TuningSession session, FamilyContext f)
    {
        var start = session.Trials.Where(t => t.Passed && t.Spec.LowType == f.Low).OrderBy(t => t.RelativeBitOps).ThenBy(t => t.Index).FirstOrDefault();
        if (start is null || start.Spec.Fp32Nodes.IsEmpty) return;
        var current = start;
        var units = f.Graph.Groups
            .Select(g => g.Nodes.Where(current.Spec.Fp32Nodes.Contains).ToList())
            .Where(u => u.Count > 0)
            .OrderByDescending(u => u.Sum(n => f.Macs.GetValueOrDefault(n)))
            .ToList();
        foreach (var unit in units)
        {
            if (session.Exhausted) return;
            var spec = f.WithFp32(current.Spec.Fp32Nodes.Except(unit, StringComparer.Ordinal));
            var trial = session.Try(spec, f.Family, "refine", $"{f.Low}: return {unit[0]}{(unit.Count > 1 ? $" +{unit.Count - 1}" : "")} to {f.Low}");
            if (trial is null) return;
            if (trial.Passed && trial.RelativeBitOps <= current.RelativeBitOps) current = trial;
        }
    }
}
