using System.Collections.Immutable;
using Alloy.IR;
using Alloy.Onnx;

namespace Alloy.Benchmarks;

/// <summary>Synthetic models for measuring the frontend: long chains of typical ops, and models with huge external weights.</summary>
public static class SyntheticModels
{
    /// <summary>A chain of <paramref name="nodes"/> nodes (Conv-free: MatMul, Add, Relu, Mul, Transpose) with small weights.</summary>
    public static Model Chain(int nodes)
    {
        var g = new Graph("chain");
        var model = new Model(g) { IrVersion = 8, ProducerName = "alloy-bench" };
        model.Opsets.Add(new OpsetImport("", 17));
        var x = g.AddInput("x", new TensorType(DataType.Float, new Shape(Dim.Named("N"), 16)));
        var w = g.AddConstant("w", new TensorConstant(DataType.Float, [16, 16], new ArrayTensorData(new byte[16 * 16 * 4])));
        var b = g.AddConstant("b", new TensorConstant(DataType.Float, [16], new ArrayTensorData(new byte[16 * 4])));
        var type = new TensorType(DataType.Float, new Shape(Dim.Named("N"), 16));
        var cur = x;
        for (int i = 0; i < nodes; i++)
        {
            Node n = (i % 5) switch
            {
                0 => g.AddNode("MatMul", [cur, w], [$"t{i}"]),
                1 => g.AddNode("Add", [cur, b], [$"t{i}"]),
                2 => g.AddNode("Relu", [cur], [$"t{i}"]),
                3 => g.AddNode("Mul", [cur, cur], [$"t{i}"]),
                _ => g.AddNode("Transpose", [cur], [$"t{i}"], attributes: [Attr.Ints("perm", 0, 1)]),
            };
            n.Name = $"n{i}";
            cur = n.Outputs[0];
            cur.Type = type;
        }
        g.AddOutput(cur);
        return model;
    }

    /// <summary>
    /// A transformer-like encoder of about <paramref name="nodes"/> nodes, shaped like a PyTorch export: token embedding
    /// (Gather), then encoder layers of attention (MatMul + Add projections, Reshape / Transpose to heads with shape
    /// constants, scaled scores, additive mask, Softmax, context back to the hidden size through a reshape target
    /// computed by Shape / Gather / Unsqueeze / Concat) and a GELU feed-forward (Erf form), each with a residual and a
    /// layer norm: LayerNormalization in even layers, its decomposition (ReduceMean, Sub, Pow, Add, Sqrt, Div, Mul,
    /// Add) in odd ones. Batch and sequence are symbolic; every layer has its own weights (hidden size
    /// <paramref name="hidden"/>, 2 heads, feed-forward 4x) and its own scalar and shape constants, as exporters write
    /// them. The last layers are padded with Add / Mul nodes so the node count is exactly <paramref name="nodes"/>.
    /// Node results carry no types: <c>infer-shapes</c> gives them theirs.
    /// </summary>
    public static Model Transformer(int nodes, int hidden = 16)
    {
        const int heads = 2;
        int headDim = hidden / heads, ffn = hidden * 4, vocab = 64;
        var g = new Graph("encoder");
        var model = new Model(g) { IrVersion = 8, ProducerName = "alloy-bench" };
        model.Opsets.Add(new OpsetImport("", 17));
        var rng = new Random(1234);
        var ids = g.AddInput("input_ids", new TensorType(DataType.Int64, new Shape(Dim.Named("batch"), Dim.Named("seq"))));
        var mask = g.AddInput("attention_mask", new TensorType(DataType.Float, new Shape(Dim.Named("batch"), 1, 1, Dim.Named("seq"))));
        int count = 0;
        Value Const(string name, DataType type, long[] dims, Func<int, double> value)
        {
            long n = 1;
            foreach (var d in dims) n *= d;
            var bytes = new byte[n * (type == DataType.Int64 ? 8 : 4)];
            for (int i = 0; i < n; i++)
            {
                if (type == DataType.Int64) BitConverter.TryWriteBytes(bytes.AsSpan(i * 8), (long)value(i));
                else BitConverter.TryWriteBytes(bytes.AsSpan(i * 4), (float)value(i));
            }
            return g.AddConstant(name, new TensorConstant(type, [.. dims], new ArrayTensorData(bytes)));
        }
        Value Weight(string name, params long[] dims) => Const(name, DataType.Float, dims, _ => rng.NextDouble() - 0.5);
        Value Scalar(string name, float v) => Const(name, DataType.Float, [], _ => v);
        Value Ints(string name, params long[] v) => Const(name, DataType.Int64, [v.Length], i => v[i]);
        Value Op(string scope, string op, Value?[] inputs, params Attr[] attributes)
        {
            var name = $"{scope}/{op}_{count}";
            var n = g.AddNode(op, inputs, [name + "_output_0"], attributes: attributes);
            n.Name = name;
            count++;
            return n.Outputs[0];
        }

        var x = Op("/embeddings", "Gather", [Weight("embeddings.word.weight", vocab, hidden), ids]);
        x = Op("/embeddings", "Add", [x, Weight("embeddings.position.weight", hidden)]);
        const int layerNodes = 48;
        for (int layer = 0; count + layerNodes <= nodes; layer++)
        {
            string s = $"/encoder/layer.{layer}", w = $"encoder.layer.{layer}";
            // attention
            Value Project(string which, long[] perm)
            {
                var p = Op(s + "/attention", "MatMul", [x, Weight($"{w}.attention.{which}.weight", hidden, hidden)]);
                p = Op(s + "/attention", "Add", [p, Weight($"{w}.attention.{which}.bias", hidden)]);
                p = Op(s + "/attention", "Reshape", [p, Ints($"{w}.attention.{which}.shape", 0, 0, heads, headDim)]);
                return Op(s + "/attention", "Transpose", [p], Attr.Ints("perm", perm));
            }
            var q = Project("query", [0, 2, 1, 3]);
            var k = Project("key", [0, 2, 3, 1]);
            var v = Project("value", [0, 2, 1, 3]);
            var scores = Op(s + "/attention", "MatMul", [q, k]);
            scores = Op(s + "/attention", "Div", [scores, Scalar($"{w}.attention.scale", MathF.Sqrt(headDim))]);
            scores = Op(s + "/attention", "Add", [scores, mask]);
            var probs = Op(s + "/attention", "Softmax", [scores], Attr.Int("axis", -1));
            var context = Op(s + "/attention", "MatMul", [probs, v]);
            context = Op(s + "/attention", "Transpose", [context], Attr.Ints("perm", 0, 2, 1, 3));
            var shape = Op(s + "/attention", "Shape", [x]);
            var batch = Op(s + "/attention", "Unsqueeze", [Op(s + "/attention", "Gather", [shape, Const($"{w}.attention.dim0", DataType.Int64, [], _ => 0)], Attr.Int("axis", 0)), Ints($"{w}.attention.axes0", 0)]);
            var seq = Op(s + "/attention", "Unsqueeze", [Op(s + "/attention", "Gather", [shape, Const($"{w}.attention.dim1", DataType.Int64, [], _ => 1)], Attr.Int("axis", 0)), Ints($"{w}.attention.axes1", 0)]);
            var target = Op(s + "/attention", "Concat", [batch, seq, Ints($"{w}.attention.hidden", hidden)], Attr.Int("axis", 0));
            context = Op(s + "/attention", "Reshape", [context, target]);
            context = Op(s + "/attention/output", "MatMul", [context, Weight($"{w}.attention.output.weight", hidden, hidden)]);
            context = Op(s + "/attention/output", "Add", [context, Weight($"{w}.attention.output.bias", hidden)]);
            x = Op(s + "/attention/output", "Add", [context, x]);
            x = LayerNorm(s + "/attention/output/LayerNorm", $"{w}.attention.output.LayerNorm", x, layer % 2 == 1);
            // feed-forward
            var h = Op(s + "/intermediate", "MatMul", [x, Weight($"{w}.intermediate.weight", hidden, ffn)]);
            h = Op(s + "/intermediate", "Add", [h, Weight($"{w}.intermediate.bias", ffn)]);
            var erf = Op(s + "/intermediate/gelu", "Erf", [Op(s + "/intermediate/gelu", "Div", [h, Scalar($"{w}.gelu.sqrt2", MathF.Sqrt(2))])]);
            erf = Op(s + "/intermediate/gelu", "Add", [erf, Scalar($"{w}.gelu.one", 1)]);
            h = Op(s + "/intermediate/gelu", "Mul", [Op(s + "/intermediate/gelu", "Mul", [h, erf]), Scalar($"{w}.gelu.half", 0.5f)]);
            h = Op(s + "/output", "MatMul", [h, Weight($"{w}.output.weight", ffn, hidden)]);
            h = Op(s + "/output", "Add", [h, Weight($"{w}.output.bias", hidden)]);
            x = Op(s + "/output", "Add", [h, x]);
            x = LayerNorm(s + "/output/LayerNorm", $"{w}.output.LayerNorm", x, layer % 2 == 0);
        }
        for (int i = 0; count < nodes; i++)
            x = Op("/pad", i % 2 == 0 ? "Add" : "Mul", [x, Scalar($"pad.{i}", i % 2 == 0 ? 0.25f : 0.5f)]);
        g.AddOutput(x);
        return model;

        Value LayerNorm(string scope, string w, Value input, bool decomposed)
        {
            var gamma = Weight(w + ".weight", hidden);
            var beta = Weight(w + ".bias", hidden);
            if (!decomposed) return Op(scope, "LayerNormalization", [input, gamma, beta], Attr.Int("axis", -1), Attr.Float("epsilon", 1e-5f));
            var mean = Op(scope, "ReduceMean", [input], Attr.Ints("axes", -1));
            var centered = Op(scope, "Sub", [input, mean]);
            var variance = Op(scope, "ReduceMean", [Op(scope, "Pow", [centered, Scalar(w + ".two", 2)])], Attr.Ints("axes", -1));
            var std = Op(scope, "Sqrt", [Op(scope, "Add", [variance, Scalar(w + ".eps", 1e-5f)])]);
            var normed = Op(scope, "Div", [centered, std]);
            return Op(scope, "Add", [Op(scope, "Mul", [normed, gamma]), beta]);
        }
    }

    /// <summary>
    /// Writes <c>dir/large.onnx</c> whose initializers total <paramref name="gib"/> GiB in the external file
    /// <c>large.onnx.data</c>: filled with a byte pattern when <paramref name="dense"/>, otherwise a sparse file
    /// (zeros that use no disk blocks; note that reading holes through a mapping costs no resident memory, so
    /// peak-memory measurements need the dense form).
    /// </summary>
    public static string WriteLarge(string dir, int gib, bool dense)
    {
        Directory.CreateDirectory(dir);
        var dataPath = Path.Combine(dir, "large.onnx.data");
        const long chunk = 512L << 20;
        long total = gib * (1L << 30);
        using (var fs = new FileStream(dataPath, FileMode.Create, FileAccess.Write))
        {
            fs.SetLength(total);
            var block = new byte[1 << 20];
            for (int i = 0; i < block.Length; i++) block[i] = (byte)(i * 31 + 7);
            for (long off = 0; off < total; off += chunk)
            {
                fs.Position = off;
                fs.Write(BitConverter.GetBytes(off));
                if (!dense) continue;
                for (long p = off + 8; p < off + chunk; p += block.Length)
                    fs.Write(block, 0, (int)Math.Min(block.Length, off + chunk - p));
            }
        }
        var proto = new Alloy.Onnx.Proto.ModelProto { IrVersion = 8, Graph = new Alloy.Onnx.Proto.GraphProto { Name = "large" } };
        proto.OpsetImport.Add(new Alloy.Onnx.Proto.OperatorSetIdProto { Domain = "", Version = 17 });
        var gp = proto.Graph;
        string prev = "x";
        gp.Input.Add(Vi("x", chunk / 4));
        for (long off = 0, i = 0; off < total; off += chunk, i++)
        {
            var t = new Alloy.Onnx.Proto.TensorProto { Name = $"w{i}", DataType = 1, DataLocation = Alloy.Onnx.Proto.TensorProto.Types.DataLocation.External };
            t.Dims.Add(chunk / 4);
            t.ExternalData.Add(new Alloy.Onnx.Proto.StringStringEntryProto { Key = "location", Value = "large.onnx.data" });
            t.ExternalData.Add(new Alloy.Onnx.Proto.StringStringEntryProto { Key = "offset", Value = off.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            t.ExternalData.Add(new Alloy.Onnx.Proto.StringStringEntryProto { Key = "length", Value = chunk.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            gp.Initializer.Add(t);
            var n = new Alloy.Onnx.Proto.NodeProto { OpType = "Add", Name = $"add{i}" };
            n.Input.Add(prev);
            n.Input.Add($"w{i}");
            n.Output.Add($"y{i}");
            gp.Node.Add(n);
            prev = $"y{i}";
        }
        gp.Output.Add(Vi(prev, chunk / 4));
        var modelPath = Path.Combine(dir, "large.onnx");
        using (var fs = File.Create(modelPath)) Google.Protobuf.MessageExtensions.WriteTo(proto, fs);
        return modelPath;

        static Alloy.Onnx.Proto.ValueInfoProto Vi(string name, long n)
        {
            var shape = new Alloy.Onnx.Proto.TensorShapeProto();
            shape.Dim.Add(new Alloy.Onnx.Proto.TensorShapeProto.Types.Dimension { DimValue = n });
            return new Alloy.Onnx.Proto.ValueInfoProto
            {
                Name = name,
                Type = new Alloy.Onnx.Proto.TypeProto { TensorType = new Alloy.Onnx.Proto.TypeProto.Types.Tensor { ElemType = 1, Shape = shape } },
            };
        }
    }
}
