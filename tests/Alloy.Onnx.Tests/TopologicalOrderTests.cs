using Alloy.IR;
using Alloy.Onnx.Proto;
using Xunit;

namespace Alloy.Onnx.Tests;

/// <summary>Nodes listed out of order in the file come out of the importer in a topological order.</summary>
public sealed class TopologicalOrderTests
{
    private static List<NodeProto> Shuffled(IEnumerable<NodeProto> nodes, int seed)
    {
        var list = nodes.Select(n => n.Clone()).ToList();
        var rng = new Random(seed);
        for (int i = list.Count - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
        return list;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void ShuffledChainImportsInOrderAndExportsInTheOriginalOrder(int seed)
    {
        var original = ProtoBuilder.Chain();
        var originalOps = original.Graph.Node.Select(n => n.OpType).ToList();

        var shuffled = original.Clone();
        var nodes = Shuffled(original.Graph.Node, seed);
        Assert.NotEqual(originalOps, nodes.Select(n => n.OpType).ToList());
        shuffled.Graph.Node.Clear();
        shuffled.Graph.Node.AddRange(nodes);

        using var tmp = new TempFolder("topo");
        var path = ProtoBuilder.Write(shuffled, tmp.File("shuffled.onnx"));
        using var model = OnnxImporter.Load(path);
        Assert.Empty(Verifier.Verify(model));
        Assert.Equal(originalOps, model.Graph.Nodes.Select(n => n.OpType).ToList());

        var exported = OnnxExporter.ToProto(model);
        Assert.Equal(originalOps, exported.Graph.Node.Select(n => n.OpType).ToList());
        Assert.Equal(original.Graph.Node.Select(n => n.Name), exported.Graph.Node.Select(n => n.Name));

        // Also through a file.
        var outPath = tmp.File("exported.onnx");
        OnnxExporter.Save(model, outPath);
        var reread = ModelProto.Parser.ParseFrom(File.ReadAllBytes(outPath));
        Assert.Equal(originalOps, reread.Graph.Node.Select(n => n.OpType).ToList());
    }

    /// <summary>A 30-node conformance model, shuffled: the import is a valid order of the same nodes.</summary>
    [Fact]
    public void ShuffledConformanceModelImportsInAValidOrder()
    {
        var file = Path.Combine(TestEnvironment.ConformanceRoot, "node", "test_layer_normalization_4d_axis1_expanded", "model.onnx");
        Assert.True(File.Exists(file), TestEnvironment.MissingConformanceMessage);
        var original = ModelProto.Parser.ParseFrom(File.ReadAllBytes(file));
        Assert.True(original.Graph.Node.Count >= 10);

        var shuffled = original.Clone();
        shuffled.Graph.Node.Clear();
        shuffled.Graph.Node.AddRange(Shuffled(original.Graph.Node, 42));

        using var model = OnnxImporter.FromProto(shuffled, "shuffled-layernorm.onnx", Path.GetDirectoryName(file)!);
        Assert.Empty(Verifier.Verify(model));

        var exported = OnnxExporter.ToProto(model).Graph;
        static string Key(NodeProto n) => n.OpType + "|" + string.Join(",", n.Output);
        Assert.Equal(original.Graph.Node.Select(Key).Order(StringComparer.Ordinal), exported.Node.Select(Key).Order(StringComparer.Ordinal));

        // Every node input is a graph input, an initializer, or an output of an earlier node.
        var defined = new HashSet<string>(exported.Input.Select(i => i.Name).Concat(exported.Initializer.Select(t => t.Name)), StringComparer.Ordinal) { "" };
        foreach (var n in exported.Node)
        {
            foreach (var i in n.Input) Assert.True(defined.Contains(i), $"node {n.Name} ({n.OpType}) uses '{i}' before it is defined");
            foreach (var o in n.Output) defined.Add(o);
        }
    }
}
