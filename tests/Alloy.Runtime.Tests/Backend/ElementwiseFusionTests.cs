using Alloy.Backend;
using Alloy.IR;
using Alloy.Runtime.Execution;
using Alloy.Runtime.Kernels;
using Alloy.Runtime.Kernels.Managed;
using Alloy.Runtime.Numerics;
using Xunit;

namespace Alloy.Runtime.Tests.Backend;

/// <summary>
/// The plan compiler merges a Relu or Clip that alone consumes an Add / Sub / Mul / Div result into the managed
/// binary kernel (a residual block's Add + Relu): the fused plan has one step fewer and gives bit for bit what the
/// reference kernels give for the two nodes, at every ISA and on 1 and 2 threads, for tensors split over threads,
/// broadcasts, NaN / ±0 / ±∞ operands, broadcasts the fast path leaves to the reference kernel, and operands whose
/// types are unknown when compiling (int32, float16).
/// </summary>
public sealed class ElementwiseFusionTests
{
    private static IEnumerable<ManagedIsa> Isas => Enum.GetValues<ManagedIsa>().Where(i => i <= ManagedKernels.DefaultIsa);

    public sealed record Case(string Name, string Op, long[] A, long[] B, string Activation, DataType Type = DataType.Float, bool HideTypes = false);

    private static readonly Case[] Cases =
    [
        new("residual add relu, split over threads", "Add", [1, 32, 56, 56], [1, 32, 56, 56], "Relu"),
        new("sub per channel, relu6", "Sub", [1, 24, 33, 35], [1, 24, 1, 1], "Clip6"),
        new("mul scalar, clip attribute bounds", "Mul", [3, 1000], [], "ClipAttr"),
        new("div trailing dims, relu, odd size", "Div", [37, 1001], [1001], "Relu"),
        new("general broadcast: reference kernel, then the clamp", "Add", [2, 1, 17], [1, 3, 17], "Clip6"),
        new("int32 with types unknown when compiling", "Add", [3, 7], [3, 7], "Relu", DataType.Int32, HideTypes: true),
        new("float16 with types unknown when compiling", "Sub", [5, 9], [5, 9], "Clip6", DataType.Float16, HideTypes: true),
    ];

    public static TheoryData<string> CaseNames() => new(Cases.Select(c => c.Name));

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void AFusedBinaryOpEqualsTheReferenceOpThenActivation(string name)
    {
        var c = Cases.Single(k => k.Name == name);
        using var m = Model(c);
        using var a = Values(c.Type, c.A, 1);
        using var b = Values(c.Type, c.B, 2);
        var inputs = new Dictionary<string, Tensor> { ["a"] = a, ["b"] = b };
        var referencePlan = PlanCompiler.Compile(m, KernelRegistry.Reference());
        Assert.Equal(0, referencePlan.FusedNodes);
        using var expected = new PlanExecutor(1).Run(referencePlan, inputs)[0]!;
        foreach (var isa in Isas)
        {
            var plan = PlanCompiler.Compile(m, ManagedKernels.CreateRegistry(isa));
            Assert.Equal(1, plan.FusedNodes);
            Assert.Equal(c.Op, plan.Steps[^1].Node.OpType);
            Assert.Equal(referencePlan.Steps.Count - 1, plan.Steps.Count);
            foreach (int threads in new[] { 1, 2 })
            {
                using var actual = new PlanExecutor(threads).Run(plan, inputs)[0]!;
                Assert.Equal(expected.Type, actual.Type);
                Assert.Equal(expected.Shape, actual.Shape);
                Assert.True(expected.Bytes.SequenceEqual(actual.Bytes), $"{name} at {isa}, {threads} thread(s): the fused result differs from the reference");
            }
        }
    }

    [Fact]
    public void AnActivationWhoseInputHasOtherUsesIsNotFused()
    {
        using var m = Model(Cases[0]);
        m.Graph.AddOutput(m.Graph.Nodes.Single(n => n.OpType == "Add").Outputs[0]);
        var plan = PlanCompiler.Compile(m, ManagedKernels.CreateRegistry());
        Assert.Equal(0, plan.FusedNodes);
        Assert.Equal(["Add", "Relu"], plan.Steps.Select(s => s.Node.OpType));
    }

    private static Model Model(Case c)
    {
        var g = new Graph("g");
        var m = new Model(g) { IrVersion = 8 };
        m.Opsets.Add(new OpsetImport("", c.Activation == "ClipAttr" ? 6 : 14));
        Value a = g.AddInput("a", new TensorType(c.Type, Shape.Of(c.A)));
        Value b = g.AddInput("b", new TensorType(c.Type, Shape.Of(c.B)));
        if (c.HideTypes)
        {
            // Identity results carry no type until shape inference runs, so the binary kernel is chosen without them.
            a = g.AddNode("Identity", [a], ["a_any"]).Outputs[0];
            b = g.AddNode("Identity", [b], ["b_any"]).Outputs[0];
        }
        var op = g.AddNode(c.Op, [a, b], ["op"]).Outputs[0];
        Node act = c.Activation switch
        {
            "Relu" => g.AddNode("Relu", [op], ["y"]),
            "Clip6" => g.AddNode("Clip", [op, g.AddConstant("lo", Scalar(c.Type, 0)), g.AddConstant("hi", Scalar(c.Type, 6))], ["y"]),
            _ => g.AddNode("Clip", [op], ["y"], attributes: [Attr.Float("min", -0.5f), Attr.Float("max", 0.75f)]),
        };
        g.AddOutput(act.Outputs[0]);
        return m;
    }

    private static TensorConstant Scalar(DataType type, double v)
    {
        using var t = ElementConvert.FromDoubles((ElementType)(int)type, [], [v]);
        return new TensorConstant(type, [], new ArrayTensorData(t.Bytes.ToArray()));
    }

    /// <summary>Seeded values in [-8, 8) (integers for integer types), with NaN, ±0 and ±∞ among the floats.</summary>
    private static Tensor Values(DataType type, long[] shape, int seed)
    {
        var et = (ElementType)(int)type;
        long count = shape.Aggregate(1L, (p, d) => p * d);
        var random = new Random(seed);
        double[] specials = [double.NaN, 0.0, -0.0, double.PositiveInfinity, double.NegativeInfinity, 6.0];
        var values = new double[count];
        for (long i = 0; i < count; i++)
            values[i] = et.IsFloat() && random.Next(10) == 0 ? specials[random.Next(specials.Length)]
                : et.IsFloat() ? random.NextDouble() * 16 - 8 : random.Next(-8, 8);
        return ElementConvert.FromDoubles(et, shape, values);
    }
}
