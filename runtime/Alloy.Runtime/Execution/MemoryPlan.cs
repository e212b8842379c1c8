namespace Alloy.Runtime.Execution;

/// <summary>A value's place in the arena: the slot it fills, its byte offset (64-byte aligned) and size.</summary>
public readonly record struct ArenaBlock(int Slot, long Offset, long Bytes);

/// <summary>
/// Where the intermediate values of a plan live: one arena of <see cref="ArenaBytes"/> bytes, and for each step the
/// blocks its results are to occupy. Two values share bytes only when their lifetimes (from the step that produces a
/// value to the step that last reads it, both included) do not overlap. Values whose size is not known when the plan
/// is compiled (dynamic shapes), graph outputs and strings are not planned and use the native heap.
/// </summary>
public sealed class MemoryPlan
{
    public MemoryPlan(long arenaBytes, IReadOnlyList<ArenaBlock[]> stepResults, long unsharedBytes, long peakLiveBytes)
    {
        ArenaBytes = arenaBytes;
        StepResults = stepResults;
        UnsharedBytes = unsharedBytes;
        PeakLiveBytes = peakLiveBytes;
    }

    /// <summary>Size of the arena.</summary>
    public long ArenaBytes { get; }

    /// <summary>Per step (in plan order): the blocks of its planned results.</summary>
    public IReadOnlyList<ArenaBlock[]> StepResults { get; }

    /// <summary>The planned values' sizes added up: what they would take if no two shared memory.</summary>
    public long UnsharedBytes { get; }

    /// <summary>The largest total size of planned values alive at one step: the least any assignment needs.</summary>
    public long PeakLiveBytes { get; }

    /// <summary>Number of planned values.</summary>
    public int Values => StepResults.Sum(s => s.Length);
}
