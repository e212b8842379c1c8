using Alloy.Runtime.Kernels;
using Alloy.Runtime.Numerics;

namespace Alloy.Runtime.Execution;

/// <summary>A run failed: the message names the graph, the node and the reason.</summary>
public sealed class ExecutionException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Runs execution plans, including subgraph plans for If / Loop / Scan.</summary>
public sealed class PlanExecutor(int threads = 0)
{
    public int Threads { get; } = threads > 0 ? threads : Environment.ProcessorCount;

    /// <summary>When set, every step of every run (subgraphs included) is timed into this profile.</summary>
    public ExecutionProfile? Profile { get; set; }

    /// <summary>Runs a top-level plan. Inputs stay the caller's; the returned outputs are new tensors the caller owns.</summary>
    public Tensor?[] Run(ExecutionPlan plan, IReadOnlyDictionary<string, Tensor> inputs)
    {
        var ordered = new Tensor?[plan.Inputs.Count];
        for (int i = 0; i < plan.Inputs.Count; i++)
        {
            var input = plan.Inputs[i];
            if (!inputs.TryGetValue(input.Name, out var t))
                throw new ExecutionException($"graph '{plan.Name}': input '{input.Name}' was not given");
            ordered[i] = t;
        }
        foreach (var name in inputs.Keys)
            if (!plan.Inputs.Any(p => p.Name == name))
                throw new ExecutionException($"graph '{plan.Name}' has no input named '{name}' (inputs: {string.Join(", ", plan.Inputs.Select(p => p.Name))})");
        return Run(plan, ordered, [], new KernelContext(this, Threads));
    }

    internal Tensor?[] Run(ExecutionPlan plan, ReadOnlySpan<Tensor?> inputs, ReadOnlySpan<Tensor?> captures, KernelContext context)
    {
        if (inputs.Length != plan.Inputs.Count)
            throw new ExecutionException($"graph '{plan.Name}' takes {plan.Inputs.Count} inputs, {inputs.Length} were given");
        if (captures.Length != plan.Captures.Count)
            throw new ExecutionException($"graph '{plan.Name}' captures {plan.Captures.Count} values, {captures.Length} were given");
        var slots = new Tensor?[plan.SlotCount];
        var borrowed = new bool[plan.SlotCount]; // inputs, captures and constants belong to someone else
        for (int i = 0; i < inputs.Length; i++)
        {
            var spec = plan.Inputs[i];
            Check(plan, spec, inputs[i]);
            slots[spec.Slot] = inputs[i];
            borrowed[spec.Slot] = true;
        }
        for (int i = 0; i < captures.Length; i++)
        {
            slots[plan.Captures[i].Slot] = captures[i];
            borrowed[plan.Captures[i].Slot] = true;
        }
        foreach (var (slot, value) in plan.Constants)
        {
            slots[slot] = value;
            borrowed[slot] = true;
        }

        var outputSlots = new HashSet<int>(plan.Outputs.Select(o => o.Slot));
        // Tensors created outside this plan's steps (and by the steps of a plan without a memory plan) use the heap;
        // the enclosing plan's arena, when this is a subgraph run, is put back on the way out.
        var enclosingMemory = Tensor.CurrentMemory;
        Tensor.CurrentMemory = null;
        var pool = plan.MemoryFor(inputs, out var shapeKey);
        var arena = pool?.Take();
        var produced = pool is null && plan.ShouldLearn(shapeKey) ? new List<(int Slot, int Step, long Bytes)>() : null;
        try
        {
            for (int stepIndex = 0; stepIndex < plan.Steps.Count; stepIndex++)
            {
                var step = plan.Steps[stepIndex];
                var args = new Tensor?[step.InputSlots.Length];
                for (int i = 0; i < args.Length; i++)
                    args[i] = step.InputSlots[i] < 0 ? null : slots[step.InputSlots[i]];
                var results = new Tensor?[step.OutputSlots.Length];
                var blocks = arena is null ? null : pool!.Plan.StepResults[stepIndex];
                try
                {
                    if (blocks is { Length: > 0 })
                    {
                        arena!.Expect(blocks);
                        Tensor.CurrentMemory = arena;
                    }
                    if (Profile is { } profile)
                    {
                        double cpu = ProcessCpuClock.Milliseconds();
                        long start = ExecutionProfile.Timestamp();
                        step.Kernel.Run(context, args, results);
                        long end = ExecutionProfile.Timestamp();
                        profile.Record(plan, stepIndex, start, end, ProcessCpuClock.Milliseconds() - cpu);
                    }
                    else
                        step.Kernel.Run(context, args, results);
                }
                catch (Exception e) when (e is KernelException or KernelTypeException or ArgumentException or InvalidOperationException or IndexOutOfRangeException or OverflowException)
                {
                    foreach (var r in results) if (r is not null && Array.IndexOf(args, r) < 0) r.Dispose();
                    throw new ExecutionException($"graph '{plan.Name}', node {step.Node}: {e.Message}", e);
                }
                finally
                {
                    Tensor.CurrentMemory = null;
                }
                if (arena is not null) KeepInPlace(arena, blocks, step, results);
                if (produced is not null)
                    for (int i = 0; i < results.Length; i++)
                        if (results[i] is { Type: not ElementType.String } r && step.OutputSlots[i] is >= 0 and var slot && !outputSlots.Contains(slot))
                            produced.Add((slot, stepIndex, r.ByteLength));
                for (int i = 0; i < results.Length; i++)
                {
                    int slot = step.OutputSlots[i];
                    if (slot >= 0) slots[slot] = results[i];
                    else results[i]?.Dispose();
                }
                foreach (var slot in step.ReleaseAfter)
                {
                    if (borrowed[slot] || outputSlots.Contains(slot)) continue;
                    slots[slot]?.Dispose();
                    slots[slot] = null;
                }
            }
            var outputs = new Tensor?[plan.Outputs.Count];
            var handedOut = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
            for (int i = 0; i < outputs.Length; i++)
            {
                var t = slots[plan.Outputs[i].Slot];
                // The caller owns what it gets: borrowed values and repeated outputs are copied.
                outputs[i] = t is null ? null : borrowed[plan.Outputs[i].Slot] || !handedOut.Add(t) ? ElementConvert.Clone(t) : t;
            }
            for (int s = 0; s < slots.Length; s++)
                if (!borrowed[s] && slots[s] is { } t && !handedOut.Contains(t)) t.Dispose();
            if (arena is not null) pool!.GiveBack(arena);
            if (produced is not null) plan.Learn(shapeKey, produced);
            return outputs;
        }
        catch
        {
            for (int s = 0; s < slots.Length; s++)
                if (!borrowed[s]) slots[s]?.Dispose();
            // The arena is not reused after a failed run: a tensor the failure left behind may still point into it.
            throw;
        }
        finally
        {
            Tensor.CurrentMemory = enclosingMemory;
        }
    }

    /// <summary>
    /// A result in the arena must sit in the block planned for its own slot (its bytes are reserved for exactly its
    /// lifetime); a result that took another block of the step (a kernel creating its outputs out of order, or a
    /// temporary returned as a result) is moved to the heap.
    /// </summary>
    private static unsafe void KeepInPlace(ArenaMemory arena, ArenaBlock[]? blocks, PlanStep step, Tensor?[] results)
    {
        for (int i = 0; i < results.Length; i++)
        {
            if (results[i] is not { } r || !r.IsOwnedBy(arena)) continue;
            int slot = step.OutputSlots[i];
            bool inPlace = false;
            if (blocks is not null && slot >= 0)
                foreach (var b in blocks)
                    if (b.Slot == slot && arena.Address(b) == r.Pointer) inPlace = true;
            if (inPlace) continue;
            results[i] = ElementConvert.Clone(r);
            r.Dispose();
        }
    }

    private static void Check(ExecutionPlan plan, PlanInput spec, Tensor? t)
    {
        if (t is null) throw new ExecutionException($"graph '{plan.Name}': input '{spec.Name}' is missing");
        if (spec.Type is { } type && type != t.Type)
            throw new ExecutionException($"graph '{plan.Name}': input '{spec.Name}' is {t.Type.Name()}, the model expects {type.Name()}");
        if (spec.Dims is { } dims)
        {
            bool ok = dims.Length == t.Rank;
            for (int i = 0; ok && i < dims.Length; i++) ok = dims[i] is null || dims[i] == t.Shape[i];
            if (!ok)
                throw new ExecutionException($"graph '{plan.Name}': input '{spec.Name}' has shape {t.ShapeText}, the model expects [{string.Join(",", dims.Select(d => d?.ToString() ?? "?"))}]");
        }
    }
}
