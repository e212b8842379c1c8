using static Alloy.IR.Tests.TestUtil;

namespace Alloy.IR.Tests;

public class GraphMutationTests
{
    [Fact]
    public void RemovingConstantsKeepsTheOthersInDefinitionOrder()
    {
        var g = new Graph("g");
        var constants = Enumerable.Range(0, 10).Select(i => g.AddConstant($"c{i}", F32Const([1], i))).ToList();
        var x = g.AddInput("x", F32(1));
        var add = g.AddNode("Add", [x, constants[9]], ["y"]);
        g.AddOutput(add.Outputs[0]);

        foreach (var i in new[] { 0, 3, 4, 8 }) g.RemoveConstant(constants[i]);

        Assert.Equal(["c1", "c2", "c5", "c6", "c7", "c9"], g.Constants.Select(c => c.Name));
        Assert.Null(g.FindLocal("c3"));
        Assert.Empty(Verifier.Verify(g));
        // Removed once: a second removal is an error, and a constant with uses cannot go.
        Assert.Throws<IrException>(() => g.RemoveConstant(constants[3]));
        Assert.Throws<IrException>(() => g.RemoveConstant(constants[9]));
        // Adding after removals appends at the end.
        g.AddConstant("c10", F32Const([1], 10));
        Assert.Equal(["c1", "c2", "c5", "c6", "c7", "c9", "c10"], g.Constants.Select(c => c.Name));
        g.RemoveConstant(constants[1]);
        Assert.Equal(["c2", "c5", "c6", "c7", "c9", "c10"], g.Constants.Select(c => c.Name));
        Assert.Empty(Verifier.Verify(g));
    }

    [Fact]
    public void InputDefaultsComeAndGoFromTheConstantList()
    {
        var g = new Graph("g");
        var x = g.AddInput("x", F32(1));
        var k = g.AddConstant("k", F32Const([1], 2));
        g.SetInputDefault(x, F32Const([1], 1));
        Assert.Equal([k, x], g.Constants);
        g.SetInputDefault(x, F32Const([1], 3));
        Assert.Equal([k, x], g.Constants);
        g.SetInputDefault(x, null);
        Assert.Equal([k], g.Constants);
        g.SetInputDefault(x, F32Const([1], 4));
        g.RemoveConstant(x);
        Assert.Equal([k], g.Constants);
        Assert.Null(x.Constant);
        Assert.Same(x, g.FindLocal("x"));
    }

    [Fact]
    public void RemovingACaptureRenumbersTheLaterOnes()
    {
        var g = new Graph("g");
        var a = g.AddInput("a", F32(1));
        var b = g.AddInput("b", F32(1));
        var c = g.AddInput("c", F32(1));
        var cond = g.AddInput("cond", new TensorType(DataType.Bool, Shape.Scalar));
        var body = new Graph("then", g);
        var ca = body.Capture(a);
        var cb = body.Capture(b);
        var cc = body.Capture(c);
        var neg = body.AddNode("Neg", [cc], ["r"]);
        body.AddOutput(neg.Outputs[0]);
        var els = new Graph("else", g);
        els.AddOutput(els.Capture(a));
        var node = g.AddNode("If", [cond], ["y"], attributes: [new Attr("then_branch", new GraphAttr(body)), new Attr("else_branch", new GraphAttr(els))]);
        g.AddOutput(node.Outputs[0]);
        Assert.Empty(Verifier.Verify(g));

        body.RemoveCapture(cb);
        Assert.Equal([ca, cc], body.Captures);
        Assert.Empty(b.Uses);
        Assert.Contains(new Use(UseKind.Capture, null, body, 1), c.Uses);
        Assert.Null(body.FindLocal("b"));
        Assert.Empty(Verifier.Verify(g));

        body.RemoveCapture(ca);
        Assert.Equal([cc], body.Captures);
        Assert.Equal([new Use(UseKind.Capture, null, els, 0)], a.Uses);
        Assert.Empty(Verifier.Verify(g));

        // A capture still read inside the body, or a value that is not a capture, cannot be removed.
        Assert.Throws<IrException>(() => body.RemoveCapture(cc));
        Assert.Throws<IrException>(() => body.RemoveCapture(neg.Outputs[0]));
    }

    [Fact]
    public void VerifierFindsAUseListEntryListedTwiceInsteadOfAnother()
    {
        // Two operand slots read x; its use-list names the first slot twice and not the second: counts agree,
        // so only the duplicate check can notice. (The use-list is corrupted behind the Graph API, which the
        // verifier's record of unchanged, already verified graphs cannot see: the graph is verified only after.)
        var g = new Graph("g");
        var x = g.AddInput("x", F32(1));
        var mul = g.AddNode("Mul", [x, x], ["y"]);
        g.AddOutput(mul.Outputs[0]);
        x.UseList[1] = x.UseList[0];
        var issues = Verifier.Verify(g);
        Assert.Contains(issues, i => i.Message.Contains("lists operand 0 twice"));
    }

    [Fact]
    public void SubgraphsAttachedAfterLinkingAreFound()
    {
        var g = new Graph("g");
        var cond = g.AddInput("cond", new TensorType(DataType.Bool, Shape.Scalar));
        var x = g.AddInput("x", F32(1));
        var relu = g.AddNode("Relu", [x], ["r"]);
        Assert.Equal([g], g.SelfAndSubgraphs());
        var node = g.AddNode("If", [cond], ["y"]);
        g.AddOutput(node.Outputs[0]);
        var then = new Graph("then", g);
        then.AddOutput(then.Capture(relu.Outputs[0]));
        var els = new Graph("else", g);
        els.AddOutput(els.Capture(x));
        node.SetAttribute(new Attr("then_branch", new GraphAttr(then)));
        node.SetAttribute(new Attr("else_branch", new GraphAttr(els)));
        Assert.Equal([g, then, els], g.SelfAndSubgraphs());
        Assert.Empty(Verifier.Verify(g));
    }
}
