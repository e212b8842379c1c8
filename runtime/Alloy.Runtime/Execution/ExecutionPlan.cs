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
}
