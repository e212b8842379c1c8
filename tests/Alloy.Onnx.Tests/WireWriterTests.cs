using System.Collections.Immutable;
using Alloy.IR;
using Alloy.Onnx.Proto;
using Google.Protobuf;
using Xunit;
using static Alloy.Onnx.Tests.ProtoBuilder;

namespace Alloy.Onnx.Tests;

/// <summary>
/// <see cref="OnnxWireWriter"/> writes exactly the bytes of the generated-class path (<see cref="ReferenceProtoBuilder"/>,
/// serialized by Google.Protobuf): every conformance, corpus and feature model, external placement, opaque model
/// fields, and strings and data large enough to cross the streaming buffer.
/// </summary>
public sealed class WireWriterTests : IDisposable
{
    private const string MissingConformance = "<conformance models missing>";
    private const string MissingCorpus = "<corpus missing>";

    private readonly TempFolder _tmp = new("wire");

    public void Dispose() => _tmp.Dispose();

    public static IEnumerable<object[]> ConformanceModels()
    {
        var models = TestEnvironment.ConformanceModels();
        if (models is null || models.Count == 0) return [[MissingConformance]];
        return models.Select(m => new object[] { m });
    }

    public static IEnumerable<object[]> CorpusModels()
    {
        var models = TestEnvironment.CorpusModels();
        if (models is null || models.Count == 0) return [[MissingCorpus]];
        return models.Select(m => new object[] { m });
    }

    public static TheoryData<string> Features() => [.. FeatureModels.All().Select(f => f.Name)];

    [Theory]
    [MemberData(nameof(ConformanceModels))]
    public void ConformanceModelBytesEqualTheReference(string model)
    {
        Assert.True(model != MissingConformance, TestEnvironment.MissingConformanceMessage);
        using var m = OnnxImporter.Load(Path.Combine(TestEnvironment.ConformanceRoot, model));
        AssertSameBytes(m);
    }

    [Theory]
    [MemberData(nameof(CorpusModels))]
    public void CorpusModelBytesEqualTheReference(string model)
    {
        Assert.True(model != MissingCorpus, TestEnvironment.MissingCorpusMessage);
        using var m = OnnxImporter.Load(Path.Combine(TestEnvironment.CorpusRoot, model));
        AssertSameBytes(m);
        AssertSavedAsReference(m, 1024);
    }

    [Theory]
    [MemberData(nameof(Features))]
    public void FeatureModelBytesEqualTheReference(string feature)
    {
        using var m = LoadFeature(feature);
        AssertSameBytes(m);
        AssertSavedAsReference(m, 1);
    }

    /// <summary>Initializers of subgraphs, of function attribute defaults and of subgraphs in function bodies go to the
    /// data file in the exporter's order: each graph's own before its nodes' subgraphs, the main graph before functions.</summary>
    [Fact]
    public void NestedInitializersArePlacedInTheReferenceOrder()
    {
        var w = FloatTensor("w", [2, 3], [0, 1, 2, 3, 4, 5]);
        var thenBranch = Graph("then", [], [Tensor("t", Float, 2, 3)], [Node("Add", "then_add", ["x", "tw"], ["t"])],
            [FloatTensor("tw", [2, 3], [6, 7, 8, 9, 10, 11])]);
        var elseBranch = Graph("else", [], [Tensor("e", Float, 2, 3)], [Node("Sub", "else_sub", ["x", "ew"], ["e"])],
            [FloatTensor("ew", [2, 3], [12, 13, 14, 15, 16, 17]), FloatTensor("ew2", [1], [18])]);
        var g = Graph("g", [Tensor("x", Float, 2, 3), Tensor("c", FeatureModels.BoolType)], [Tensor("y", Float, 2, 3)],
            [Node("If", "if", ["c"], ["i"], GraphAttribute("then_branch", thenBranch), GraphAttribute("else_branch", elseBranch)),
             Node("Add", "add", ["i", "w"], ["y"])],
            [w, FloatTensor("w_last", [2], [19, 20])]);
        var f = new FunctionProto { Name = "Fn", Domain = "custom" };
        f.Input.Add("a");
        f.Output.Add("b");
        f.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        f.AttributeProto.Add(GraphAttribute("body_default",
            Graph("fdef", [], [Tensor("fo", Float, 1)], [Node("Identity", "fdef_id", ["fk"], ["fo"])], [FloatTensor("fk", [1], [21])])));
        f.Node.Add(Node("If", "fn_if", ["a"], ["b"],
            GraphAttribute("then_branch", Graph("fthen", [], [Tensor("ft", Float, 1)], [Node("Identity", "ft_id", ["fw"], ["ft"])], [FloatTensor("fw", [1], [22])])),
            GraphAttribute("else_branch", Graph("felse", [], [Tensor("fe", Float, 1)], [Node("Identity", "fe_id", ["fv"], ["fe"])], [FloatTensor("fv", [1], [23])]))));
        var proto = Model(g);
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "custom", Version = 1 });
        proto.Functions.Add(f);
        using var m = OnnxImporter.Load(ProtoBuilder.Write(proto, _tmp.File("nested.onnx")));
        AssertSameBytes(m);
        var data = AssertSavedAsReference(m, 1);
        Assert.True(data.Length > 7 * 64, $"all eight initializers went to the data file ({data.Length} bytes)");
    }

    /// <summary>Opaque extra fields merge as <c>ModelProto.MergeFrom</c> would: set scalars replace the model's, repeated
    /// entries follow the model's own, re-encoded; the configuration and unknown fields come last, grouped by number
    /// and wire type. Training info is re-encoded the same way.</summary>
    [Fact]
    public void OpaqueFieldsAreWrittenAsMergeFromWould()
    {
        using var m = SmallModel();
        m.OpaqueExtraFields = ExtraFields(withGraph: false);
        // A training-info record in a non-canonical order (update_binding before algorithm).
        var ti = new MemoryStream();
        var cos = new CodedOutputStream(ti);
        cos.WriteTag(TrainingInfoProto.UpdateBindingFieldNumber, WireFormat.WireType.LengthDelimited);
        cos.WriteMessage(new StringStringEntryProto { Key = "w", Value = "w_new" });
        cos.WriteTag(TrainingInfoProto.AlgorithmFieldNumber, WireFormat.WireType.LengthDelimited);
        cos.WriteMessage(Graph("algo", [], [Tensor("w_new", Float, 2)], [Node("Identity", "upd", ["w"], ["w_new"])]));
        cos.WriteTag(99, WireFormat.WireType.Varint);
        cos.WriteInt64(-1);
        cos.Flush();
        m.OpaqueTrainingInfo.Add(ti.ToArray());
        m.OpaqueTrainingInfo.Add(new TrainingInfoProto().ToByteArray());
        AssertSameBytes(m);
        AssertSavedAsReference(m, 1);
    }

    /// <summary>Extra fields holding a graph record merge into the written graph.</summary>
    [Fact]
    public void OpaqueFieldsThatMergeIntoTheGraph()
    {
        using var m = SmallModel();
        m.OpaqueExtraFields = ExtraFields(withGraph: true);
        AssertSameBytes(m);
        AssertSavedAsReference(m, 1);
    }

    /// <summary>Strings around the one-byte length prefix limit, in several scripts, and large ones.</summary>
    [Fact]
    public void StringsOfEveryLength()
    {
        using var m = SmallModel();
        var g = m.Graph;
        var x = g.Inputs[0];
        var pieces = new[] { "a", "é", "漢", "🙂", "x\u0000y", "\uD800", "a\uDC00" };
        int i = 0;
        foreach (var piece in pieces)
        {
            foreach (int count in new[] { 0, 1, 41, 42, 43, 44, 63, 64, 127, 128, 129, 5000, 70_000 })
            {
                var text = string.Concat(Enumerable.Repeat(piece, count));
                var n = g.AddNode("Custom", [x], [$"s{i}"], domain: "cust",
                    attributes: [Attr.String("s", text), new Attr("ss", new StringsAttr([text, "", text]))]);
                n.Name = text.Length > 0 ? text + i : "";
                n.DocString = text;
                n.Outputs[0].Type = new TensorType(DataType.Float, new Shape(Dim.Named(text.Length > 0 ? text : "N")));
                i++;
            }
        }
        AssertSameBytes(m);
        AssertSavedAsReference(m, 1);
    }

    /// <summary>A model of several MiB (many nodes, a string attribute and embedded mapped data each above the
    /// 1 MiB streaming buffer) saves to the reference bytes.</summary>
    [Fact]
    public void LargeModelStreamsToTheReferenceBytes()
    {
        var weights = new byte[3 << 20];
        new Random(7).NextBytes(weights);
        var dataFile = _tmp.File("weights.bin");
        File.WriteAllBytes(dataFile, [.. new byte[64], .. weights]);
        var proto = Model(Graph("g", [Tensor("x", Float, weights.Length / 4)], [Tensor("y", Float, weights.Length / 4)],
            [Node("Add", "add", ["x", "big"], ["y"])],
            [ExternalFloatTensor("big", [weights.Length / 4], "weights.bin", 64, weights.Length)]));
        using var m = OnnxImporter.Load(ProtoBuilder.Write(proto, _tmp.File("large.onnx")));
        Assert.True(m.Graph.Constants[0].Constant!.Data is not ArrayTensorData, "the external weights are read in place");
        var g = m.Graph;
        var cur = g.Outputs[0];
        var type = new TensorType(DataType.Float, new Shape(Dim.Named("N"), 16));
        for (int k = 0; k < 50_000; k++)
        {
            var n = g.AddNode(k % 2 == 0 ? "Relu" : "Transpose", [cur], [$"t{k}"],
                attributes: k % 2 == 0 ? null : [Attr.Ints("perm", 0, 1)]);
            n.Name = $"n{k}";
            cur = n.Outputs[0];
            cur.Type = type;
        }
        g.AddNode("Custom", [cur], ["blob_out"], domain: "cust", attributes: [Attr.String("blob", new string('b', (1 << 20) + 3))]);
        AssertSameBytes(m);
        AssertSavedAsReference(m, null);
        AssertSavedAsReference(m, 1 << 20);
    }

    [Fact]
    public void TensorsWithoutBytesAreRejected()
    {
        using var m = SmallModel();
        m.Graph.AddConstant("digest_only", new TensorConstant(DataType.Float, [4], new DigestTensorData("abc", 16)));
        var e = Assert.Throws<InvalidOperationException>(() => OnnxWireWriter.ToBytes(m));
        Assert.Contains("has no bytes", e.Message);
    }

    [Fact]
    public void StreamAndProtoFormsAgreeWithTheBytes()
    {
        using var m = SmallModel();
        m.OpaqueExtraFields = ExtraFields(withGraph: false);
        var bytes = OnnxWireWriter.ToBytes(m);
        using var s = new MemoryStream();
        OnnxWireWriter.WriteTo(m, s);
        Assert.Equal(bytes, s.ToArray());
        Assert.Equal(ModelProto.Parser.ParseFrom(bytes), OnnxExporter.ToProto(m));
        Assert.Equal(bytes, OnnxExporter.ToProto(m).ToByteArray());
    }

    // ---- helpers ----

    private static void AssertSameBytes(Model model)
    {
        var expected = ReferenceProtoBuilder.ToProto(model).ToByteArray();
        AssertBytes(expected, OnnxWireWriter.ToBytes(model), "ToBytes");
    }

    /// <summary>Saves with <paramref name="threshold"/> and compares both files with the reference; returns the data file's bytes.</summary>
    private byte[] AssertSavedAsReference(Model model, long? threshold)
    {
        var path = _tmp.File($"saved-{Guid.NewGuid():N}.onnx");
        OnnxExporter.Save(model, path, new ExportOptions { ExternalDataThreshold = threshold });
        byte[] expected, data = [];
        if (threshold is { } th) expected = ReferenceProtoBuilder.ToProto(model, Path.GetFileName(path) + ".data", th, out data).ToByteArray();
        else expected = ReferenceProtoBuilder.ToProto(model).ToByteArray();
        AssertBytes(expected, File.ReadAllBytes(path), "Save");
        if (data.Length == 0) Assert.False(File.Exists(path + ".data"), "no constant went external, yet a data file was written");
        else AssertBytes(data, File.ReadAllBytes(path + ".data"), "the data file");
        return data;
    }

    private static void AssertBytes(byte[] expected, byte[] actual, string what)
    {
        if (expected.AsSpan().SequenceEqual(actual)) return;
        int at = 0;
        while (at < expected.Length && at < actual.Length && expected[at] == actual[at]) at++;
        Assert.Fail($"{what}: {actual.Length} bytes, the reference has {expected.Length}; first difference at byte {at}");
    }

    private Model LoadFeature(string name)
    {
        var (_, proto, files) = FeatureModels.All().Single(f => f.Name == name);
        var dir = Path.Combine(_tmp.Path, "feature-" + name);
        Directory.CreateDirectory(dir);
        foreach (var (file, bytes) in files) File.WriteAllBytes(Path.Combine(dir, file), bytes);
        return OnnxImporter.Load(ProtoBuilder.Write(proto, Path.Combine(dir, "model.onnx")));
    }

    private static Model SmallModel()
    {
        var g = new Graph("small");
        var model = new Model(g) { IrVersion = 9, ProducerName = "tests", DocString = "doc" };
        model.Opsets.Add(new OpsetImport("", 17));
        model.Metadata.Add(new("k", "v"));
        var x = g.AddInput("x", new TensorType(DataType.Float, Shape.Of(2)));
        var w = g.AddConstant("w", new TensorConstant(DataType.Float, [2], new ArrayTensorData(new byte[8])));
        var n = g.AddNode("Add", [x, w], ["y"]);
        n.Outputs[0].Type = new TensorType(DataType.Float, Shape.Of(2));
        g.AddOutput(n.Outputs[0]);
        return model;
    }

    /// <summary>Serialized extra model fields: scalars that override, repeated entries, a configuration entry in
    /// non-canonical field order, and unknown fields of every wire type, interleaved.</summary>
    private static byte[] ExtraFields(bool withGraph)
    {
        var s = new MemoryStream();
        var o = new CodedOutputStream(s);
        o.WriteTag(1000, WireFormat.WireType.Varint);
        o.WriteInt64(300);
        o.WriteTag(ModelProto.ConfigurationFieldNumber, WireFormat.WireType.LengthDelimited);
        var config = new MemoryStream();
        var c = new CodedOutputStream(config);
        c.WriteTag(DeviceConfigurationProto.DeviceFieldNumber, WireFormat.WireType.LengthDelimited);
        c.WriteString("gpu0");
        c.WriteTag(DeviceConfigurationProto.NameFieldNumber, WireFormat.WireType.LengthDelimited);
        c.WriteString("cfg");
        c.Flush();
        o.WriteBytes(ByteString.CopyFrom(config.ToArray()));
        o.WriteTag(1001, WireFormat.WireType.Fixed32);
        o.WriteFixed32(7);
        o.WriteTag(ModelProto.ProducerNameFieldNumber, WireFormat.WireType.LengthDelimited);
        o.WriteString("override");
        o.WriteTag(ModelProto.OpsetImportFieldNumber, WireFormat.WireType.LengthDelimited);
        o.WriteMessage(new OperatorSetIdProto { Domain = "extra", Version = 2 });
        o.WriteTag(1000, WireFormat.WireType.Fixed64);
        o.WriteFixed64(9);
        o.WriteTag(1002, WireFormat.WireType.LengthDelimited);
        o.WriteString("unknown");
        o.WriteTag(1000, WireFormat.WireType.Varint);
        o.WriteInt64(-5);
        o.WriteTag(ModelProto.MetadataPropsFieldNumber, WireFormat.WireType.LengthDelimited);
        o.WriteMessage(new StringStringEntryProto { Key = "extra", Value = "entry" });
        o.WriteTag(1003, WireFormat.WireType.StartGroup);
        o.WriteTag(1, WireFormat.WireType.Varint);
        o.WriteInt32(4);
        o.WriteTag(1003, WireFormat.WireType.EndGroup);
        o.WriteTag(ModelProto.ModelVersionFieldNumber, WireFormat.WireType.Varint);
        o.WriteInt64(42);
        o.WriteTag(ModelProto.TrainingInfoFieldNumber, WireFormat.WireType.LengthDelimited);
        o.WriteMessage(new TrainingInfoProto { UpdateBinding = { new StringStringEntryProto { Key = "a", Value = "b" } } });
        o.WriteTag(ModelProto.FunctionsFieldNumber, WireFormat.WireType.LengthDelimited);
        o.WriteMessage(new FunctionProto { Name = "ExtraFn", Domain = "extra" });
        if (withGraph)
        {
            o.WriteTag(ModelProto.GraphFieldNumber, WireFormat.WireType.LengthDelimited);
            o.WriteMessage(new GraphProto { DocString = "merged doc", Node = { Node("Relu", "merged", ["y"], ["z"]) } });
        }
        o.WriteTag(ModelProto.IrVersionFieldNumber, WireFormat.WireType.Varint);
        o.WriteInt64(10);
        o.Flush();
        return s.ToArray();
    }
}
