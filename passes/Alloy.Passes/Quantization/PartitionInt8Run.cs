using Alloy.IR;
using Alloy.Passes.Precision;
using Alloy.Pipeline;
using static Alloy.Passes.Quantization.QuantizationAnnotations;

namespace Alloy.Passes.Quantization;

/// <summary>One run of partition-int8: decide the INT8 nodes, share scales, then emit Q/DQ and quantized constants.</summary>
internal sealed class PartitionInt8Run
{
    /// <summary>An INT8 compute node: which operands are activations, which one is the weight (and its channel axis, −1 = per tensor) and the bias.</summary>
    private sealed record ComputePlan(Node Node, string Why, int[] Activations, int Weight, int WeightAxis, int Bias);

    private readonly Model _model;
    private readonly Graph _graph;
    private readonly PassContext _context;
    private readonly PartitionInt8Options _options;
    private readonly bool _perChannel;
    private readonly Statistic _int8, _carry, _relu, _clip, _kept, _activations, _weights, _biases;

    private readonly List<ComputePlan> _compute = [];
    private readonly List<Value> _quantized = [];
    private readonly HashSet<Value> _quantizedSet = [];
    private readonly Dictionary<Value, Value> _parent = [];
    private readonly Dictionary<Value, QuantParams> _params = [];
    private readonly Dictionary<Value, QuantParams> _paramsOfDq = [];
    private readonly Dictionary<(Value, int), (Value Dq, float[] Scales)> _weightDq = [];

    public PartitionInt8Run(Model model, PassContext context, PartitionInt8Options options)
    {
        _model = model;
        _graph = model.Graph;
        _context = context;
        _options = options;
        _perChannel = options.PerChannel && (model.DefaultOpset ?? 0) >= 13;
        _int8 = context.Statistic("int8-nodes", "Conv/MatMul/Gemm nodes that run INT8");
        _carry = context.Statistic("carry-nodes", "data-movement nodes that carry INT8 between INT8 nodes (shared scale)");
        _relu = context.Statistic("relu-folded", "Relu nodes folded into the quantized range of the INT8 result before them");
        _clip = context.Statistic("clip-folded", "Clip(0, max) nodes (ReLU6) folded into the quantized range of the INT8 result before them");
        _kept = context.Statistic("kept-fp32", "INT8 candidates kept FP32 (override, no calibrated range, unsupported form)");
        _activations = context.Statistic("activations-quantized", "activation tensors given a QuantizeLinear/DequantizeLinear pair");
        _weights = context.Statistic("weights-quantized", "weight constants stored as int8 initializers");
        _biases = context.Statistic("biases-quantized", "bias constants stored as int32 initializers");
    }

    public void Execute()
    {
        long opset = _model.DefaultOpset ?? 0;
        if (opset < 10)
        {
            _context.Error(null, $"QuantizeLinear/DequantizeLinear need opset 10 or later; the model imports opset {opset}");
            return;
        }
        if (_options.Ranges.Count == 0)
            _context.Warn(null, "no calibrated ranges were given: every node stays FP32");
        foreach (var n in _graph.Nodes.ToList())
        {
            _context.ThrowIfCancelled();
            DecideCompute(n);
        }
        foreach (var plan in _compute) QuantizeResult(plan.Node);
        foreach (var n in _graph.Nodes.ToList()) DecideCarry(n);
        if (_compute.Count == 0) return;

        foreach (var v in _quantized)
        {
            var root = Find(v);
            if (!_params.ContainsKey(root)) _params[root] = GroupParams(root);
        }
        foreach (var v in _quantized) EmitActivation(v);
        foreach (var plan in _compute) EmitConstants(plan);
        _context.MarkChanged();
    }

    // ---- decisions ----

    private static string NodeName(Node n) => n.Name.Length > 0 ? n.Name : n.Outputs.Count > 0 ? n.Outputs[0].Name : "";

    /// <summary>The rule forcing <paramref name="n"/> FP32, if any.</summary>
    private string? Fp32Override(Node n)
    {
        if (_options.Fp32Nodes?.IsMatch(NodeName(n)) == true) return Why.OverrideName;
        if (_options.Int8Nodes?.IsMatch(NodeName(n)) == true) return null;
        return _options.Fp32Ops.Contains(n.OpType) ? Why.OverrideOp : null;
    }

    private void Keep(Node n, string why, string? message = null)
    {
        n.Annotate(Precision.PrecisionAnnotations.Precision, Precision.PrecisionAnnotations.Fp32);
        n.Annotate(Precision.PrecisionAnnotations.Reason, why);
        _kept.Add();
        if (message is not null) _context.Note(n, message);
    }

    private static bool IsFloat(Value? v) => v?.ElementType == DataType.Float;
    private static bool IsWeight(Value? v) => v is { Constant: { ElementType: DataType.Float, Data.HasBytes: true } } && v.Kind == ValueKind.Constant;
    private static bool IsActivation(Value? v) => IsFloat(v) && v!.Constant is null && v.SparseConstant is null;

    private void DecideCompute(Node n)
    {
        if (!n.IsDefaultDomain || !PartitionInt8Options.DefaultInt8Ops.Contains(n.OpType)) return;
        if (Fp32Override(n) is { } forced)
        {
            Keep(n, forced);
            return;
        }
        bool byName = _options.Int8Nodes?.IsMatch(NodeName(n)) == true;
        if (!byName && !_options.Int8Ops.Contains(n.OpType)) return;
        var why = byName ? Why.OverrideName : _options.Int8Ops.SetEquals(PartitionInt8Options.DefaultInt8Ops) ? Why.Int8Op : Why.OverrideOp;

        var inputs = n.Inputs;
        var activations = new List<int>();
        int weight = -1, axis = -1, bias = -1;
        string? problem = null;
        switch (n.OpType)
        {
            case "Conv":
                if (inputs.Count < 2 || !IsActivation(inputs[0]) || !IsWeight(inputs[1]) || inputs[1]!.Constant!.Dims.Length < 3)
                    problem = "Conv needs an FP32 activation and a constant FP32 weight";
                else
                {
                    activations.Add(0);
                    weight = 1;
                    axis = 0;
                    if (inputs.Count > 2 && inputs[2] is { } b && IsBias(b, inputs[1]!.Constant!.Dims[0])) bias = 2;
                }
                break;
            case "Gemm":
                if (inputs.Count < 2 || !IsActivation(inputs[0]) || !(IsWeight(inputs[1]) || IsActivation(inputs[1])))
                    problem = "Gemm needs an FP32 activation A and an FP32 B";
                else if (IsWeight(inputs[1]) && inputs[1]!.Constant!.Dims.Length != 2)
                    problem = "Gemm's B must be 2-D";
                else
                {
                    activations.Add(0);
                    if (IsWeight(inputs[1]))
                    {
                        weight = 1;
                        axis = n.GetInt("transB", 0) != 0 ? 0 : 1;
                    }
                    else activations.Add(1);
                    bool unitScale = (n.FindAttribute("alpha")?.Value is not FloatAttr a || a.Value == 1f) && (n.FindAttribute("beta")?.Value is not FloatAttr be || be.Value == 1f);
                    if (weight >= 0 && unitScale && inputs.Count > 2 && inputs[2] is { } c && IsBias(c, inputs[1]!.Constant!.Dims[axis])) bias = 2;
                }
                break;
            default: // MatMul
                if (inputs.Count < 2 || !IsActivation(inputs[0]) || !(IsWeight(inputs[1]) || IsActivation(inputs[1])))
                    problem = "MatMul needs an FP32 activation A and an FP32 B";
                else
                {
                    activations.Add(0);
                    if (IsWeight(inputs[1]))
                    {
                        weight = 1;
                        axis = inputs[1]!.Constant!.Dims.Length == 2 ? 1 : -1;
                    }
                    else activations.Add(1);
                }
                break;
        }
        if (problem is not null)
        {
            Keep(n, Why.Unsupported, $"kept FP32: {problem}");
            return;
        }
        foreach (var i in activations)
            if (!_options.Ranges.ContainsKey(inputs[i]!.Name))
            {
                Keep(n, Why.NoRange, $"kept FP32: operand {i} '{inputs[i]!.Name}' has no calibrated range");
                return;
            }
        if (!_perChannel) axis = -1;
        _compute.Add(new ComputePlan(n, why, [.. activations], weight, axis, bias));
        foreach (var i in activations) AddQuantized(inputs[i]!);
        Annotate(n, why);
        _int8.Add();
    }

    private static bool IsBias(Value b, long channels) =>
        IsWeight(b) && b.Constant!.Dims.Length == 1 && b.Constant.Dims[0] == channels;

    /// <summary>
    /// The result of an INT8 node (after a folded Relu or Clip(0, max)) is quantized when it has a range and only
    /// node uses.
    /// </summary>
    private void QuantizeResult(Node n)
    {
        var y = n.Outputs[0];
        if (y.Uses.Count == 1 && y.Uses[0] is { Kind: UseKind.Operand, User: { IsDefaultDomain: true } act }
            && (act.OpType == "Relu" || act.OpType == "Clip" && ClipsAtZero(act))
            && Fp32Override(act) is null && Quantizable(act.Outputs[0]))
        {
            bool relu = act.OpType == "Relu";
            Annotate(act, relu ? Why.ReluFolded : Why.ClipFolded);
            (relu ? _relu : _clip).Add();
            AddQuantized(act.Outputs[0]);
            return;
        }
        if (Quantizable(y)) AddQuantized(y);
    }

    /// <summary>
    /// A Clip whose lower bound is the constant 0 (input 1 from opset 11, attribute <c>min</c> before) and whose
    /// upper bound, if any, is a constant: a Relu with a ceiling, such as ReLU6. Its result's calibrated range lies
    /// within [0, max], so quantizing that result alone keeps the clamp.
    /// </summary>
    private static bool ClipsAtZero(Node clip)
    {
        if (clip.Outputs.Count != 1 || clip.Inputs.Count == 0) return false;
        if (clip.FindAttribute("min") is { } minAttr)
            return minAttr.Value is FloatAttr { Value: 0f };
        if (clip.Inputs.Count < 2 || clip.Inputs[1] is not { } lo || ScalarFloat(lo) != 0f) return false;
        return clip.Inputs.Count < 3 || clip.Inputs[2] is not { } hi || ScalarFloat(hi) is not null;
    }

    /// <summary>The value of a float scalar initializer or Constant node; null for anything else.</summary>
    private static float? ScalarFloat(Value v)
    {
        var c = v.Constant ?? (v.Producer is { OpType: "Constant", IsDefaultDomain: true } p && p.FindAttribute("value")?.Value is TensorAttr t ? t.Value : null);
        if (c is not { ElementType: DataType.Float, ElementCount: 1 }) return null;
        return System.Runtime.InteropServices.MemoryMarshal.Read<float>(c.Data.AsSpan());
    }

    /// <summary>A value that can get a Q/DQ pair: FP32, calibrated, used by nodes only (a graph output keeps its value).</summary>
    private bool Quantizable(Value v) =>
        IsFloat(v) && v.HasUses && _options.Ranges.ContainsKey(v.Name) && v.Uses.All(u => u.Kind == UseKind.Operand);

    private void DecideCarry(Node n)
    {
        if (!n.IsDefaultDomain || !PartitionInt8Options.CarryOps.Contains(n.OpType) || Fp32Override(n) is not null) return;
        if (Precision.PrecisionAnnotations.PrecisionOf(n) == I8) return;
        if (n.OpType == "MaxPool" && n.Outputs.Skip(1).Any(o => o.HasUses)) return;
        var data = n.OpType == "Concat" ? n.Inputs.ToList() : [n.Inputs.Count > 0 ? n.Inputs[0] : null];
        if (data.Count == 0 || data.Any(v => !IsActivation(v) || !_options.Ranges.ContainsKey(v!.Name))) return;
        if (!data.Any(v => _quantizedSet.Contains(v!))) return;
        var y = n.Outputs[0];
        if (!Quantizable(y)) return;
        foreach (var v in data)
        {
            AddQuantized(v!);
            Union(v!, y);
        }
        AddQuantized(y);
        Annotate(n, Why.Int8Carry);
        _carry.Add();
    }

    private void AddQuantized(Value v)
    {
        if (_quantizedSet.Add(v)) _quantized.Add(v);
    }

    private static void Annotate(Node n, string why)
    {
        n.Annotate(Precision.PrecisionAnnotations.Precision, I8);
        n.Annotate(Precision.PrecisionAnnotations.Reason, why);
    }

    // ---- shared scales (union-find over values joined by carry ops) ----

    private Value Find(Value v)
    {
        while (_parent.TryGetValue(v, out var p) && p != v)
        {
            if (_parent.TryGetValue(p, out var gp)) _parent[v] = gp;
            v = p;
        }
        return v;
    }

    private void Union(Value a, Value b)
    {
        var ra = Find(a);
        var rb = Find(b);
        if (ra != rb) _parent[rb] = ra;
    }

    private QuantParams GroupParams(Value root)
    {
        double lo = double.PositiveInfinity, hi = double.NegativeInfinity;
        foreach (var v in _quantized)
        {
            if (Find(v) != root) continue;
            var r = _options.Ranges[v.Name];
            lo = Math.Min(lo, r.Min);
            hi = Math.Max(hi, r.Max);
        }
        return QuantParams.For(lo, hi, _options.Activations, _options.Bf16Scales);
    }

    // ---- emission ----

    private void EmitActivation(Value v)
    {
        var p = _params[Find(v)];
        var anchor = v.Producer is { } producer ? producer.Next : _graph.FirstNode;
        var shape = (v.Type as TensorType)?.Shape;
        var scale = _graph.AddConstant(_graph.FreshName(v.Name + "_scale"), Scalar(DataType.Float, BitConverter.GetBytes(p.Scale)));
        var zero = _graph.AddConstant(_graph.FreshName(v.Name + "_zero_point"), Scalar(p.Type, [unchecked((byte)p.ZeroPoint)]));
        var q = _graph.AddNode("QuantizeLinear", [v, scale, zero], [_graph.FreshName(v.Name + "_quantized")], before: anchor);
        q.Outputs[0].Type = new TensorType(p.Type, shape);
        q.Name = _graph.FreshName(v.Name + "_QuantizeLinear");
        var dq = _graph.AddNode("DequantizeLinear", [q.Outputs[0], scale, zero], [_graph.FreshName(v.Name + "_dequantized")], before: anchor);
        dq.Outputs[0].Type = new TensorType(DataType.Float, shape);
        dq.Name = _graph.FreshName(v.Name + "_DequantizeLinear");
        Annotate(q, Why.QdqActivation);
        Annotate(dq, Why.QdqActivation);
        var result = dq.Outputs[0];
        foreach (var use in v.Uses.ToArray())
            if (use.Kind == UseKind.Operand && use.User != q) _graph.SetOperand(use.User!, use.Index, result);
        _paramsOfDq[result] = p;
        _activations.Add();
    }

    private static TensorConstant Scalar(DataType type, byte[] bytes) => new(type, [], new ArrayTensorData(bytes));

    private void EmitConstants(ComputePlan plan)
    {
        var n = plan.Node;
        float[] weightScales = [];
        if (plan.Weight >= 0)
        {
            var w = n.Inputs[plan.Weight]!;
            if (!_weightDq.TryGetValue((w, plan.WeightAxis), out var entry))
            {
                entry = QuantizeWeight(w, plan.WeightAxis, n);
                _weightDq[(w, plan.WeightAxis)] = entry;
            }
            _graph.SetOperand(n, plan.Weight, entry.Dq);
            weightScales = entry.Scales;
            if (!w.HasUses) _graph.RemoveConstant(w);
        }
        if (plan.Bias >= 0 && _paramsOfDq.TryGetValue(n.Inputs[plan.Activations[0]]!, out var x))
        {
            var b = n.Inputs[plan.Bias]!;
            _graph.SetOperand(n, plan.Bias, QuantizeBias(b, x.Scale, weightScales, n));
            if (!b.HasUses) _graph.RemoveConstant(b);
        }
    }

    /// <summary>Per-channel (or per-tensor when <paramref name="axis"/> is −1) symmetric int8 weights in [−127, 127] behind a DequantizeLinear.</summary>
    private (Value, float[]) QuantizeWeight(Value w, int axis, Node before)
    {
        var c = w.Constant!;
        var data = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(c.Data.AsSpan());
        long channels = axis < 0 ? 1 : c.Dims[axis];
        long inner = 1;
        for (int d = axis + 1; axis >= 0 && d < c.Dims.Length; d++) inner *= c.Dims[d];
        var maxAbs = new double[channels];
        for (int i = 0; i < data.Length; i++)
        {
            long ch = axis < 0 ? 0 : i / inner % channels;
            maxAbs[ch] = Math.Max(maxAbs[ch], Math.Abs(data[i]));
        }
        var scales = new float[channels];
        for (long ch = 0; ch < channels; ch++) scales[ch] = maxAbs[ch] > 0 ? (float)(maxAbs[ch] / 127) : 1f;
        var q = new byte[data.Length];
        for (int i = 0; i < data.Length; i++)
        {
            long ch = axis < 0 ? 0 : i / inner % channels;
            q[i] = unchecked((byte)(sbyte)Math.Clamp(Math.Round(data[i] / scales[ch], MidpointRounding.ToEven), -127, 127));
        }
        var vector = axis >= 0;
        var qv = _graph.AddConstant(_graph.FreshName(w.Name + "_quantized"), new TensorConstant(DataType.Int8, c.Dims, new ArrayTensorData(q)));
        var sv = _graph.AddConstant(_graph.FreshName(w.Name + "_scale"), new TensorConstant(DataType.Float, vector ? [channels] : [], new ArrayTensorData(FloatBytes(scales))));
        var zv = _graph.AddConstant(_graph.FreshName(w.Name + "_zero_point"), new TensorConstant(DataType.Int8, vector ? [channels] : [], new ArrayTensorData(new byte[channels])));
        var dq = _graph.AddNode("DequantizeLinear", [qv, sv, zv], [_graph.FreshName(w.Name + "_dequantized")], before: before,
            attributes: vector ? [Attr.Int("axis", axis)] : null);
        dq.Outputs[0].Type = c.Type;
        dq.Name = _graph.FreshName(w.Name + "_DequantizeLinear");
        Annotate(dq, Why.QdqWeight);
        _weights.Add();
        return (dq.Outputs[0], scales);
    }

    /// <summary>An int32 bias with scale = activation scale × weight scale (per channel), behind a DequantizeLinear.</summary>
    private Value QuantizeBias(Value b, float xScale, float[] weightScales, Node before)
    {
        var c = b.Constant!;
        var data = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(c.Data.AsSpan());
        bool vector = weightScales.Length > 1;
        var scales = new float[vector ? data.Length : 1];
        for (int i = 0; i < scales.Length; i++) scales[i] = xScale * (weightScales.Length == 0 ? 1f : weightScales[vector ? i : 0]);
        var q = new int[data.Length];
        for (int i = 0; i < data.Length; i++)
        {
            float s = scales[vector ? i : 0];
            q[i] = (int)Math.Clamp(Math.Round(data[i] / (double)s, MidpointRounding.ToEven), int.MinValue, int.MaxValue);
        }
        var qv = _graph.AddConstant(_graph.FreshName(b.Name + "_quantized"), new TensorConstant(DataType.Int32, c.Dims, new ArrayTensorData(IntBytes(q))));
        var sv = _graph.AddConstant(_graph.FreshName(b.Name + "_scale"), new TensorConstant(DataType.Float, vector ? [scales.Length] : [], new ArrayTensorData(FloatBytes(scales))));
        var dq = _graph.AddNode("DequantizeLinear", [qv, sv], [_graph.FreshName(b.Name + "_dequantized")], before: before,
            attributes: vector ? [Attr.Int("axis", 0)] : null);
        dq.Outputs[0].Type = c.Type;
        dq.Name = _graph.FreshName(b.Name + "_DequantizeLinear");
        Annotate(dq, Why.QdqWeight);
        _biases.Add();
        return dq.Outputs[0];
    }

    private static byte[] FloatBytes(float[] values) => System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
    private static byte[] IntBytes(int[] values) => System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
}
