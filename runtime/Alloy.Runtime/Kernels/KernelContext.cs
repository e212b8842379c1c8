using Alloy.Runtime.Execution;

namespace Alloy.Runtime.Kernels;

/// <summary>What a running kernel may use: the thread budget, the ISA cap, and a way to run subgraphs.</summary>
public sealed class KernelContext
{
    public KernelContext(PlanExecutor executor, int threads)
    {
        Executor = executor;
        Threads = threads;
    }

    public PlanExecutor Executor { get; }

    /// <summary>Worker threads a kernel may use.</summary>
    public int Threads { get; }

    /// <summary>
    /// Runs a subgraph plan with the given inputs and captured outer values; returns its outputs (owned by the
    /// caller). Captures are passed in the order of <see cref="ExecutionPlan.Captures"/>.
    /// </summary>
    public Tensor?[] RunSubgraph(ExecutionPlan plan, ReadOnlySpan<Tensor?> inputs, ReadOnlySpan<Tensor?> captures) =>
        Executor.Run(plan, inputs, captures, this);
}
