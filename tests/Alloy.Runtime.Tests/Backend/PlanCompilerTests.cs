using Alloy.Backend;
using Alloy.IR;
using Alloy.Runtime.Execution;
using Alloy.Runtime.Kernels;
using Xunit;

namespace Alloy.Runtime.Tests.Backend;

public sealed class PlanCompilerTests
{
    private static Model NewModel(out Graph g)
    {
        g = new Graph("g");
        var m = new Model(g) { IrVersion = 8 };
        m.Opsets.Add(new OpsetImport("", 17));
        return m;
    }

    private static TensorConstant I64(params long[] values)
    {
        var bytes = new byte[values.Length * 8];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        return new TensorConstant(Alloy.IR.DataType.Int64, [values.Length], new ArrayTensorData(bytes));
    }

    [Fact]
    public void ShapeComputationsOnStaticShapesAreFoldedAndTheResultIsRight()
    {
        using var m = NewModel(out var g);
        var x = g.AddInput("x", new TensorType(Alloy.IR.DataType.Float, Shape.Of(2, 3, 4)));
        var shape = g.AddNode("Shape", [x], ["s"]).Outputs[0];
        var idx = g.AddConstant("idx", I64(0));
        var first = g.AddNode("Gather", [shape, idx], ["first"], attributes: [Attr.Int("axis", 0)]).Outputs[0];
        var minus1 = g.AddConstant("minus1", I64(-1));
        var target = g.AddNode("Concat", [first, minus1], ["target"], attributes: [Attr.Int("axis", 0)]).Outputs[0];
        var y = g.AddNode("Reshape", [x, target], ["y"]).Outputs[0];
        g.AddOutput(y);

        var plan = PlanCompiler.Compile(m, KernelRegistry.Reference());
        Assert.Equal(3, plan.FoldedNodes);
        Assert.Equal(["Reshape"], plan.Steps.Select(s => s.Node.OpType));

        var data = Enumerable.Range(0, 24).Select(i => (float)i).ToArray();
        using var input = Tensor.FromFloats([2, 3, 4], data);
        var outputs = new PlanExecutor(1).Run(plan, new Dictionary<string, Tensor> { ["x"] = input });
        using var result = outputs[0]!;
        Assert.Equal([2L, 12L], result.Shape);
        Assert.Equal(data, result.ToArray<float>());
    }

    [Fact]
    public void DynamicShapesAreNotFolded()
    {
        using var m = NewModel(out var g);
        var x = g.AddInput("x", new TensorType(Alloy.IR.DataType.Float, new Shape(Dim.Named("N"), 4)));
        var shape = g.AddNode("Shape", [x], ["s"]).Outputs[0];
        g.AddOutput(shape);
        var plan = PlanCompiler.Compile(m, KernelRegistry.Reference());
        Assert.Equal(0, plan.FoldedNodes);
        using var input = Tensor.Create(ElementType.Float, [5, 4]);
        var outputs = new PlanExecutor(1).Run(plan, new Dictionary<string, Tensor> { ["x"] = input });
        using var s = outputs[0]!;
        Assert.Equal([5L, 4L], s.ToArray<long>());
    }

    [Fact]
    public void EveryUnsupportedNodeIsReportedBeforeRunning()
    {
        using var m = NewModel(out var g);
        var x = g.AddInput("x", new TensorType(Alloy.IR.DataType.Float, Shape.Of(2)));
        var a = g.AddNode("Frobnicate", [x], ["a"]);
        a.Name = "first";
        var b = g.AddNode("Relu", [a.Outputs[0]], ["b"]);
        var c = g.AddNode("Quux", [b.Outputs[0]], ["c"], domain: "com.example");
        c.Name = "second";
        g.AddOutput(c.Outputs[0]);
        var e = Assert.Throws<UnsupportedModelException>(() => PlanCompiler.Compile(m, KernelRegistry.Reference()));
        Assert.Equal(2, e.Nodes.Count);
        Assert.Contains("'first'", e.Message);
        Assert.Contains("Frobnicate", e.Message);
        Assert.Contains("com.example::Quux", e.Message);
        Assert.Contains("opset 17", e.Message);
    }

    [Fact]
    public void IntermediateValuesAreReleasedAfterTheirLastUse()
    {
        using var m = NewModel(out var g);
        var x = g.AddInput("x", new TensorType(Alloy.IR.DataType.Float, Shape.Of(3)));
        var a = g.AddNode("Relu", [x], ["a"]).Outputs[0];
        var b = g.AddNode("Neg", [a], ["b"]).Outputs[0];
        var c = g.AddNode("Add", [b, a], ["c"]).Outputs[0];
        g.AddOutput(c);
        var plan = PlanCompiler.Compile(m, KernelRegistry.Reference());
        var slotOf = plan.Steps.SelectMany(s => s.Node.OpType switch { "Relu" => [("a", s.OutputSlots[0])], "Neg" => [("b", s.OutputSlots[0])], _ => Array.Empty<(string, int)>() }).ToDictionary();
        var add = plan.Steps.Single(s => s.Node.OpType == "Add");
        Assert.Contains(slotOf["a"], add.ReleaseAfter);
        Assert.Contains(slotOf["b"], add.ReleaseAfter);
        Assert.DoesNotContain(plan.Steps.Single(s => s.Node.OpType == "Neg").ReleaseAfter, s => s == slotOf["a"]);

        using var input = Tensor.FromFloats([3], [-1f, 2f, 3f]);
        var outputs = new PlanExecutor(1).Run(plan, new Dictionary<string, Tensor> { ["x"] = input });
        using var result = outputs[0]!;
        Assert.Equal([0f, 0f, 0f], result.ToArray<float>());
    }

    [Fact]
    public void WrongInputTypeIsAnErrorNamingTheInput()
    {
        using var m = NewModel(out var g);
        var x = g.AddInput("x", new TensorType(Alloy.IR.DataType.Float, Shape.Of(3)));
        g.AddOutput(g.AddNode("Relu", [x], ["y"]).Outputs[0]);
        var plan = PlanCompiler.Compile(m, KernelRegistry.Reference());
        using var input = Tensor.Create(ElementType.Int64, [3]);
        var e = Assert.Throws<ExecutionException>(() => new PlanExecutor(1).Run(plan, new Dictionary<string, Tensor> { ["x"] = input }));
        Assert.Contains("input 'x' is i64", e.Message);
    }
}
