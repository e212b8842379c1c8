using Alloy.Onnx;
using Alloy.Passes;
using Alloy.Pipeline;
using Xunit;

namespace Alloy.Tuning.Tests;

/// <summary>Bit-ops of digits_mlp computed by hand from its layer sizes; the layer groups of digits_cnn read from its ONNX graph.</summary>
public sealed class CostModelAndGroupsTests
{
    [Fact]
    public void MlpBitOpsFollowItsLayerSizes()
    {
        // digits_mlp: Gemm 64→128, Relu, Gemm 128→64, Relu, Gemm 64→10 (one row: symbolic N counts as 1).
        double gemmMacs = 64 * 128 + 128 * 64 + 64 * 10, reluOps = 128 + 64;
        using var fp32 = OnnxImporter.Load(TuningTestKit.Onnx("digits_mlp", 17));
        StandardPasses.CreateRegistry().Build("infer-shapes").Run(fp32);
        Assert.Equal((gemmMacs + reluOps) * 32 * 32, BitOpsCostModel.BitOps(fp32));
        Assert.Equal([8192.0, 8192.0, 640.0], fp32.Graph.Nodes.Where(n => n.OpType == "Gemm").Select(BitOpsCostModel.Macs));

        using var bf16 = OnnxImporter.Load(TuningTestKit.Onnx("digits_mlp", 17));
        StandardPasses.CreateRegistry().Build(StandardPasses.Bf16Pipeline.Replace("insert-casts", "insert-casts(keep-io-types=true)")).Run(bf16);
        Assert.Equal((gemmMacs + reluOps) * 16 * 16, BitOpsCostModel.BitOps(bf16));
    }

    [Fact]
    public void CnnGroupsAreConvolutionsWithWhatFollowsThem()
    {
        using var allLow = OnnxImporter.Load(TuningTestKit.Onnx("digits_cnn", 17));
        StandardPasses.CreateRegistry().Build(StandardPasses.Bf16Pipeline.Replace("mark-bf16", "mark-bf16(schema=alloy)")).Run(allLow);
        var graph = TunableGraph.Analyze(allLow, "bf16");

        // Expected from the graph itself: a group starts at each compute op and takes the ops fed only by it.
        var expected = new List<List<string>>();
        foreach (var n in allLow.Graph.Nodes.Where(n => n.OpType != "Cast"))
        {
            if (TunableGraph.ComputeOps.Contains(n.OpType)) expected.Add([]);
            expected[^1].Add(NodeNames.Of(n));
        }
        Assert.Equal(["Conv", "Conv", "Conv", "Gemm"], graph.Groups.Select(g => g.OpTypes[0]));
        Assert.Equal(expected, graph.Groups.Select(g => g.Nodes.ToList()));
        Assert.Equal(allLow.Graph.Nodes.Where(n => n.OpType != "Cast").Select(n => n.OpType), graph.Groups.SelectMany(g => g.OpTypes));
        Assert.Equal(graph.Nodes.Count, graph.Groups.Sum(g => g.Nodes.Count));
    }

    [Fact]
    public void TransformerGroupMembersFollowAProducerInTheirGroup()
    {
        using var allLow = OnnxImporter.Load(TuningTestKit.Onnx("digits_transformer", 13));
        StandardPasses.CreateRegistry().Build(StandardPasses.Bf16Pipeline).Run(allLow);
        var graph = TunableGraph.Analyze(allLow, "bf16");
        var byName = allLow.Graph.Nodes.ToDictionary(NodeNames.Of);
        var groupOf = graph.Groups.SelectMany(g => g.Nodes.Select(n => (n, g.Index))).ToDictionary(p => p.n, p => p.Index);
        Assert.Equal(graph.Nodes.Count, groupOf.Count);
        foreach (var g in graph.Groups)
            foreach (var name in g.Nodes.Skip(1))
            {
                var node = byName[name];
                Assert.DoesNotContain(node.OpType, TunableGraph.ComputeOps);
                Assert.Contains(node.Inputs, v => v?.Producer is { } p && groupOf.TryGetValue(NodeNames.Of(p), out var pg) && pg == g.Index);
            }
        Assert.True(graph.Groups.Count >= allLow.Graph.Nodes.Count(n => n.OpType is "MatMul" or "Gemm" && groupOf.ContainsKey(NodeNames.Of(n))));
    }
}
