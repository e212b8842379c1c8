using Alloy.Onnx.Proto;
using Xunit;
using static Alloy.Onnx.Tests.ProtoBuilder;

namespace Alloy.Onnx.Tests;

/// <summary>Broken files fail with an <see cref="OnnxImportException"/> that names the file, the node and the reason.</summary>
public sealed class BadInputTests : IDisposable
{
    private readonly TempFolder _tmp = new("bad");

    public void Dispose() => _tmp.Dispose();

    private static OnnxImportException AssertFails(string path, string reason, string? node = null)
    {
        var e = Assert.Throws<OnnxImportException>(() => { using var _ = OnnxImporter.Load(path); });
        Assert.Contains(Path.GetFileName(path), e.Message);
        Assert.Contains(reason, e.Message);
        if (node is not null) Assert.Contains(node, e.Message);
        return e;
    }

    private string Save(ModelProto model, string name) => ProtoBuilder.Write(model, _tmp.File(name));

    /// <summary>x → Relu 'r' → y with a 2x2 float initializer 'w' (a valid model the cases break).</summary>
    private static ModelProto Valid() => Model(Graph("g",
        [Tensor("x", Float, 2, 2)], [Tensor("y", Float, 2, 2)],
        [Node("Add", "add", ["x", "w"], ["s"]), Node("Relu", "relu", ["s"], ["y"])],
        [FloatTensor("w", [2, 2], [1, 2, 3, 4])]));

    [Fact]
    public void ValidModelImports()
    {
        using var m = OnnxImporter.Load(Save(Valid(), "valid.onnx"));
        Assert.Equal(2, m.Graph.NodeCount);
    }

    [Fact]
    public void RandomBytes()
    {
        var bytes = new byte[4096];
        new Random(7).NextBytes(bytes);
        var path = _tmp.File("random.onnx");
        File.WriteAllBytes(path, bytes);
        AssertFails(path, "not a valid ONNX protobuf");
    }

    [Fact]
    public void TextFile()
    {
        var path = _tmp.File("notes.onnx");
        File.WriteAllText(path, "This is a text file, not an ONNX model.\nIt has two lines.\n");
        AssertFails(path, "not a valid ONNX protobuf");
    }

    [Fact]
    public void EmptyFile()
    {
        var path = _tmp.File("empty.onnx");
        File.WriteAllBytes(path, []);
        AssertFails(path, "the file is empty");
    }

    [Fact]
    public void TruncatedModel()
    {
        // Half of a real model: the corpus's digits_cnn if present, else a model with a big initializer.
        var corpusModel = Path.Combine(TestEnvironment.CorpusRoot, "models", "trained", "digits_cnn", "digits_cnn.opset13.onnx");
        byte[] whole = File.Exists(corpusModel)
            ? File.ReadAllBytes(corpusModel)
            : Google.Protobuf.MessageExtensions.ToByteArray(Model(Graph("g", [Tensor("x", Float, 64)], [Tensor("y", Float, 64)],
                [Node("Add", "add", ["x", "w"], ["y"])], [FloatTensor("w", [64], new float[64])])));
        var path = _tmp.File("truncated.onnx");
        File.WriteAllBytes(path, whole[..(whole.Length / 2)]);
        AssertFails(path, "truncated");
    }

    [Fact]
    public void MissingFile() => AssertFails(_tmp.File("nowhere.onnx"), "file not found");

    private ModelProto WithExternal(long offset, long? length)
    {
        var m = Valid();
        m.Graph.Initializer.Clear();
        m.Graph.Initializer.Add(ExternalFloatTensor("w", [2, 2], "weights.bin", offset, length));
        return m;
    }

    [Fact]
    public void ExternalDataFileMissing()
    {
        var e = AssertFails(Save(WithExternal(0, 16), "noext.onnx"), "does not exist");
        Assert.Contains("weights.bin", e.Message);
        Assert.Contains("initializer 'w'", e.Message);
    }

    [Fact]
    public void ExternalDataOffsetPastTheEnd()
    {
        File.WriteAllBytes(_tmp.File("weights.bin"), new byte[32]);
        var e = AssertFails(Save(WithExternal(64, 16), "offset.onnx"), "lies past the end");
        Assert.Contains("weights.bin", e.Message);
        Assert.Contains("initializer 'w'", e.Message);
    }

    [Fact]
    public void ExternalDataLengthPastTheEnd()
    {
        File.WriteAllBytes(_tmp.File("weights.bin"), new byte[32]);
        var e = AssertFails(Save(WithExternal(24, 16), "length.onnx"), "runs past the end");
        Assert.Contains("weights.bin", e.Message);
    }

    [Fact]
    public void ExternalDataWithoutLengthPastTheEnd()
    {
        File.WriteAllBytes(_tmp.File("weights.bin"), new byte[20]);
        AssertFails(Save(WithExternal(8, null), "nolength.onnx"), "runs past the end");
    }

    [Fact]
    public void UndefinedNodeInput()
    {
        var m = Valid();
        m.Graph.Node[1].Input[0] = "ghost";
        var e = AssertFails(Save(m, "undefined.onnx"), "input 'ghost' is not defined", "relu");
        Assert.NotNull(e.NodeDescription);
        Assert.Contains("'relu'", e.NodeDescription);
    }

    [Fact]
    public void TwoNodesDefineOneOutput()
    {
        var m = Valid();
        m.Graph.Node.Add(Node("Neg", "neg_dup", ["x"], ["s"]));
        AssertFails(Save(m, "dupout.onnx"), "output 's' has two definitions", "neg_dup");
    }

    [Fact]
    public void InitializerAndNodeDefineOneName()
    {
        var m = Valid();
        m.Graph.Node.Add(Node("Neg", "neg_w", ["x"], ["w"]));
        AssertFails(Save(m, "dupinit.onnx"), "output 'w' has two definitions", "neg_w");
    }

    [Fact]
    public void TwoInitializersWithOneName()
    {
        var m = Valid();
        m.Graph.Initializer.Add(FloatTensor("w", [1], [5]));
        AssertFails(Save(m, "dupinit2.onnx"), "'w' has two definitions");
    }

    [Fact]
    public void Cycle()
    {
        var m = Model(Graph("g", [Tensor("x", Float, 2)], [Tensor("y", Float, 2)],
            [Node("Add", "add_a", ["x", "b"], ["a"]), Node("Neg", "neg_b", ["a"], ["b"]), Node("Relu", "relu", ["b"], ["y"])]));
        var e = AssertFails(Save(m, "cycle.onnx"), "cycle");
        Assert.Matches("add_a|neg_b", e.Message);
    }

    [Fact]
    public void UnknownElementTypeInInitializer()
    {
        var m = Valid();
        m.Graph.Initializer[0].DataType = 99;
        AssertFails(Save(m, "dtype_init.onnx"), "initializer 'w' has unknown element type 99");
    }

    [Fact]
    public void UnknownElementTypeInInputType()
    {
        var m = Valid();
        m.Graph.Input[0].Type.TensorType.ElemType = 99;
        AssertFails(Save(m, "dtype_input.onnx"), "input 'x' has unknown element type 99");
    }

    [Fact]
    public void UnknownElementTypeInTensorAttribute()
    {
        var m = Valid();
        var t = FloatTensor("c", [1], [1]);
        t.DataType = 99;
        m.Graph.Node.Insert(0, Node("Constant", "const_bad", [], ["c"], new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = t }));
        AssertFails(Save(m, "dtype_attr.onnx"), "unknown element type 99", "const_bad");
    }

    [Fact]
    public void SubgraphUsesAnUndefinedName()
    {
        var thenBranch = Graph("then_g", [], [Tensor("t_out", Float, 2)], [Node("Identity", "then_id", ["nowhere"], ["t_out"])]);
        var elseBranch = Graph("else_g", [], [Tensor("e_out", Float, 2)], [Node("Identity", "else_id", ["x"], ["e_out"])]);
        var m = Model(Graph("g", [Tensor("x", Float, 2), Tensor("cond", 9)], [Tensor("y", Float, 2)],
            [Node("If", "the_if", ["cond"], ["y"], GraphAttribute("then_branch", thenBranch), GraphAttribute("else_branch", elseBranch))]));
        var e = AssertFails(Save(m, "subgraph.onnx"), "input 'nowhere' is not defined in the subgraph or any enclosing graph", "then_id");
        Assert.Contains("then_g", e.Message);
    }

    [Fact]
    public void GraphOutputNotDefined()
    {
        var m = Valid();
        m.Graph.Output[0].Name = "missing_out";
        AssertFails(Save(m, "noout.onnx"), "graph output 'missing_out' is not defined");
    }
}
