using Alloy.IR;
using Alloy.TorchScript.Pickle;

namespace Alloy.TorchScript.Lowering;

/// <summary>
/// <c>aten::lstm</c> / <c>aten::gru</c> as one ONNX LSTM / GRU per layer. torch's gate blocks are reordered offline
/// (LSTM i,f,g,o → i,o,f,c; GRU r,z,n → z,r,h with <c>linear_before_reset</c>), directions stacked, and the
/// sequence-first layout ONNX uses is restored around the layers when <c>batch_first</c>.
/// </summary>
internal sealed partial class Lowerer
{
    private object Recurrent(AtenArgs a, bool lstm)
    {
        var op = lstm ? "lstm" : "gru";
        var x = a.Tensor(0, "input");
        if (lstm ? a.Get(1, "hx") is TensorValue : a.Count > 2 && a.Positional[2] is TensorValue)
            throw Fail($"aten::{op} on a packed sequence (batch_sizes) is not supported");
        var hx = lstm ? a.Tensors(1, "hx") : [a.Tensor(1, "hx")];
        var weights = a.Tensors(2, "params");
        bool hasBiases = a.Bool(3, "has_biases");
        int layers = (int)a.Int(4, "num_layers");
        if (a.Bool(6, "train")) throw Fail($"aten::{op} with train=True: call model.eval() before saving");
        bool bidirectional = a.Bool(7, "bidirectional");
        bool batchFirst = a.Bool(8, "batch_first");
        int dirs = bidirectional ? 2 : 1;
        int perDir = hasBiases ? 4 : 2;
        if (weights.Count != layers * dirs * perDir) throw Fail($"aten::{op}: {weights.Count} weight tensors for {layers} layer(s) × {dirs} direction(s)");
        RefineRank(x, 3);
        if (RequireRank(x, op) != 3) throw Fail($"aten::{op}: input of rank {x.Rank} (only batched 3-D input is supported)");
        int[] order = lstm ? [0, 3, 1, 2] : [1, 0, 2];
        int gates = order.Length;

        var seq = batchFirst ? Transpose(x, 0, 1) : x;
        var hLast = new List<TensorValue>();
        var cLast = new List<TensorValue>();
        for (int l = 0; l < layers; l++)
        {
            var w = new List<TensorValue>();
            var r = new List<TensorValue>();
            var bw = new List<TensorValue?>();
            var br = new List<TensorValue?>();
            for (int d = 0; d < dirs; d++)
            {
                int baseIndex = (l * dirs + d) * perDir;
                w.Add(weights[baseIndex]);
                r.Add(weights[baseIndex + 1]);
                bw.Add(hasBiases ? weights[baseIndex + 2] : null);
                br.Add(hasBiases ? weights[baseIndex + 3] : null);
            }
            long hidden = r[0].Shape![1].Size!.Value;
            var W = StackGates(w, order, $"{op}_l{l}_W");
            var R = StackGates(r, order, $"{op}_l{l}_R");
            TensorValue? B = null;
            if (hasBiases)
                B = StackBiases(bw.Select(b => b!).ToList(), br.Select(b => b!).ToList(), order, $"{op}_l{l}_B");
            var h0 = SliceLayer(hx[0], l * dirs, dirs);
            TensorValue? c0 = lstm ? SliceLayer(hx[1], l * dirs, dirs) : null;
            var attrs = new List<Attr> { Attr.String("direction", bidirectional ? "bidirectional" : "forward"), Attr.Int("hidden_size", hidden) };
            if (!lstm) attrs.Add(Attr.Int("linear_before_reset", 1));
            var inputs = new List<Value?> { seq.Ir, W.Ir, R.Ir, B?.Ir, null, h0.Ir };
            if (lstm) inputs.Add(c0!.Ir);
            var node = _b.EmitMulti(lstm ? "LSTM" : "GRU", inputs, attrs, lstm ? 3 : 2);
            var T = seq.Shape![0];
            var N = seq.Shape[1];
            node.Outputs[0].Type = GraphBuilder.TypeOf(x.Type, [T, Dim.Of(dirs), N, Dim.Of(hidden)]);
            node.Outputs[1].Type = GraphBuilder.TypeOf(x.Type, [Dim.Of(dirs), N, Dim.Of(hidden)]);
            var y = new TensorValue(node.Outputs[0], x.Type, [T, Dim.Of(dirs), N, Dim.Of(hidden)]);
            hLast.Add(new TensorValue(node.Outputs[1], x.Type, [Dim.Of(dirs), N, Dim.Of(hidden)]));
            if (lstm)
            {
                node.Outputs[2].Type = GraphBuilder.TypeOf(x.Type, [Dim.Of(dirs), N, Dim.Of(hidden)]);
                cLast.Add(new TensorValue(node.Outputs[2], x.Type, [Dim.Of(dirs), N, Dim.Of(hidden)]));
            }
            // [T, dirs, N, H] → [T, N, dirs·H]
            var yt = Permute(y, [0, 2, 1, 3]);
            seq = _b.Emit("Reshape", [yt.Ir, _b.Ints([0, 0, -1], "shape")], null, x.Type, [T, N, Dim.Of(dirs * hidden)]);
        }
        var output = batchFirst ? Transpose(seq, 0, 1) : seq;
        TensorValue Join(List<TensorValue> parts) => parts.Count == 1 ? parts[0]
            : _b.Emit("Concat", parts.Select(p => p.Ir), [Attr.Int("axis", 0)], x.Type, [Dim.Of(layers * dirs), parts[0].Shape![1], parts[0].Shape![2]]);
        return lstm ? new PickleTuple([output, Join(hLast), Join(cLast)]) : new PickleTuple([output, Join(hLast)]);
    }

    private TensorValue SliceLayer(TensorValue h, int start, int count)
    {
        RequireRank(h, "recurrent state");
        if (h.Shape![0].Size == count && start == 0) return h;
        return Slice(h, 0, (long)start, (long)(start + count), 1);
    }

    private byte[] ConstantBytes(TensorValue t, string what) =>
        t.Ir.Constant?.Data.AsSpan().ToArray() ?? throw Fail($"{what}: recurrent weights must be parameters of the module (constants)");

    /// <summary>[dirs, gates·H, K] with the gate blocks of each direction reordered.</summary>
    private TensorValue StackGates(List<TensorValue> perDirection, int[] order, string name)
    {
        var first = perDirection[0];
        long rows = first.Shape![0].Size!.Value, cols = first.Shape[1].Size!.Value;
        long block = rows / order.Length;
        int es = first.Type.Facts().StorageBytes;
        var result = new byte[perDirection.Count * rows * cols * es];
        long rowBytes = cols * es;
        for (int d = 0; d < perDirection.Count; d++)
        {
            var src = ConstantBytes(perDirection[d], name);
            for (int g = 0; g < order.Length; g++)
                Array.Copy(src, order[g] * block * rowBytes, result, (d * rows + g * block) * rowBytes, block * rowBytes);
        }
        var v = _b.Constant(new TensorConstant(first.Type, [perDirection.Count, rows, cols], new ArrayTensorData(result)), name);
        return new TensorValue(v, first.Type, [Dim.Of(perDirection.Count), Dim.Of(rows), Dim.Of(cols)]);
    }

    /// <summary>[dirs, 2·gates·H]: input biases then recurrence biases, gate blocks reordered.</summary>
    private TensorValue StackBiases(List<TensorValue> input, List<TensorValue> recurrent, int[] order, string name)
    {
        long rows = input[0].Shape![0].Size!.Value;
        long block = rows / order.Length;
        int es = input[0].Type.Facts().StorageBytes;
        var result = new byte[input.Count * 2 * rows * es];
        for (int d = 0; d < input.Count; d++)
        {
            var bi = ConstantBytes(input[d], name);
            var bh = ConstantBytes(recurrent[d], name);
            for (int g = 0; g < order.Length; g++)
            {
                Array.Copy(bi, order[g] * block * es, result, (d * 2 * rows + g * block) * es, block * es);
                Array.Copy(bh, order[g] * block * es, result, (d * 2 * rows + rows + g * block) * es, block * es);
            }
        }
        var v = _b.Constant(new TensorConstant(input[0].Type, [input.Count, 2 * rows], new ArrayTensorData(result)), name);
        return new TensorValue(v, input[0].Type, [Dim.Of(input.Count), Dim.Of(2 * rows)]);
    }
}
