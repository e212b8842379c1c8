using Alloy.Runtime.Kernels;

namespace Alloy.Runtime.Execution;

/// <summary>A graph input the plan expects: its slot, name, element type and dimensions (null = any size).</summary>
public sealed record PlanInput(int Slot, string Name, ElementType? Type, long?[]? Dims);

/// <summary>A value the plan reads from an enclosing plan (a subgraph capture).</summary>
public sealed record PlanCapture(int Slot, string Name);

/// <summary>One kernel call: operand slots (-1 for an omitted input; captures follow the explicit operands),
/// result slots (-1 for an unused result), and the slots whose last use this step is.</summary>
public sealed record PlanStep(KernelNode Node, IKernel Kernel, int[] InputSlots, int[] OutputSlots, int[] ReleaseAfter);

/// <summary>
/// An executable graph: values live in numbered slots; constants fill theirs once; steps run in order; a slot is
/// released right after its last use (liveness), so memory follows the live set, not the graph size.
/// </summary>
public sealed class ExecutionPlan(
    string name,
    int slotCount,
    IReadOnlyList<PlanInput> inputs,
    IReadOnlyList<PlanCapture> captures,
    IReadOnlyList<(int Slot, Tensor Value)> constants,
    IReadOnlyList<PlanStep> steps,
    IReadOnlyList<(int Slot, string Name)> outputs)
{
    public string Name { get; } = name;
    public int SlotCount { get; } = slotCount;
    public IReadOnlyList<PlanInput> Inputs { get; } = inputs;
    public IReadOnlyList<PlanCapture> Captures { get; } = captures;
    public IReadOnlyList<(int Slot, Tensor Value)> Constants { get; } = constants;
    public IReadOnlyList<PlanStep> Steps { get; } = steps;
    public IReadOnlyList<(int Slot, string Name)> Outputs { get; } = outputs;

    /// <summary>Nodes the backend evaluated while compiling (constant inputs, static shapes) instead of running.</summary>
    public int FoldedNodes { get; init; }

    /// <summary>Nodes merged into the step before them (an activation into a Conv / Gemm epilogue).</summary>
    public int FusedNodes { get; init; }

    /// <summary>
    /// The arena the compiler planned from the IR's static shapes (null when the IR does not fix them). Without it,
    /// the executor plans one from the sizes the first run with given input shapes produces (<see cref="MemoryFor"/>).
    /// </summary>
    public MemoryPlan? Memory { get; init; }

    /// <summary>Whether runs place intermediate values in a planned arena (false: each on the native heap).</summary>
    public bool UseArena { get; init; } = true;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, ArenaPool> _learned = new();
    private ArenaPool? _static;
    private int[]? _lastUse;

    /// <summary>Input shapes for which a run learned a memory plan, at most this many per plan.</summary>
    private const int MaxLearnedShapes = 8;

    /// <summary>
    /// The memory plan for a run with these inputs: the compiler's, or one learned from an earlier run with the same
    /// input shapes and types; null when there is none yet (the run then records sizes for <see cref="Learn"/>).
    /// </summary>
    internal ArenaPool? MemoryFor(ReadOnlySpan<Tensor?> inputs, out string key)
    {
        key = "";
        if (!UseArena) return null;
        if (Memory is { } m) return _static ??= new ArenaPool(m);
        var sb = new System.Text.StringBuilder();
        foreach (var t in inputs) sb.Append(t is null ? "-" : $"{(int)t.Type}{t.ShapeText};");
        key = sb.ToString();
        return _learned.TryGetValue(key, out var pool) ? pool : null;
    }

    /// <summary>Whether a run with inputs of this key should record its values' sizes.</summary>
    internal bool ShouldLearn(string key) => UseArena && Memory is null && _learned.Count < MaxLearnedShapes && !_learned.ContainsKey(key);

    /// <summary>Plans the arena from the sizes of the values a run's steps produced (slot, step, bytes).</summary>
    internal void Learn(string key, List<(int Slot, int Step, long Bytes)> produced)
    {
        var lastUse = LastUse();
        var lifetimes = produced.Select(p => new MemoryPlanner.Lifetime(p.Slot, p.Step, Math.Max(p.Step, lastUse[p.Slot]), p.Bytes)).ToList();
        _learned.TryAdd(key, new ArenaPool(MemoryPlanner.Plan(Steps.Count, lifetimes)));
    }

    /// <summary>The memory plan learned for inputs of these shapes (null: none yet); for reports and tests.</summary>
    public MemoryPlan? LearnedMemory(ReadOnlySpan<Tensor?> inputs) => MemoryFor(inputs, out _)?.Plan;

    /// <summary>Per slot, the last step that reads it (or releases it); -1 if none.</summary>
    private int[] LastUse()
    {
        if (_lastUse is { } known) return known;
        var last = new int[SlotCount];
        Array.Fill(last, -1);
        for (int i = 0; i < Steps.Count; i++)
        {
            foreach (var s in Steps[i].InputSlots) if (s >= 0) last[s] = i;
            foreach (var s in Steps[i].ReleaseAfter) if (s >= 0) last[s] = Math.Max(last[s], i);
        }
        return _lastUse = last;
    }
}

/// <summary>A memory plan and the arenas runs have given back (one per concurrent run).</summary>
internal sealed class ArenaPool(MemoryPlan plan)
{
    private readonly System.Collections.Concurrent.ConcurrentBag<ArenaMemory> _free = [];

    public MemoryPlan Plan { get; } = plan;

    public ArenaMemory? Take() => Plan.ArenaBytes <= 0 ? null : _free.TryTake(out var a) ? a : new ArenaMemory(Plan);

    public void GiveBack(ArenaMemory arena) => _free.Add(arena);
}
