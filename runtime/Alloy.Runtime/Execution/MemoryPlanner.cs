namespace Alloy.Runtime.Execution;

/// <summary>
/// Liveness-based arena assignment for the values a plan's steps produce. A value lives from the step that produces
/// it to the step that last reads it (both included); values are placed largest first, each at the lowest 64-byte
/// aligned offset where it overlaps no already placed value whose lifetime intersects its own ("greedy by size").
/// Values of unknown size (null) and the plan's outputs are left to the heap.
/// </summary>
public static class MemoryPlanner
{
    private const long Alignment = 64;

    /// <summary>A value to place: its slot, the step producing it, the last step reading it, its size in bytes.</summary>
    public readonly record struct Lifetime(int Slot, int Producer, int LastUse, long Bytes);

    /// <summary>Plans the arena for <paramref name="values"/> of a plan with <paramref name="stepCount"/> steps.</summary>
    public static MemoryPlan Plan(int stepCount, IReadOnlyList<Lifetime> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var order = values.Where(v => v.Bytes > 0).OrderByDescending(v => v.Bytes).ThenBy(v => v.Producer).ThenBy(v => v.Slot).ToList();
        var placed = new List<(Lifetime Value, long Offset)>();
        long arena = 0;
        var conflicts = new List<(long Start, long End)>();
        foreach (var v in order)
        {
            conflicts.Clear();
            foreach (var (p, offset) in placed)
                if (p.Producer <= v.LastUse && v.Producer <= p.LastUse) conflicts.Add((offset, offset + p.Bytes));
            conflicts.Sort();
            long at = 0;
            foreach (var (start, end) in conflicts)
            {
                if (at + v.Bytes <= start) break;
                at = Math.Max(at, Align(end));
            }
            placed.Add((v, at));
            arena = Math.Max(arena, at + v.Bytes);
        }

        var perStep = new List<ArenaBlock>[stepCount];
        for (int i = 0; i < stepCount; i++) perStep[i] = [];
        foreach (var (v, offset) in placed) perStep[v.Producer].Add(new ArenaBlock(v.Slot, offset, v.Bytes));

        long unshared = order.Sum(v => v.Bytes), peak = 0;
        var delta = new long[stepCount + 1];
        foreach (var v in order)
        {
            delta[v.Producer] += v.Bytes;
            delta[Math.Min(stepCount, v.LastUse + 1)] -= v.Bytes;
        }
        long live = 0;
        for (int i = 0; i < stepCount; i++)
        {
            live += delta[i];
            peak = Math.Max(peak, live);
        }
        return new MemoryPlan(Align(arena), perStep.Select(l => l.ToArray()).ToArray(), unshared, peak);
    }

    private static long Align(long bytes) => (bytes + Alignment - 1) / Alignment * Alignment;
}
