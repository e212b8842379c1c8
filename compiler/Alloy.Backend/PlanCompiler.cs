using Alloy.IR;
using Alloy.Runtime;
using Alloy.Runtime.Execution;
using Alloy.Runtime.Kernels;
using Alloy.Runtime.Kernels.Managed;

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
        _unsupported.Clear();
        // QDQ groups run as integer kernels when the registry has them. The rewrite works on a private copy, so the
        // caller's model (which may be exported afterwards) never sees the runtime-only fused ops.
        if (registry.Supports(Alloy.Runtime.Kernels.Managed.Int8Kernels.Domain, "QLinearConv") && QdqFusion.MayApply(model.Graph))
        {
            model = PrivateCopy(model);
            QdqFusion.Apply(model.Graph);
        }
        _model = model;
        var plan = CompileGraph(model.Graph);
        if (_unsupported.Count > 0) throw new UnsupportedModelException([.. _unsupported]);
        return plan;
    }

    /// <summary>A deep copy through the ONNX wire form (weights copied into memory; QDQ models are small).</summary>
    private static Model PrivateCopy(Model model)
    {
        var copy = Alloy.Onnx.OnnxImporter.FromBytes(Alloy.Onnx.OnnxWireWriter.ToBytes(model), model.SourcePath ?? model.Graph.Name, ".");
        copy.SourcePath = model.SourcePath;
        return copy;
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
        var fusedAway = new HashSet<Node>();
        for (int i = 0; i < nodes.Count; i++)
        {
            var n = nodes[i];
            if (fusedAway.Contains(n)) continue;
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
            if (kernel is IActivationFusion fusable && FusableActivation(n, known, Slot) is var (activation, clamp)
                && fusable.WithActivation(clamp) is { } fused)
            {
                // The Relu / Clip that alone consumes this result runs in the kernel's epilogue, into its own slot.
                kernel = fused;
                outSlots = [Slot(activation.Outputs[0])];
                fusedAway.Add(activation);
            }
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
            if (kernel is IWeightPrepacking prepacking)
            {
                // Constant weights are packed into the kernel's layout once, here, instead of on every run.
                var constantInputs = new Tensor?[n.Inputs.Count];
                for (int j = 0; j < constantInputs.Length; j++)
                    constantInputs[j] = operandSlots[j] >= 0 && known.TryGetValue(operandSlots[j], out var t) ? t : null;
                prepacking.Prepack(constantInputs, Environment.ProcessorCount);
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
        var memory = PlanMemory(steps.Select(s => s.Out).ToList(), lastUse, outputs.Select(o => o.Item1).ToHashSet(), slots);
        var plan = new ExecutionPlan(g.Name, slots.Count, inputs, captures, constants, planSteps, outputs)
        {
            FoldedNodes = folded,
            FusedNodes = fusedAway.Count,
            Memory = memory,
        };
        // Registry-specific finishing (e.g. data layouts agreed between the oneDNN kernels of adjacent steps).
        foreach (var finish in registry.PlanFinishers) finish(plan);
        return plan;
    }

    /// <summary>
    /// The arena for the values the steps produce whose size the IR fixes (static shape, fixed-size element type),
    /// except the graph's outputs, which the caller receives.
    /// </summary>
    private static MemoryPlan? PlanMemory(List<int[]> stepOutputs, Dictionary<int, int> lastUse, HashSet<int> graphOutputs, Dictionary<Value, int> slots)
    {
        var valueOf = new Dictionary<int, Value>();
        foreach (var (v, s) in slots) valueOf[s] = v;
        var lifetimes = new List<MemoryPlanner.Lifetime>();
        for (int i = 0; i < stepOutputs.Count; i++)
            foreach (var s in stepOutputs[i])
            {
                if (s < 0 || graphOutputs.Contains(s) || !valueOf.TryGetValue(s, out var v) || StaticBytes(v) is not { } bytes) continue;
                lifetimes.Add(new MemoryPlanner.Lifetime(s, i, lastUse.GetValueOrDefault(s, i), bytes));
            }
        // A plan only when every produced value has a static size; otherwise the executor learns one from a run.
        int produced = stepOutputs.Sum(o => o.Count(s => s >= 0 && !graphOutputs.Contains(s)));
        return lifetimes.Count == produced && produced > 0 ? MemoryPlanner.Plan(stepOutputs.Count, lifetimes) : null;
    }

    /// <summary>The byte size of a dense tensor value whose shape and element type are fully known, else null.</summary>
    private static long? StaticBytes(Value v)
    {
        if (v.Type is not TensorType { Shape: { IsFullyKnown: true } shape } tt) return null;
        if (tt.ElementType is DataType.Undefined or DataType.String) return null;
        long count = 1;
        foreach (var d in shape.Dims) count = checked(count * d.Size!.Value);
        return ((ElementType)(int)tt.ElementType).ByteCount(count);
    }

    /// <summary>
    /// The Relu, or Clip with bounds known now, that is the only consumer of <paramref name="n"/>'s single result (a
    /// Conv / Gemm / MatMul whose result is not a graph output), with the clamp it applies; null otherwise.
    /// </summary>
    private static (Node Activation, ActivationClamp Clamp)? FusableActivation(Node n, Dictionary<int, Tensor> known, Func<Value, int> slot)
    {
        if (n.Outputs.Count != 1 || n.Outputs[0].Uses is not [{ Kind: UseKind.Operand, Index: 0, User: { } user }]) return null;
        if (!user.IsDefaultDomain || user.Outputs.Count != 1 || user.Subgraphs.Any() || user.Outputs[0].Name.Length == 0) return null;
        if (user.Outputs[0].ElementType != n.Outputs[0].ElementType) return null;
        if (user.OpType == "Relu" && user.Inputs.Count == 1) return (user, ActivationClamp.Relu);
        if (user.OpType != "Clip") return null;
        float lo = float.NegativeInfinity, hi = float.PositiveInfinity;
        if (user.Inputs.Count == 1 && user.FindAttribute("min") is null && user.FindAttribute("max") is null)
            return (user, ActivationClamp.Between(lo, hi));
        if (user.Inputs.Count == 1)
        {
            // Opset 6: bounds are attributes (defaults: the float range).
            lo = user.FindAttribute("min") is { Value: FloatAttr fmin } ? fmin.Value : float.MinValue;
            hi = user.FindAttribute("max") is { Value: FloatAttr fmax } ? fmax.Value : float.MaxValue;
            return (user, ActivationClamp.Between(lo, hi));
        }
        for (int b = 1; b < user.Inputs.Count; b++)
        {
            if (user.Inputs[b] is not { } bound) continue;
            float v;
            if (known.TryGetValue(slot(bound), out var t))
            {
                if (t.Length != 1 || !t.Type.IsFloat()) return null;
                v = (float)Alloy.Runtime.Numerics.ElementConvert.GetDouble(t, 0);
            }
            else if (bound.Producer is { OpType: "Constant", IsDefaultDomain: true } c && c.FindAttribute("value") is { Value: TensorAttr { Value: var data } })
            {
                // A Constant node placed between the two (exporters emit the bounds next to the Clip).
                using var bt = ConstantTensors.ToTensor(data);
                if (bt.Length != 1 || !bt.Type.IsFloat()) return null;
                v = (float)Alloy.Runtime.Numerics.ElementConvert.GetDouble(bt, 0);
            }
            else return null;
            if (b == 1) lo = v;
            else hi = v;
        }
        return (user, ActivationClamp.Between(lo, hi));
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
