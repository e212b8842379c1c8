using Alloy.Runtime.Execution;
using Alloy.Runtime.Numerics;

namespace Alloy.Runtime.Kernels.Reference;

internal static partial class ReferenceKernels
{
    static partial void RegisterControlFlow(KernelRegistry r)
    {
        r.Register("If", n => new IfKernel(n));
        r.Register("Loop", n => new LoopKernel(n));
        r.Register("Scan", (KernelNode n, out string? reason) =>
        {
            reason = n.Opset is > 0 and < 9 ? "Scan before opset 9 (batched, with sequence_lens) is not supported" : null;
            return reason is null ? new ScanKernel(n) : null;
        });
    }
}

/// <summary>Splits a control-flow step's trailing operands into the captures of each of its subgraphs.</summary>
internal static class Captures
{
    public static ReadOnlySpan<Tensor?> Of(KernelNode node, ReadOnlySpan<Tensor?> inputs, ExecutionPlan[] graphsInAttributeOrder, int which)
    {
        int offset = node.InputTypes.Count;
        for (int i = 0; i < which; i++) offset += graphsInAttributeOrder[i].Captures.Count;
        return inputs.Slice(offset, graphsInAttributeOrder[which].Captures.Count);
    }

    /// <summary>The node's graph attributes in attribute order (the order the plan compiler laid out captures).</summary>
    public static ExecutionPlan[] Graphs(KernelNode node, params string[] names)
    {
        var order = node.Attributes.Names.Where(names.Contains).ToList();
        return order.Select(node.Attributes.GetRequiredGraph).ToArray();
    }
}

internal sealed class IfKernel(KernelNode node) : IKernel
{
    private readonly ExecutionPlan[] _graphs = Captures.Graphs(node, "then_branch", "else_branch");

    public void Run(KernelContext c, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var cond = inputs[0] ?? throw new KernelException("input 'cond' is missing");
        if (cond.Length != 1) throw new KernelException($"'cond' must hold one element, it has shape {cond.ShapeText}");
        bool taken = ElementConvert.GetLong(cond, 0) != 0;
        var names = node.Attributes.Names.Where(n => n is "then_branch" or "else_branch").ToList();
        int which = names.IndexOf(taken ? "then_branch" : "else_branch");
        var plan = _graphs[which];
        var results = c.RunSubgraph(plan, [], Captures.Of(node, inputs, _graphs, which));
        if (results.Length != outputs.Length)
        {
            foreach (var t in results) t?.Dispose();
            throw new KernelException($"branch '{plan.Name}' returns {results.Length} values, the node has {outputs.Length} outputs");
        }
        results.CopyTo(outputs);
    }
}

internal sealed class LoopKernel(KernelNode node) : IKernel
{
    private readonly ExecutionPlan _body = node.Attributes.GetRequiredGraph("body");

    public void Run(KernelContext c, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        int explicitCount = node.InputTypes.Count;
        int carried = explicitCount - 2;
        if (carried < 0) throw new KernelException("Loop needs the inputs M and cond (either may be empty)");
        int scanOutputs = _body.Outputs.Count - 1 - carried;
        if (scanOutputs < 0) throw new KernelException($"the body returns {_body.Outputs.Count} values; it must return cond and {carried} loop-carried values");
        long? tripCount = inputs[0] is { } m ? ElementConvert.GetLong(m, 0) : null;
        bool cond = inputs[1] is not { } ci || ElementConvert.GetLong(ci, 0) != 0;
        var captures = inputs[explicitCount..].ToArray();

        var state = new Tensor?[carried];
        for (int i = 0; i < carried; i++) state[i] = inputs[2 + i] is { } t ? ElementConvert.Clone(t) : null;
        var scans = new List<Tensor>[scanOutputs];
        for (int k = 0; k < scanOutputs; k++) scans[k] = [];
        try
        {
            for (long iter = 0; (tripCount is null || iter < tripCount) && cond; iter++)
            {
                using var iterNum = Tensor.FromArray(ElementType.Int64, [], [iter]);
                using var condIn = Tensor.FromArray(ElementType.Bool, [], [(byte)1]);
                var bodyInputs = new Tensor?[2 + carried];
                bodyInputs[0] = iterNum;
                bodyInputs[1] = condIn;
                state.CopyTo(bodyInputs, 2);
                var results = c.RunSubgraph(_body, bodyInputs, captures);
                var condOut = results[0] ?? throw new KernelException("the body produced no condition");
                cond = ElementConvert.GetLong(condOut, 0) != 0;
                condOut.Dispose();
                for (int i = 0; i < carried; i++)
                {
                    state[i]?.Dispose();
                    state[i] = results[1 + i];
                }
                for (int k = 0; k < scanOutputs; k++)
                    scans[k].Add(results[1 + carried + k] ?? throw new KernelException($"scan output {k} was not produced"));
            }
            for (int i = 0; i < carried; i++) outputs[i] = state[i];
            for (int k = 0; k < scanOutputs; k++)
                outputs[carried + k] = Stacking.Stack(scans[k], 0, _body.Outputs[1 + carried + k].Name);
        }
        catch
        {
            foreach (var t in state) t?.Dispose();
            throw;
        }
        finally
        {
            foreach (var list in scans) foreach (var t in list) t.Dispose();
        }
    }
}

internal sealed class ScanKernel(KernelNode node) : IKernel
{
    private readonly ExecutionPlan _body = node.Attributes.GetRequiredGraph("body");

    public void Run(KernelContext c, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        int explicitCount = node.InputTypes.Count;
        int m = (int)node.Attributes.GetInt("num_scan_inputs");
        int n = explicitCount - m;
        int k = _body.Outputs.Count - n;
        if (n < 0 || k < 0) throw new KernelException($"num_scan_inputs {m} does not fit {explicitCount} inputs and a body of {_body.Outputs.Count} outputs");
        var inAxes = node.Attributes.GetInts("scan_input_axes") ?? new long[m];
        var inDirs = node.Attributes.GetInts("scan_input_directions") ?? new long[m];
        var outAxes = node.Attributes.GetInts("scan_output_axes") ?? new long[k];
        var outDirs = node.Attributes.GetInts("scan_output_directions") ?? new long[k];
        var captures = inputs[explicitCount..].ToArray();

        var scanInputs = new Tensor[m];
        var axes = new int[m];
        long length = -1;
        for (int j = 0; j < m; j++)
        {
            scanInputs[j] = inputs[n + j] ?? throw new KernelException($"scan input {j} is missing");
            axes[j] = (int)(inAxes[j] < 0 ? inAxes[j] + scanInputs[j].Rank : inAxes[j]);
            long len = scanInputs[j].Shape[axes[j]];
            if (length >= 0 && len != length) throw new KernelException($"scan inputs have different lengths ({length} and {len})");
            length = len;
        }
        var state = new Tensor?[n];
        for (int i = 0; i < n; i++) state[i] = ElementConvert.Clone(inputs[i] ?? throw new KernelException($"initial state {i} is missing"));
        var collected = new List<Tensor>[k];
        for (int j = 0; j < k; j++) collected[j] = [];
        try
        {
            for (long t = 0; t < Math.Max(length, 0); t++)
            {
                var bodyInputs = new Tensor?[n + m];
                state.CopyTo(bodyInputs, 0);
                for (int j = 0; j < m; j++)
                    bodyInputs[n + j] = Stacking.Take(scanInputs[j], axes[j], inDirs[j] == 1 ? length - 1 - t : t);
                Tensor?[] results;
                try
                {
                    results = c.RunSubgraph(_body, bodyInputs, captures);
                }
                finally
                {
                    for (int j = 0; j < m; j++) bodyInputs[n + j]?.Dispose();
                }
                for (int i = 0; i < n; i++)
                {
                    state[i]?.Dispose();
                    state[i] = results[i];
                }
                for (int j = 0; j < k; j++) collected[j].Add(results[n + j] ?? throw new KernelException($"scan output {j} was not produced"));
            }
            for (int i = 0; i < n; i++) outputs[i] = state[i];
            for (int j = 0; j < k; j++)
            {
                var list = outDirs[j] == 1 ? Enumerable.Reverse(collected[j]).ToList() : collected[j];
                int rank = list.Count > 0 ? list[0].Rank + 1 : 1;
                int axis = (int)(outAxes[j] < 0 ? outAxes[j] + rank : outAxes[j]);
                outputs[n + j] = Stacking.Stack(list, axis, _body.Outputs[n + j].Name);
            }
        }
        catch
        {
            foreach (var s in state) s?.Dispose();
            throw;
        }
        finally
        {
            foreach (var list in collected) foreach (var t in list) t.Dispose();
        }
    }
}

/// <summary>Taking one slice along an axis and stacking slices along a new axis, for any element type.</summary>
internal static class Stacking
{
    public static Tensor Take(Tensor x, int axis, long index)
    {
        var shape = x.Shape.Where((_, i) => i != axis).ToArray();
        var result = Tensor.Create(x.Type, shape);
        long outer = 1, inner = 1;
        for (int i = 0; i < axis; i++) outer *= x.Shape[i];
        for (int i = axis + 1; i < x.Rank; i++) inner *= x.Shape[i];
        long len = x.Shape[axis];
        for (long o = 0; o < outer; o++)
            for (long e = 0; e < inner; e++)
                CopyElement(x, (o * len + index) * inner + e, result, o * inner + e);
        return result;
    }

    public static Tensor Stack(IReadOnlyList<Tensor> slices, int axis, string what)
    {
        if (slices.Count == 0) throw new KernelException($"output '{what}' has no iterations to stack and its element type is unknown");
        var first = slices[0];
        foreach (var s in slices)
            if (!s.Shape.SequenceEqual(first.Shape) || s.Type != first.Type)
                throw new KernelException($"output '{what}': iterations produced {first}{first.ShapeText} and {s}{s.ShapeText}");
        var shape = first.Shape.ToList();
        shape.Insert(axis, slices.Count);
        var result = Tensor.Create(first.Type, shape.ToArray());
        long outer = 1, inner = 1;
        for (int i = 0; i < axis; i++) outer *= first.Shape[i];
        for (int i = axis; i < first.Rank; i++) inner *= first.Shape[i];
        for (int s = 0; s < slices.Count; s++)
            for (long o = 0; o < outer; o++)
                for (long e = 0; e < inner; e++)
                    CopyElement(slices[s], o * inner + e, result, (o * slices.Count + s) * inner + e);
        return result;
    }

    private static void CopyElement(Tensor from, long i, Tensor to, long j)
    {
        if (from.Type == ElementType.String) { to.Strings[j] = from.Strings[i]; return; }
        int bits = from.Type.Bits();
        if (bits < 8) { ElementConvert.SetLong(to, j, ElementConvert.GetLong(from, i)); return; }
        int size = bits / 8;
        from.Bytes.Slice((int)(i * size), size).CopyTo(to.Bytes[(int)(j * size)..]);
    }
}
