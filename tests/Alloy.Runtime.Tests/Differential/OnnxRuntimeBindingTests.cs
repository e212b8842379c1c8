using System.Runtime.InteropServices;
using Alloy.OnnxRuntime;
using Alloy.Onnx.Proto;
using Google.Protobuf;
using Xunit;

namespace Alloy.Runtime.Tests.Differential;

/// <summary>
/// The ONNX Runtime binding on tiny models built here, with exact expected values: names, declared types, every bound
/// element type in both directions, and ONNX Runtime's error messages.
/// </summary>
public sealed class OnnxRuntimeBindingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("alloy-ort-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void AddThenMatMulGiveExactValues()
    {
        OrtRequirement.Check();
        // S = A + B (2x3), Y = S @ W (3x2), W an initializer.
        var path = Write("add_matmul", Graph(
            [Info("A", ElementType.Float, 2, 3), Info("B", ElementType.Float, 2, 3)],
            [Info("S", ElementType.Float, 2, 3), Info("Y", ElementType.Float, 2, 2)],
            [Node("Add", ["A", "B"], ["S"]), Node("MatMul", ["S", "W"], ["Y"])],
            [Initializer("W", ElementType.Float, [3, 2], new float[] { 1, 2, 3, 4, 5, 6 })]));
        using var session = new OrtSession(path, 1);
        Assert.Equal(["A", "B"], session.Inputs);
        Assert.Equal(["S", "Y"], session.Outputs);
        Assert.Equal(ElementType.Float, session.InputInfo[0].Type);
        Assert.Equal([2L, 3L], session.InputInfo[0].Dims!);
        Assert.Equal([2L, 2L], session.OutputInfo[1].Dims!);

        using var a = Tensor.FromFloats([2, 3], [1, 2, 3, 4, 5, 6]);
        using var b = Tensor.FromFloats([2, 3], [0.5f, -1, 0.25f, 10, -20, 30]);
        var results = session.Run(new Dictionary<string, Tensor> { ["A"] = a, ["B"] = b });
        try
        {
            Assert.Equal(2, results.Length);
            Assert.Equal(ElementType.Float, results[0].Type);
            Assert.Equal([2L, 3L], results[0].Shape);
            Assert.Equal([1.5f, 1, 3.25f, 14, -15, 36], results[0].ToArray<float>());
            // [1.5, 1, 3.25] @ [[1,2],[3,4],[5,6]] = [20.75, 26.5]; [14, -15, 36] @ … = [149, 184]
            Assert.Equal([2L, 2L], results[1].Shape);
            Assert.Equal([20.75f, 26.5f, 149, 184], results[1].ToArray<float>());
        }
        finally
        {
            foreach (var t in results) t.Dispose();
        }
    }

    public static TheoryData<ElementType> BoundTypes() =>
    [
        ElementType.Float, ElementType.Double, ElementType.Float16, ElementType.BFloat16,
        ElementType.Int8, ElementType.Int16, ElementType.Int32, ElementType.Int64,
        ElementType.UInt8, ElementType.UInt16, ElementType.UInt32, ElementType.UInt64, ElementType.Bool,
    ];

    /// <summary>Identity returns exactly what went in: bytes, element type and shape survive both directions.</summary>
    [Theory]
    [MemberData(nameof(BoundTypes))]
    public void EveryBoundElementTypeRoundTrips(ElementType type)
    {
        OrtRequirement.Check();
        var path = Write($"identity_{type}", Graph([Info("x", type, 2, 3)], [Info("y", type, 2, 3)], [Node("Identity", ["x"], ["y"])]));
        using var session = new OrtSession(path, 1);
        Assert.Equal(type, session.InputInfo[0].Type);
        Assert.Equal(type, session.OutputInfo[0].Type);
        using var x = Tensor.Create(type, [2, 3]);
        var bytes = x.Bytes;
        for (int i = 0; i < bytes.Length; i++) bytes[i] = (byte)(0x5A ^ (i * 37));
        if (type == ElementType.Bool) for (int i = 0; i < bytes.Length; i++) bytes[i] = (byte)(i % 2);
        var y = Assert.Single(session.Run(new Dictionary<string, Tensor> { ["x"] = x }));
        using (y)
        {
            Assert.Equal(type, y.Type);
            Assert.Equal([2L, 3L], y.Shape);
            Assert.Equal(x.Bytes.ToArray(), y.Bytes.ToArray());
        }
    }

    /// <summary>ONNX Runtime computes on the values it was given and hands back what it computed, per type.</summary>
    [Fact]
    public void TypedArithmeticAndCastsGiveExactValues()
    {
        OrtRequirement.Check();
        var path = Write("typed", Graph(
            [Info("f", ElementType.Float, 4), Info("d", ElementType.Double, 2), Info("l", ElementType.Int64, 2), Info("u", ElementType.UInt8, 2)],
            [Info("d2", ElementType.Double, 2), Info("l2", ElementType.Int64, 2), Info("h", ElementType.Float16, 4), Info("bf", ElementType.BFloat16, 4),
             Info("i", ElementType.Int32, 4), Info("pos", ElementType.Bool, 4), Info("u2", ElementType.UInt8, 2)],
            [
                Node("Add", ["d", "d"], ["d2"]), Node("Mul", ["l", "l"], ["l2"]),
                Node("Cast", ["f"], ["h"], IntAttr("to", (long)ElementType.Float16)),
                Node("Cast", ["f"], ["bf"], IntAttr("to", (long)ElementType.BFloat16)),
                Node("Cast", ["f"], ["i"], IntAttr("to", (long)ElementType.Int32)),
                Node("Greater", ["f", "zero"], ["pos"]), Node("Add", ["u", "u"], ["u2"]),
            ],
            [Initializer("zero", ElementType.Float, [], new float[] { 0 })]));
        using var session = new OrtSession(path, 1);
        using var f = Tensor.FromFloats([4], [1.5f, -2, 65504, 0.1f]);
        using var d = Tensor.FromArray(ElementType.Double, [2], new double[] { 0.1, -1e300 });
        using var l = Tensor.FromArray(ElementType.Int64, [2], new long[] { 3_000_000_000, -7 });
        using var u = Tensor.FromArray(ElementType.UInt8, [2], new byte[] { 200, 3 });
        var r = session.Run(new Dictionary<string, Tensor> { ["f"] = f, ["d"] = d, ["l"] = l, ["u"] = u });
        try
        {
            Assert.Equal(session.Outputs.Count, r.Length);
            Assert.Equal([0.2, -2e300], r[0].ToArray<double>());
            Assert.Equal([9_000_000_000_000_000_000L, 49], r[1].ToArray<long>());
            Assert.Equal(ElementType.Float16, r[2].Type);
            Assert.Equal([(ushort)0x3E00, (ushort)0xC000, (ushort)0x7BFF, (ushort)0x2E66], r[2].ToArray<ushort>()); // 1.5, -2, 65504, 0.1 (RNE)
            Assert.Equal(ElementType.BFloat16, r[3].Type);
            Assert.Equal([(ushort)0x3FC0, (ushort)0xC000, (ushort)0x4780, (ushort)0x3DCD], r[3].ToArray<ushort>()); // 65504 rounds to 65536
            Assert.Equal([1, -2, 65504, 0], r[4].ToArray<int>());
            Assert.Equal(ElementType.Bool, r[5].Type);
            Assert.Equal([(byte)1, (byte)0, (byte)1, (byte)1], r[5].ToArray<byte>());
            Assert.Equal([(byte)144, (byte)6], r[6].ToArray<byte>()); // 400 wraps
        }
        finally
        {
            foreach (var t in r) t.Dispose();
        }
    }

    [Fact]
    public void FreeDimensionsAreMinusOneAndFollowTheInput()
    {
        OrtRequirement.Check();
        var path = Write("relu_dynamic", Graph([Info("x", ElementType.Float, -1, 2)], [Info("y", ElementType.Float, -1, 2)], [Node("Relu", ["x"], ["y"])]));
        using var session = new OrtSession(path, 1);
        Assert.Equal([-1L, 2L], session.InputInfo[0].Dims!);
        using var x = Tensor.FromFloats([3, 2], [-1, 2, -3, 4, 0, -0.5f]);
        var y = Assert.Single(session.Run(new Dictionary<string, Tensor> { ["x"] = x }));
        using (y)
        {
            Assert.Equal([3L, 2L], y.Shape);
            Assert.Equal([0f, 2, 0, 4, 0, 0], y.ToArray<float>());
        }
        // An empty batch runs too.
        using var empty = Tensor.Create(ElementType.Float, [0, 2]);
        var e = Assert.Single(session.Run(new Dictionary<string, Tensor> { ["x"] = empty }));
        using (e) Assert.Equal([0L, 2L], e.Shape);
    }

    [Fact]
    public void ErrorsCarryOnnxRuntimesMessage()
    {
        OrtRequirement.Check();
        var missing = Path.Combine(_dir, "no-such-model.onnx");
        var e1 = Assert.Throws<OrtException>(() => new OrtSession(missing, 1));
        Assert.Equal("CreateSession", e1.Function);
        Assert.Contains("no-such-model.onnx", e1.OrtMessage);

        var garbage = Path.Combine(_dir, "garbage.onnx");
        File.WriteAllBytes(garbage, [0xFF, 0xFF, 0xFF, 0x01, 0x02]);
        var e2 = Assert.Throws<OrtException>(() => new OrtSession(garbage, 1));
        Assert.NotEqual(0, e2.Code);
        Assert.False(string.IsNullOrWhiteSpace(e2.OrtMessage));

        var path = Write("relu", Graph([Info("x", ElementType.Float, 2)], [Info("y", ElementType.Float, 2)], [Node("Relu", ["x"], ["y"])]));
        using var session = new OrtSession(path, 1);
        using var good = Tensor.FromFloats([2], [1, -1]);
        var e3 = Assert.Throws<OrtException>(() => session.Run(new Dictionary<string, Tensor> { ["nope"] = good }));
        Assert.Equal("Run", e3.Function);
        Assert.Contains("nope", e3.OrtMessage);
        using var wrongShape = Tensor.FromFloats([3], [1, 2, 3]);
        var e4 = Assert.Throws<OrtException>(() => session.Run(new Dictionary<string, Tensor> { ["x"] = wrongShape }));
        Assert.Contains("x", e4.Message);
        using var wrongType = Tensor.FromArray(ElementType.Int32, [2], new[] { 1, 2 });
        var e5 = Assert.Throws<OrtException>(() => session.Run(new Dictionary<string, Tensor> { ["x"] = wrongType }));
        Assert.Contains("type", e5.OrtMessage, StringComparison.OrdinalIgnoreCase);
        using var str = Tensor.FromStrings([1], ["a"]);
        Assert.Throws<NotSupportedException>(() => session.Run(new Dictionary<string, Tensor> { ["x"] = str }));
    }

    [Fact]
    public void SessionsComeAndGoAndRunConcurrently()
    {
        OrtRequirement.Check();
        var path = Write("neg", Graph([Info("x", ElementType.Float, 4)], [Info("y", ElementType.Float, 4)], [Node("Neg", ["x"], ["y"])]));
        for (int round = 0; round < 3; round++)
        {
            // The process-wide environment is released with the last session and made again by the next.
            using var session = new OrtSession(path, 1);
            Parallel.For(0, 8, i =>
            {
                using var x = Tensor.FromFloats([4], [i, -i, 0.5f * i, round]);
                var y = Assert.Single(session.Run(new Dictionary<string, Tensor> { ["x"] = x }));
                using (y) Assert.Equal([-i, i, -0.5f * i, -round], y.ToArray<float>());
            });
        }
        var disposed = new OrtSession(path, 1);
        disposed.Dispose();
        disposed.Dispose();
        using var z = Tensor.FromFloats([4], [1, 2, 3, 4]);
        Assert.Throws<ObjectDisposedException>(() => disposed.Run(new Dictionary<string, Tensor> { ["x"] = z }));
    }

    // --- tiny model builders (Alloy.Onnx.Proto) ---

    private string Write(string name, GraphProto graph)
    {
        var model = new ModelProto { IrVersion = 8, ProducerName = "alloy-ort-binding-tests", Graph = graph };
        model.Graph.Name = name;
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        var path = Path.Combine(_dir, name + ".onnx");
        using (var s = File.Create(path)) model.WriteTo(s);
        return path;
    }

    private static GraphProto Graph(ValueInfoProto[] inputs, ValueInfoProto[] outputs, NodeProto[] nodes, TensorProto[]? initializers = null)
    {
        var g = new GraphProto();
        g.Input.AddRange(inputs);
        g.Output.AddRange(outputs);
        g.Node.AddRange(nodes);
        if (initializers is not null) g.Initializer.AddRange(initializers);
        return g;
    }

    /// <summary>A tensor value info; a negative dim is a free dim named N.</summary>
    private static ValueInfoProto Info(string name, ElementType type, params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d < 0 ? new TensorShapeProto.Types.Dimension { DimParam = "N" } : new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } } };
    }

    private static NodeProto Node(string op, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var n = new NodeProto { OpType = op, Name = $"{op}_{string.Join("_", outputs)}" };
        n.Input.AddRange(inputs);
        n.Output.AddRange(outputs);
        n.Attribute.AddRange(attributes);
        return n;
    }

    private static AttributeProto IntAttr(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    private static TensorProto Initializer<T>(string name, ElementType type, long[] dims, T[] values) where T : unmanaged
    {
        var t = new TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan())) };
        t.Dims.AddRange(dims);
        return t;
    }
}
