using System.Collections.Immutable;
using System.Runtime.InteropServices;
using Alloy.IR;
using Alloy.Runtime.Kernels.Managed;

namespace Alloy.Backend;

/// <summary>What <see cref="QdqFusion"/> rewrote.</summary>
public readonly record struct QdqFusionResult(int Convs, int MatMuls, int Adds, int DataMovement)
{
    public int Total => Convs + MatMuls + Adds + DataMovement;
}

/// <summary>
/// Lowers QDQ groups to integer kernels before the plan binds kernels, so a QDQ model runs on uint8 / int8 data
/// with fused requantisation instead of dequantize + float + quantize:
/// <list type="bullet">
/// <item><c>Q([Relu](Conv(DQ(x), DQ(w) [, DQ(b)])))</c> → <c>com.alloy::QLinearConv(x, …, w, …, y_scale, y_zp, b)</c>
/// with <c>relu</c> fused into the requantisation clamp;</item>
/// <item><c>Q([Relu](Gemm(DQ(a), DQ(w) [, DQ(c)])))</c> (alpha = beta = 1, no transA) and
/// <c>Q([Relu](MatMul(DQ(a), DQ(w))))</c> with 2-D weights → <c>com.alloy::QLinearMatMul</c> (bias, transB);</item>
/// <item><c>Q([Relu](Add(DQ(a), DQ(b))))</c> → <c>com.alloy::QLinearAdd</c> (numpy broadcasting);</item>
/// <item><c>Q(op(DQ(x)))</c> for MaxPool, Reshape, Transpose, Flatten, Squeeze, Unsqueeze with the same scale and
/// zero point on both sides → <c>op(x)</c> on the integer data.</item>
/// </list>
/// Conditions: weights are constant int8 / uint8 tensors, per-tensor or per output channel (DequantizeLinear axis 0
/// for Conv weights and transposed Gemm weights, axis 1 for [K, N] weights); activation scales and zero points
/// per-tensor constants; the bias an int32 constant whose scale is <c>x_scale · w_scale</c> (float32, as quantisers
/// write it) and zero point 0, otherwise it is requantised to that scale (round half to even); every intermediate
/// float value has exactly one use and is not a graph output. Anything else is left as it is and runs in float.
/// <para>Numerics: the integer ops compute the exact integer sum and round once, where the float chain rounds the
/// float32 sum; the results agree within one quantisation step (equal in most elements). The data-movement
/// rewrites and QLinearAdd are exact.</para>
/// </summary>
public static class QdqFusion
{
    private static readonly HashSet<string> DataMovementOps = ["MaxPool", "Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze"];

    /// <summary>Whether <paramref name="g"/> has a DequantizeLinear, the start of every pattern <see cref="Apply"/> fuses.</summary>
    public static bool MayApply(Graph g)
    {
        foreach (var n in g.Nodes)
            if (n.IsDefaultDomain && n.OpType == "DequantizeLinear") return true;
        return false;
    }

    /// <summary>Rewrites <paramref name="g"/> in place; returns what was fused.</summary>
    public static QdqFusionResult Apply(Graph g)
    {
        int convs = 0, matmuls = 0, adds = 0, moves = 0;
        foreach (var n in g.Nodes.ToList())
        {
            if (n.Owner is null || !n.IsDefaultDomain) continue;
            switch (n.OpType)
            {
                case "Conv" when TryFuseConv(g, n): convs++; break;
                case "Gemm" or "MatMul" when TryFuseMatMul(g, n): matmuls++; break;
                case "Add" when TryFuseAdd(g, n): adds++; break;
                case var op when DataMovementOps.Contains(op) && TryFuseDataMovement(g, n): moves++; break;
            }
        }
        return new QdqFusionResult(convs, matmuls, adds, moves);
    }

    // ---- patterns ----

    private static bool TryFuseConv(Graph g, Node conv)
    {
        if (conv.Inputs.Count < 2 || !Activation(conv.Inputs[0], out var x)) return false;
        if (conv.Inputs[1] is not { } wv || !Weights(wv, channelAxis: 0, out var w)) return false;
        if (w.Dims.Length != 4) return false;
        if (!Tail(conv, out var relu, out var q)) return false;
        long m = w.Dims[0];
        Value? bias = null;
        if (conv.Inputs.Count > 2 && conv.Inputs[2] is { } b && (bias = Bias(g, b, x, w, m)) is null) return false;
        var attrs = conv.Attributes.Where(a => a.Name != "relu").ToList();
        Replace(g, conv, relu, q, "QLinearConv", [x.Data, x.Scale, x.ZeroPoint, w.Data, w.Scale, w.ZeroPoint, q.Scale, q.ZeroPoint, bias], attrs, relu is not null);
        return true;
    }

    private static bool TryFuseMatMul(Graph g, Node mm)
    {
        bool gemm = mm.OpType == "Gemm";
        bool transB = gemm && mm.GetInt("transB", 0) != 0;
        if (gemm && (mm.GetInt("transA", 0) != 0 || Float(mm, "alpha") != 1f || Float(mm, "beta") != 1f)) return false;
        if (mm.Inputs.Count < 2 || !Activation(mm.Inputs[0], out var a)) return false;
        if (mm.Inputs[1] is not { } wv || !Weights(wv, channelAxis: transB ? 0 : 1, out var w) || w.Dims.Length != 2) return false;
        if (gemm && a.Data.Type is not TensorType { Shape.Rank: 2 }) return false;
        if (!Tail(mm, out var relu, out var q)) return false;
        long n = transB ? w.Dims[0] : w.Dims[1];
        Value? bias = null;
        if (gemm && mm.Inputs.Count > 2 && mm.Inputs[2] is { } c && (bias = Bias(g, c, a, w, n)) is null) return false;
        List<Attr> attrs = [new Attr("transB", new IntAttr(transB ? 1 : 0))];
        Replace(g, mm, relu, q, "QLinearMatMul", [a.Data, a.Scale, a.ZeroPoint, w.Data, w.Scale, w.ZeroPoint, q.Scale, q.ZeroPoint, bias], attrs, relu is not null);
        return true;
    }

    private static bool TryFuseAdd(Graph g, Node add)
    {
        if (add.Inputs.Count != 2 || !Activation(add.Inputs[0], out var a) || !Activation(add.Inputs[1], out var b)) return false;
        if (!Tail(add, out var relu, out var q)) return false;
        Replace(g, add, relu, q, "QLinearAdd", [a.Data, a.Scale, a.ZeroPoint, b.Data, b.Scale, b.ZeroPoint, q.Scale, q.ZeroPoint], [], relu is not null, constantWeights: false);
        return true;
    }

    private static bool TryFuseDataMovement(Graph g, Node op)
    {
        if (op.Inputs.Count < 1 || op.Outputs.Count != 1 || !Activation(op.Inputs[0], out var x)) return false;
        if (!SingleUse(op.Outputs[0], out var user) || !IsQuantize(user, out var q)) return false;
        if (!SameParameters(x, q)) return false;
        var inputs = op.Inputs.ToList();
        inputs[0] = x.Data;
        var fused = g.AddNode(op.OpType, inputs, [g.FreshName(q.Output.Name + "_int")], op.Domain, before: q.Node, attributes: op.Attributes);
        fused.Name = op.Name;
        Finish(g, fused, q, [op], [x.Dequantize]);
        return true;
    }

    // ---- matching helpers ----

    /// <summary>A DequantizeLinear with per-tensor constant parameters, on uint8 / int8 data.</summary>
    private readonly record struct Quantized(Value Data, Value Scale, Value? ZeroPoint, Node Dequantize);

    /// <summary>A constant int8 / uint8 weight behind a DequantizeLinear, per-tensor or per-channel on one axis.</summary>
    private readonly record struct QuantizedWeights(Value Value, Value Data, Value Scale, Value? ZeroPoint, Node Dequantize, long[] Dims);

    /// <summary>The QuantizeLinear closing a group.</summary>
    private readonly record struct Quantize(Node Node, Value Output, Value Scale, Value? ZeroPoint);

    private static bool IsDequantize(Value? v, out Node dq) =>
        (dq = v?.Producer!) is { OpType: "DequantizeLinear", IsDefaultDomain: true } && dq.Inputs.Count >= 2 && dq.Inputs[0] is not null
        && dq.Inputs[1] is not null && dq.GetInt("block_size", 0) == 0;

    private static bool Activation(Value? v, out Quantized q)
    {
        q = default;
        if (!IsDequantize(v, out var dq)) return false;
        var data = dq.Inputs[0]!;
        var type = ElementTypeOf(data);
        if (type is not (DataType.UInt8 or DataType.Int8)) return false;
        var zp = dq.Inputs.Count > 2 ? dq.Inputs[2] : null;
        if (!ScalarConstant(dq.Inputs[1]!, DataType.Float) || (zp is not null && !ScalarConstant(zp, type.Value))) return false;
        q = new Quantized(data, dq.Inputs[1]!, zp, dq);
        return true;
    }

    /// <summary>
    /// The element type of a value: its declared type, or for a result of a QuantizeLinear (or of a group this
    /// lowering already fused) without type information, the type the quantisation produces.
    /// </summary>
    private static DataType? ElementTypeOf(Value v)
    {
        if (v.ElementType is { } t && t != DataType.Undefined) return t;
        if (v.Producer is { OpType: "QuantizeLinear", IsDefaultDomain: true } q && IsQuantize(q, out _))
            return q.Inputs.Count > 2 && q.Inputs[2] is { } zp ? ElementTypeOf(zp) : q.GetInt("output_dtype", 0) is var d and not 0 ? (DataType)d : DataType.UInt8;
        if (v.Producer is { } p && DataMovementOps.Contains(p.OpType) && p.Inputs.Count > 0 && p.Inputs[0] is { } src) return ElementTypeOf(src);
        return null;
    }

    private static bool Weights(Value v, int channelAxis, out QuantizedWeights w)
    {
        w = default;
        if (!IsDequantize(v, out var dq) || dq.Inputs[0]!.Constant is not { } data || data.ElementType is not (DataType.Int8 or DataType.UInt8)) return false;
        var scale = dq.Inputs[1]!;
        var zp = dq.Inputs.Count > 2 ? dq.Inputs[2] : null;
        if (scale.Constant is not { ElementType: DataType.Float } sc) return false;
        if (zp is not null && (zp.Constant is not { } zc || zc.ElementType != data.ElementType || zc.ElementCount != sc.ElementCount)) return false;
        var dims = data.Dims.ToArray();
        if (sc.ElementCount != 1)
        {
            long axis = dq.GetInt("axis", 1);
            if (axis < 0) axis += dims.Length;
            if (axis != channelAxis || sc.Dims.Length != 1 || dims.Length <= channelAxis || sc.ElementCount != dims[channelAxis]) return false;
        }
        w = new QuantizedWeights(v, dq.Inputs[0]!, scale, zp, dq, dims);
        return true;
    }

    /// <summary>The group's end: the node's single result goes to a QuantizeLinear, optionally through a Relu.</summary>
    private static bool Tail(Node n, out Node? relu, out Quantize q)
    {
        relu = null;
        q = default;
        if (n.Outputs.Count != 1 || !SingleUse(n.Outputs[0], out var user)) return false;
        if (user is { OpType: "Relu" or "Clip", IsDefaultDomain: true })
        {
            relu = user;
            if (!SingleUse(user.Outputs[0], out user)) return false;
        }
        return IsQuantize(user, out q) && (relu is not { OpType: "Clip" } clip || ClipIsRelu(clip, q));
    }

    /// <summary>
    /// A Clip(0, hi) in front of a QuantizeLinear acts as a Relu when hi quantises to (or past) the type's maximum,
    /// so the upper bound changes no quantised value: ReLU6 under a range calibrated to at most 6.
    /// </summary>
    private static bool ClipIsRelu(Node clip, Quantize q)
    {
        var lo = clip.Inputs.Count > 1 && clip.Inputs[1] is { } l ? ConstantOf(l) : null;
        var hi = clip.Inputs.Count > 2 && clip.Inputs[2] is { } h ? ConstantOf(h) : null;
        if (lo is not { ElementType: DataType.Float, ElementCount: 1 } || ScalarFloat(lo) != 0f) return false;
        if (hi is null) return true;
        if (hi is not { ElementType: DataType.Float, ElementCount: 1 }) return false;
        float scale = ScalarFloat(q.Scale.Constant!);
        var type = q.ZeroPoint?.ElementType ?? DataType.UInt8;
        long zp = q.ZeroPoint?.Constant is { } z ? (type == DataType.Int8 ? (sbyte)z.Data.AsSpan()[0] : z.Data.AsSpan()[0]) : 0;
        double top = Math.Round((double)(ScalarFloat(hi) / scale), MidpointRounding.ToEven) + zp;
        return top >= (type == DataType.Int8 ? 127 : 255);
    }

    /// <summary>An initializer, or the value of a Constant node.</summary>
    private static TensorConstant? ConstantOf(Value v) =>
        v.Constant ?? (v.Producer is { OpType: "Constant", IsDefaultDomain: true } c && c.FindAttribute("value")?.Value is TensorAttr t ? t.Value : null);

    private static bool IsQuantize(Node user, out Quantize q)
    {
        q = default;
        if (user is not { OpType: "QuantizeLinear", IsDefaultDomain: true } || user.Inputs.Count < 2 || user.Inputs[1] is not { } scale
            || user.GetInt("block_size", 0) != 0)
            return false;
        var zp = user.Inputs.Count > 2 ? user.Inputs[2] : null;
        long outputDtype = user.GetInt("output_dtype", 0);
        var type = zp?.ElementType ?? (outputDtype != 0 ? (DataType)outputDtype : DataType.UInt8);
        if (type is not (DataType.UInt8 or DataType.Int8) || !ScalarConstant(scale, DataType.Float) || (zp is not null && !ScalarConstant(zp, type))) return false;
        q = new Quantize(user, user.Outputs[0], scale, zp);
        return true;
    }

    private static bool SingleUse(Value v, out Node user)
    {
        user = null!;
        if (v.Uses.Count != 1 || v.Uses[0].Kind != UseKind.Operand) return false;
        user = v.Uses[0].User!;
        return true;
    }

    private static bool ScalarConstant(Value v, DataType type) => v.Constant is { } c && c.ElementType == type && c.ElementCount == 1;

    private static bool SameParameters(Quantized x, Quantize q)
    {
        if (!x.Scale.Constant!.Data.ContentEquals(q.Scale.Constant!.Data)) return false;
        var xz = x.ZeroPoint?.Constant;
        var qz = q.ZeroPoint?.Constant;
        var xType = x.Data.ElementType;
        var qType = q.ZeroPoint?.ElementType ?? DataType.UInt8;
        if (xType != qType) return false;
        return (xz is null || xz.Data.AsSpan()[0] == 0) && (qz is null || qz.Data.AsSpan()[0] == 0)
            || (xz is not null && qz is not null && xz.Data.AsSpan()[0] == qz.Data.AsSpan()[0]);
    }

    private static float Float(Node n, string name) => n.FindAttribute(name)?.Value is FloatAttr f ? f.Value : 1f;

    /// <summary>
    /// The int32 bias constant at scale <c>x_scale · w_scale[c]</c>: the DequantizeLinear's int32 data when its scale
    /// is exactly that and its zero point 0, otherwise the float bias requantised to it (round half to even).
    /// </summary>
    private static Value? Bias(Graph g, Value b, Quantized x, QuantizedWeights w, long channels)
    {
        float xs = ScalarFloat(x.Scale.Constant!);
        var ws = Floats(w.Scale.Constant!);
        var target = new float[channels];
        for (int c = 0; c < channels; c++) target[c] = xs * ws[ws.Length == 1 ? 0 : c];
        double[] values;
        if (IsDequantize(b, out var dq) && dq.Inputs[0]!.Constant is { ElementType: DataType.Int32 } data && data.ElementCount == channels
            && dq.Inputs[1]!.Constant is { ElementType: DataType.Float } scale && (scale.ElementCount == 1 || scale.ElementCount == channels))
        {
            var ints = MemoryMarshal.Cast<byte, int>(data.Data.AsSpan()).ToArray();
            var bs = Floats(scale);
            var zpc = dq.Inputs.Count > 2 ? dq.Inputs[2]?.Constant : null;
            var zps = zpc is null ? [0] : MemoryMarshal.Cast<byte, int>(zpc.Data.AsSpan()).ToArray();
            if (zps.All(z => z == 0) && Enumerable.Range(0, (int)channels).All(c => bs[bs.Length == 1 ? 0 : c] == target[c]))
                return dq.Inputs[0];
            values = Enumerable.Range(0, (int)channels).Select(c => (double)(ints[c] - zps[zps.Length == 1 ? 0 : c]) * bs[bs.Length == 1 ? 0 : c]).ToArray();
        }
        else if (b.Constant is { ElementType: DataType.Float } fc && fc.ElementCount == channels)
            values = Floats(fc).Select(v => (double)v).ToArray();
        else return null;
        var q = new int[channels];
        for (int c = 0; c < channels; c++)
        {
            double r = Math.Round(values[c] / target[c], MidpointRounding.ToEven);
            if (!double.IsFinite(r) || r < int.MinValue || r > int.MaxValue) return null;
            q[c] = (int)r;
        }
        var bytes = MemoryMarshal.AsBytes(q.AsSpan()).ToArray();
        return g.AddConstant(g.FreshName(b.Name + "_int32"), new TensorConstant(DataType.Int32, [channels], new ArrayTensorData(bytes)));
    }

    private static float ScalarFloat(TensorConstant c) => MemoryMarshal.Read<float>(c.Data.AsSpan());

    private static float[] Floats(TensorConstant c) => MemoryMarshal.Cast<byte, float>(c.Data.AsSpan()).ToArray();

    // ---- rewriting ----

    private static void Replace(Graph g, Node anchor, Node? relu, Quantize q, string op, Value?[] inputs, IEnumerable<Attr> attrs, bool fuseRelu,
        bool constantWeights = true)
    {
        var all = attrs.ToList();
        if (fuseRelu) all.Add(new Attr("relu", new IntAttr(1)));
        if (constantWeights) all.Add(new Attr("constant_weights", new IntAttr(1)));
        // Trailing omitted inputs are dropped; inner ones stay as null operands.
        int count = inputs.Length;
        while (count > 0 && inputs[count - 1] is null) count--;
        var fused = g.AddNode(op, inputs.Take(count), [g.FreshName(q.Output.Name + "_int")], Int8Kernels.Domain, before: q.Node, attributes: all);
        fused.Name = anchor.Name;
        var dequantizers = anchor.Inputs.Where(v => v?.Producer is { OpType: "DequantizeLinear" }).Select(v => v!.Producer!).Distinct().ToList();
        Finish(g, fused, q, relu is null ? [anchor] : [relu, anchor], dequantizers);
    }

    /// <summary>Moves the QuantizeLinear's uses (and name) to the fused node, erases the group and unused dequantizers.</summary>
    private static void Finish(Graph g, Node fused, Quantize q, IReadOnlyList<Node> group, IReadOnlyList<Node> dequantizers)
    {
        var result = fused.Outputs[0];
        result.Type = q.Output.Type is TensorType { ElementType: not DataType.Undefined } ? q.Output.Type
            : new TensorType(q.ZeroPoint?.ElementType ?? (q.Node.GetInt("output_dtype", 0) is var d and not 0 ? (DataType)d : DataType.UInt8),
                (q.Output.Type as TensorType)?.Shape);
        string name = q.Output.Name;
        g.ReplaceAllUsesWith(q.Output, result);
        g.Erase(q.Node);
        foreach (var n in group) g.Erase(n);
        foreach (var dq in dequantizers)
            if (dq.Owner is not null && dq.Outputs.All(o => !o.HasUses)) g.Erase(dq);
        g.Rename(result, name);
    }
}
