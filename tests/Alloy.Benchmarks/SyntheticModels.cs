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
