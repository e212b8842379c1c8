using Alloy.IR;
using Alloy.Runtime;
using Alloy.Runtime.Execution;
using Alloy.Runtime.Kernels;

namespace Alloy.Backend;

/// <summary>
/// Lowers IR to an execution plan: each node bound to a kernel from the registry (by op, domain, opset and the
/// input element types known before running), each value to a slot, each slot released after its last use.
/// Subgraphs become nested plans whose captures are the owning step's trailing operands. Every node without a
/// kernel is reported at once.
/// </summary>
public sealed class PlanCompiler(KernelRegistry registry)
{
    private readonly List<UnsupportedNode> _unsupported = [];
    private Model? _model;

    public static ExecutionPlan Compile(Model model, KernelRegistry registry) => new PlanCompiler(registry).CompileModel(model);

    public ExecutionPlan CompileModel(Model model)
    {
        _model = model;
        _unsupported.Clear();
        // QDQ groups run as integer kernels when the registry has them (the model's graph is rewritten in place).
        if (registry.Supports(Alloy.Runtime.Kernels.Managed.Int8Kernels.Domain, "QLinearConv")) QdqFusion.Apply(model.Graph);
        var plan = CompileGraph(model.Graph);
        if (_unsupported.Count > 0) throw new UnsupportedModelException([.. _unsupported]);
        return plan;
    }

    private long OpsetOf(string domain)
    {
        var d = domain == "ai.onnx" ? "" : domain;
        foreach (var o in _model!.Opsets)
            if ((o.Domain == "ai.onnx" ? "" : o.Domain) == d) return o.Version;
        return 0;
    }

    private ExecutionPlan CompileGraph(Graph g)
    {
        var slots = new Dictionary<Value, int>();
        int Slot(Value v)
        {
            if (!slots.TryGetValue(v, out var s)) slots[v] = s = slots.Count;
            return s;
        }

        var inputs = new List<PlanInput>();
        var constants = new List<(int, Tensor)>();
        foreach (var v in g.Inputs)
        {
            if (v.Constant is { } def)
            {
                // An initializer that is also an input (IR version 3): runs with its default value.
                constants.Add((Slot(v), ConstantTensors.ToTensor(def)));
                continue;
            }
            var tt = v.Type as TensorType;
            inputs.Add(new PlanInput(Slot(v), v.Name, tt is null || tt.ElementType == DataType.Undefined ? null : (ElementType)(int)tt.ElementType,
                tt?.Shape?.Dims.Select(d => d.Size).ToArray()));
        }
        var captures = g.Captures.Select(c => new PlanCapture(Slot(c), c.Name)).ToList();
        foreach (var v in g.Constants)
        {
            if (v.Kind == ValueKind.Input) continue;
            constants.Add((Slot(v), v.SparseConstant is { } sc ? ConstantTensors.ToDense(sc) : ConstantTensors.ToTensor(v.Constant!)));
        }

        var known = new Dictionary<int, Tensor>();
        foreach (var (slot, value) in constants) known[slot] = value;
        int folded = 0;

        var nodes = g.Nodes.ToList();
        var lastUse = new Dictionary<int, int>();
        var steps = new List<(KernelNode Node, IKernel? Kernel, int[] In, int[] Out)>();
        for (int i = 0; i < nodes.Count; i++)
        {
            var n = nodes[i];
            var operandSlots = new List<int>();
            foreach (var v in n.Inputs) operandSlots.Add(v is null ? -1 : Slot(v));
            foreach (var sub in n.Subgraphs)
                foreach (var c in sub.Captures) operandSlots.Add(Slot(c.Outer!));
            foreach (var s in operandSlots) if (s >= 0) lastUse[s] = i;
            var outSlots = n.Outputs.Select(r => r.Name.Length == 0 ? -1 : Slot(r)).ToArray();
            foreach (var s in outSlots) if (s >= 0) lastUse.TryAdd(s, i);

            var node = new KernelNode(n.OpType, n.Domain, OpsetOf(n.Domain), Attributes(n),
                n.Inputs.Select(v => v?.ElementType is { } e && e != DataType.Undefined ? (ElementType?)(int)e : null).ToArray(),
                n.Outputs.Count, n.Name)
            {
                OutputTypes = n.Outputs.Select(v => v.ElementType is { } e && e != DataType.Undefined ? (ElementType?)(int)e : null).ToArray(),
            };
            var kernel = registry.Create(node, out var reason);
            if (kernel is null)
                _unsupported.Add(new UnsupportedNode(g.Name, n.Name.Length > 0 ? $"'{n.Name}'" : $"producing '{n.Outputs.FirstOrDefault()?.Name}'",
                    (n.IsDefaultDomain ? "" : n.Domain + "::") + n.OpType, node.Opset,
                    "(" + string.Join(", ", node.InputTypes.Select(t => t?.Name() ?? "?")) + ")", reason ?? "unsupported"));
            else if (TryFold(n, kernel, operandSlots, outSlots, known))
            {
                foreach (var s in outSlots) if (s >= 0) constants.Add((s, known[s]));
                folded++;
                continue;
            }
            steps.Add((node, kernel, [.. operandSlots], outSlots));
        }
        var outputs = g.Outputs.Select(v => (Slot(v), v.Name)).ToList();
        foreach (var (s, _) in outputs) lastUse[s] = int.MaxValue;

        // Last uses were counted per node index; folded nodes run no step, so recount over the steps kept.
        lastUse.Clear();
        for (int i = 0; i < steps.Count; i++)
        {
            foreach (var s in steps[i].In) if (s >= 0) lastUse[s] = i;
            foreach (var s in steps[i].Out) if (s >= 0) lastUse.TryAdd(s, i);
        }
        foreach (var (s, _) in outputs) lastUse[s] = int.MaxValue;
        var planSteps = new List<PlanStep>();
        for (int i = 0; i < steps.Count; i++)
        {
            var release = lastUse.Where(kv => kv.Value == i).Select(kv => kv.Key).ToArray();
            planSteps.Add(new PlanStep(steps[i].Node, steps[i].Kernel!, steps[i].In, steps[i].Out, release));
        }
        return new ExecutionPlan(g.Name, slots.Count, inputs, captures, constants, planSteps, outputs) { FoldedNodes = folded };
    }

    /// <summary>Ops whose result is not a function of their inputs: never folded.</summary>
    private static readonly HashSet<string> Nondeterministic =
        ["RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Bernoulli", "Multinomial", "Dropout"];

    /// <summary>Largest input, in elements, a node may have to be evaluated while compiling.</summary>
    private const long FoldLimit = 1 << 20;

    /// <summary>
    /// Evaluates a node whose operands are all known constants (shape computations, Constant nodes, constant
    /// arithmetic) once, now; and Shape / Size of a value whose shape is fully static. Results become constants.
    /// </summary>
    private bool TryFold(Node n, IKernel kernel, List<int> operandSlots, int[] outSlots, Dictionary<int, Tensor> known)
    {
        if (!n.IsDefaultDomain || Nondeterministic.Contains(n.OpType) || n.Subgraphs.Any()) return false;
        if (n.OpType is "Shape" or "Size" && n.Inputs.Count == 1 && n.Inputs[0]?.Type is TensorType { Shape: { IsFullyKnown: true } shape }
            && n.FindAttribute("start") is null && n.FindAttribute("end") is null && outSlots[0] >= 0)
        {
            var dims = shape.Dims.Select(d => d.Size!.Value).ToArray();
            known[outSlots[0]] = n.OpType == "Shape"
                ? Tensor.FromArray(ElementType.Int64, [dims.Length], dims)
                : Tensor.FromArray(ElementType.Int64, [], [dims.Aggregate(1L, (a, b) => a * b)]);
            return true;
        }
        var args = new Tensor?[operandSlots.Count];
        for (int i = 0; i < args.Length; i++)
        {
            if (operandSlots[i] < 0) continue;
            if (!known.TryGetValue(operandSlots[i], out var t) || t.Length > FoldLimit) return false;
            args[i] = t;
        }
        var results = new Tensor?[outSlots.Length];
        try
        {
            kernel.Run(new KernelContext(new PlanExecutor(1), 1), args, results);
        }
        catch (Exception e) when (e is KernelException or ArgumentException or InvalidOperationException)
        {
            // Leave it to run time, where the error will name the node and the inputs it got.
            foreach (var r in results) r?.Dispose();
            return false;
        }
        for (int i = 0; i < outSlots.Length; i++)
        {
            if (outSlots[i] >= 0 && results[i] is { } r) known[outSlots[i]] = r;
            else results[i]?.Dispose();
        }
        return outSlots.All(s => s < 0 || known.ContainsKey(s));
    }

    private AttributeMap Attributes(Node n)
    {
        if (n.Attributes.Count == 0) return AttributeMap.Empty;
        var map = new Dictionary<string, object>(StringComparer.Ordinal);
        foreach (var a in n.Attributes)
        {
            object? v = a.Value switch
            {
                IntAttr i => i.Value,
                FloatAttr f => f.Value,
                StringAttr s => s.Value,
                IntsAttr i => i.Value.ToArray(),
                FloatsAttr f => f.Value.ToArray(),
                StringsAttr s => s.Value.ToArray(),
                TensorAttr t => ConstantTensors.ToTensor(t.Value),
                TensorsAttr ts => ts.Value.Select(ConstantTensors.ToTensor).ToArray(),
                SparseTensorAttr s => ConstantTensors.ToDense(s.Value),
                GraphAttr g => CompileGraph(g.Value),
                GraphsAttr gs => gs.Value.Select(CompileGraph).ToArray(),
                _ => null,
            };
            if (v is not null) map[a.Name] = v;
        }
        return new AttributeMap(map);
    }
}
