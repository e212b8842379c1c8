using System.Runtime.InteropServices;
using Alloy.Onnx.Proto;
using Google.Protobuf;

namespace Alloy.Onnx.Tests;

/// <summary>Small helpers to build ONNX models with the generated <see cref="Alloy.Onnx.Proto"/> classes.</summary>
public static class ProtoBuilder
{
    public const int Float = 1;
    public const int I64 = 7;

    public static ModelProto Model(GraphProto graph, long irVersion = 8, long opset = 17)
    {
        var m = new ModelProto { IrVersion = irVersion, ProducerName = "alloy-onnx-tests", Graph = graph };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        return m;
    }

    public static GraphProto Graph(string name, IEnumerable<ValueInfoProto> inputs, IEnumerable<ValueInfoProto> outputs, IEnumerable<NodeProto> nodes,
        IEnumerable<TensorProto>? initializers = null)
    {
        var g = new GraphProto { Name = name };
        g.Input.AddRange(inputs);
        g.Output.AddRange(outputs);
        g.Node.AddRange(nodes);
        if (initializers is not null) g.Initializer.AddRange(initializers);
        return g;
    }

    public static ValueInfoProto Tensor(string name, int elemType, params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = elemType, Shape = shape } },
        };
    }

    public static NodeProto Node(string opType, string name, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var n = new NodeProto { OpType = opType, Name = name };
        n.Input.AddRange(inputs);
        n.Output.AddRange(outputs);
        n.Attribute.AddRange(attributes);
        return n;
    }

    public static AttributeProto GraphAttribute(string name, GraphProto g) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Graph, G = g };

    public static TensorProto FloatTensor(string name, long[] dims, float[] values)
    {
        var t = new TensorProto { Name = name, DataType = Float };
        t.Dims.AddRange(dims);
        t.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
        return t;
    }

    /// <summary>A float tensor whose data lives in an external-data file.</summary>
    public static TensorProto ExternalFloatTensor(string name, long[] dims, string location, long offset, long? length = null)
    {
        var t = new TensorProto { Name = name, DataType = Float, DataLocation = TensorProto.Types.DataLocation.External };
        t.Dims.AddRange(dims);
        t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
        t.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        if (length is { } l)
            t.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = l.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        return t;
    }

    public static string Write(ModelProto model, string path)
    {
        using (var s = File.Create(path)) model.WriteTo(s);
        return path;
    }

    /// <summary>x → Relu → Neg → Abs → Sigmoid → Exp → y: a chain whose only topological order is this one.</summary>
    public static ModelProto Chain()
    {
        string[] ops = ["Relu", "Neg", "Abs", "Sigmoid", "Exp", "Softsign"];
        var nodes = new List<NodeProto>();
        string prev = "x";
        for (int i = 0; i < ops.Length; i++)
        {
            string output = i == ops.Length - 1 ? "y" : $"t{i}";
            nodes.Add(Node(ops[i], $"n{i}_{ops[i].ToLowerInvariant()}", [prev], [output]));
            prev = output;
        }
        return Model(Graph("chain", [Tensor("x", Float, 2, 3)], [Tensor("y", Float, 2, 3)], nodes));
    }
}
