using static Alloy.IR.Tests.TestUtil;

namespace Alloy.IR.Tests;

/// <summary>A node's operands and results share one array; the views and the mutation API keep them apart.</summary>
public class NodeSlotTests
{
    [Fact]
    public void OperandsAddedAfterResultsGoBeforeThemAndKeepTheirUses()
    {
        var g = new Graph("g");
        var a = g.AddInput("a", F32(2));
        var b = g.AddInput("b", F32(2));
        var n = g.AddNode("Concat", [a], ["y"], attributes: [Attr.Int("axis", 0)]);
        var z = g.AddResult(n, "z", null);
        g.AddOperand(n, b);
        g.AddOperand(n, null);
        g.AddOutput(n.Outputs[0]);

        Assert.Equal([a, b, null], n.Inputs);
        Assert.Equal(3, n.Inputs.Count);
        Assert.Equal(["y", "z"], n.Outputs.Select(r => r.Name));
        Assert.Same(z, n.Outputs[1]);
        Assert.Equal(1, z.ResultIndex);
        Assert.Equal(new Use(UseKind.Operand, n, null, 1), b.UseAt(0));
        Assert.Empty(Verifier.Verify(g));

        g.SetOperand(n, 2, a);
        Assert.Equal([a, b, a], n.Inputs.AsSpan().ToArray());
        Assert.Equal(2, a.UseCount);
        Assert.Same(z, n.Outputs[1]);
        Assert.Empty(Verifier.Verify(g));
    }

    [Fact]
    public void ViewsReadOnlyTheirOwnPartOfTheArray()
    {
        var g = new Graph("g");
        var x = g.AddInput("x", F32(2));
        var n = g.AddNode("Split", [x], ["p", "q"]);

        Assert.Same(x, n.Inputs.ElementAtOrDefault(0));
        Assert.Null(n.Inputs.ElementAtOrDefault(1));
        Assert.Null(n.Inputs.ElementAtOrDefault(-1));
        Assert.Equal("q", n.Outputs.ElementAtOrDefault(1)?.Name);
        Assert.Null(n.Outputs.ElementAtOrDefault(2));
        Assert.Throws<ArgumentOutOfRangeException>(() => n.Inputs[1]);
        Assert.Throws<ArgumentOutOfRangeException>(() => n.Outputs[2]);
        Assert.Throws<ArgumentOutOfRangeException>(() => g.SetOperand(n, 1, x));
        Assert.True(n.Outputs.Any(r => r.Name == "q"));
        Assert.False(n.Inputs.Any(v => v is null));
        var seen = new List<string>();
        foreach (var r in n.Outputs) seen.Add(r.Name);
        Assert.Equal(["p", "q"], seen);
        Assert.True(n.Outputs is [{ Name: "p" }, { Name: "q" }]);
    }

    [Fact]
    public void ADomainIsKeptExactlyAndTheDefaultNeedsNoStorage()
    {
        var g = new Graph("g");
        var x = g.AddInput("x", F32(2));
        var plain = g.AddNode("Relu", [x], ["r"]);
        var spelled = g.AddNode("Relu", [x], ["s"], domain: "ai.onnx");
        var custom = g.AddNode("Gelu", [x], ["t"], domain: "com.microsoft");
        Assert.Equal("", plain.Domain);
        Assert.Equal("ai.onnx", spelled.Domain);
        Assert.True(plain.IsDefaultDomain && spelled.IsDefaultDomain && !custom.IsDefaultDomain);
        custom.Domain = "";
        Assert.Equal("", custom.Domain);
        Assert.Throws<ArgumentNullException>(() => plain.Domain = null!);
    }
}
