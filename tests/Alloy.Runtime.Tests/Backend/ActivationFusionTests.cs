using Alloy.Backend;
using Alloy.IR;
using Alloy.Runtime.Execution;
using Alloy.Runtime.Kernels;
using Alloy.Runtime.Kernels.Managed;
using Xunit;

namespace Alloy.Runtime.Tests.Backend;

/// <summary>
/// The plan compiler merges a Relu or Clip that alone consumes a Conv / Gemm / MatMul result into the managed
/// kernel's epilogue: the fused plan has one step fewer and gives bit for bit what the two managed kernels give one
/// after the other, at every ISA (convolutions of every kind, depthwise included, with odd sizes); an activation
/// whose input has other uses, or whose Clip bounds are not known before running, is not merged.
/// </summary>
public sealed class ActivationFusionTests
{
    private static IEnumerable<ManagedIsa> Isas => Enum.GetValues<ManagedIsa>().Where(i => i <= ManagedKernels.DefaultIsa);

    private static TensorConstant Floats(long[] dims, int seed, float scale = 1)
    {
        var random = new Random(seed);
        long count = dims.Aggregate(1L, (a, b) => a * b);
        var values = Enumerable.Range(0, (int)count).Select(_ => (float)(random.NextDouble() * 2 - 1) * scale).ToArray();
        var bytes = new byte[values.Length * 4];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        return new TensorConstant(Alloy.IR.DataType.Float, [.. dims], new ArrayTensorData(bytes));
    }

    public sealed record Case(string Name, long[] X, long[] W, long Group, long Stride, long Pad, string Activation);

    private static readonly Case[] Cases =
    [
        new("3x3 relu", [1, 5, 17, 3], [7, 5, 3, 3], 1, 1, 1, "Relu"),
        new("1x1 clip6", [1, 17, 3, 17], [3, 17, 1, 1], 1, 1, 0, "Clip6"),
        new("depthwise relu6 stride 1", [1, 17, 17, 1023 / 31], [17, 1, 3, 3], 17, 1, 1, "Clip6"),
        new("depthwise relu6 stride 2", [1, 3, 17, 37], [3, 1, 3, 3], 3, 2, 1, "Clip6"),
        new("depthwise relu 1x1 plane", [1, 3, 1, 1], [3, 1, 3, 3], 3, 1, 1, "Relu"),
        new("pointwise relu6 row and column tails", [1, 19, 7, 7], [13, 19, 1, 1], 1, 1, 0, "Clip6"),
        new("pointwise relu split across threads", [1, 64, 30, 31], [24, 64, 1, 1], 1, 1, 0, "Relu"),
        new("depthwise relu6 stride 2 wide plane", [1, 8, 66, 67], [8, 1, 3, 3], 8, 2, 1, "Clip6"),
        new("grouped clip attribute bounds", [1, 4, 9, 9], [6, 2, 3, 3], 2, 2, 1, "ClipAttr"),
        new("depthwise clip bounds from Constant nodes after the conv", [1, 3, 17, 17], [3, 1, 3, 3], 3, 2, 1, "Clip6Nodes"),
        // Wide rows: the direct convolution path at Vector512 (bias and clamp in registers, 32- and 16-column tiles).
        new("direct relu, partial column tile", [1, 5, 20, 40], [16, 5, 3, 3], 1, 1, 1, "Relu"),
        new("direct relu6, 16-column tail", [1, 4, 18, 48], [8, 4, 3, 3], 1, 1, 1, "Clip6"),
        new("direct clip attribute bounds, partial channel panel", [1, 3, 30, 50], [10, 3, 3, 3], 1, 1, 1, "ClipAttr"),
    ];

    public static TheoryData<string> CaseNames() => new(Cases.Select(c => c.Name));

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void AFusedConvEqualsConvThenActivation(string name)
    {
        var c = Cases.Single(k => k.Name == name);
        using var m = Model(c, out _);
        var random = new Random(3);
        long count = c.X.Aggregate(1L, (a, b) => a * b);
        using var x = Tensor.FromFloats(c.X, Enumerable.Range(0, (int)count).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray());
        foreach (var isa in Isas)
        {
            var registry = ManagedKernels.CreateRegistry(isa);
            var plan = PlanCompiler.Compile(m, registry);
            Assert.Equal(1, plan.FusedNodes);
            Assert.Equal(["Conv"], plan.Steps.Select(s => s.Node.OpType));
            using var fused = new PlanExecutor(2).Run(plan, new Dictionary<string, Tensor> { ["x"] = x })[0]!;

            // The same two nodes, one kernel after the other.
            var conv = m.Graph.Nodes.First(n => n.OpType == "Conv");
            var act = m.Graph.Nodes.Last();
            var context = new KernelContext(new PlanExecutor(2), 2);
            var convKernel = registry.Create(NodeOf(conv, m), out _)!;
            var convArgs = conv.Inputs.Select(v => v is null ? null : v.Kind == ValueKind.Input ? x : ConstantTensors.ToTensor(v.Constant!)).ToArray();
            var convOut = new Tensor?[1];
            convKernel.Run(context, convArgs, convOut);
            var actKernel = registry.Create(NodeOf(act, m), out _)!;
            var actArgs = act.Inputs.Select((v, i) => i == 0 ? convOut[0] : v is null ? null
                : ConstantTensors.ToTensor(v.Constant ?? ((TensorAttr)v.Producer!.FindAttribute("value")!.Value).Value)).ToArray();
            var actOut = new Tensor?[1];
            actKernel.Run(context, actArgs, actOut);
            using var expected = actOut[0]!;
            Assert.Equal(expected.Shape, fused.Shape);
            Assert.True(expected.Bytes.SequenceEqual(fused.Bytes), $"{name} at {isa}: fused result differs");
            convOut[0]!.Dispose();
            foreach (var t in convArgs.Concat(actArgs.Skip(1))) if (!ReferenceEquals(t, x)) t?.Dispose();
        }
    }

    [Fact]
    public void AnActivationWhoseInputHasOtherUsesIsNotFused()
    {
        using var m = Model(Cases[0], out var convOut);
        m.Graph.AddOutput(convOut);
        var plan = PlanCompiler.Compile(m, ManagedKernels.CreateRegistry());
        Assert.Equal(0, plan.FusedNodes);
        Assert.Equal(["Conv", "Relu"], plan.Steps.Select(s => s.Node.OpType));
    }

    [Fact]
    public void TheReferenceRegistryFusesNothing()
    {
        using var m = Model(Cases[1], out _);
        var plan = PlanCompiler.Compile(m, KernelRegistry.Reference());
        Assert.Equal(0, plan.FusedNodes);
        Assert.Equal(2, plan.Steps.Count);
    }

    private static KernelNode NodeOf(Node n, Model m) =>
        new(n.OpType, "", m.Opsets[0].Version, new AttributeMap(n.Attributes.ToDictionary(a => a.Name, a => a.Value switch
        {
            IntAttr i => (object)i.Value,
            FloatAttr f => f.Value,
            IntsAttr i => i.Value.ToArray(),
            _ => throw new InvalidOperationException(),
        })), n.Inputs.Select(v => v is null ? null : (ElementType?)ElementType.Float).ToArray(), 1, n.Name);

    private static Model Model(Case c, out Value convOut)
    {
        var g = new Graph("g");
        var m = new Model(g) { IrVersion = 8 };
        m.Opsets.Add(new OpsetImport("", c.Activation == "ClipAttr" ? 6 : 13));
        var x = g.AddInput("x", new TensorType(Alloy.IR.DataType.Float, Shape.Of(c.X)));
        var w = g.AddConstant("w", Floats(c.W, 1));
        var b = g.AddConstant("b", Floats([c.W[0]], 2));
        var conv = g.AddNode("Conv", [x, w, b], ["conv"], attributes:
        [
            Attr.Int("group", c.Group), Attr.Ints("strides", c.Stride, c.Stride), Attr.Ints("pads", c.Pad, c.Pad, c.Pad, c.Pad),
            Attr.Ints("kernel_shape", c.W[2], c.W[3]),
        ]);
        convOut = conv.Outputs[0];
        Node act = c.Activation switch
        {
            "Relu" => g.AddNode("Relu", [convOut], ["y"]),
            "Clip6" => g.AddNode("Clip", [convOut, g.AddConstant("lo", Floats([], 0, 0)), g.AddConstant("hi", Six())], ["y"]),
            "Clip6Nodes" => g.AddNode("Clip",
            [
                convOut,
                g.AddNode("Constant", [], ["lo"], attributes: [new Attr("value", new TensorAttr(Floats([], 0, 0)))]).Outputs[0],
                g.AddNode("Constant", [], ["hi"], attributes: [new Attr("value", new TensorAttr(Six()))]).Outputs[0],
            ], ["y"]),
            _ => g.AddNode("Clip", [convOut], ["y"], attributes: [Attr.Float("min", -0.5f), Attr.Float("max", 0.75f)]),
        };
        g.AddOutput(act.Outputs[0]);
        return m;
    }

    private static TensorConstant Six() => new(Alloy.IR.DataType.Float, [], new ArrayTensorData(BitConverter.GetBytes(6f)));
}
