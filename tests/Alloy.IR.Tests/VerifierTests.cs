using static Alloy.IR.Tests.TestUtil;

namespace Alloy.IR.Tests;

public class VerifierTests
{
    private const string Valid = """
        module {ir_version = 8, opsets = {"" = 13}}

        graph @main(%x: f32[N], %c: bool[]) -> (%y: f32[N]) {
          %k = const f32[] dense<[2.0]>
          %a = Mul %x, %k : f32[N]
          %y = If %c {then_branch = graph @t() captures(%a) -> (%a: f32[N]) {
              return %a
            }, else_branch = graph @e() captures(%x) -> (%r: f32[N]) {
              %r = Neg %x : f32[N]
              return %r
            }} : f32[N]
          return %y
        }

        func F(%p) -> (%q) {
          %q = Identity %p : ?
          return %q
        }

        """;

    [Fact]
    public void ParsedModelVerifiesClean()
    {
        var m = IrParser.ParseModel(Valid);
        Assert.Empty(Verifier.Verify(m));
        Verifier.Check(m);
    }

    [Fact]
    public void DefiningANameTwiceIsRejected()
    {
        var g = new Graph("g");
        g.AddInput("x", null);
        Assert.Throws<IrException>(() => g.AddInput("x", null));
        Assert.Throws<IrException>(() => g.AddConstant("x", F32Const([1], 1f)));
        Assert.Throws<IrException>(() => g.AddNode("Foo", [], ["x"]));
    }

    [Fact]
    public void ErasingANodeWithUsesIsRejected()
    {
        var g = new Graph("g");
        var x = g.AddInput("x", null);
        var a = g.AddNode("Relu", [x], ["a"]);
        var b = g.AddNode("Relu", [a.Outputs[0]], ["b"]);
        g.AddOutput(b.Outputs[0]);
        Assert.Throws<IrException>(() => g.Erase(a));
        Assert.Throws<IrException>(() => g.Erase(b));
        Assert.Empty(Verifier.Verify(g));
    }

    [Fact]
    public void UsingAValueOfASiblingSubgraphIsRejected()
    {
        var g = new Graph("g");
        var then = new Graph("then", g);
        var els = new Graph("else", g);
        var t = then.AddNode("Foo", [], ["t"]).Outputs[0];
        Assert.Throws<IrException>(() => els.AddNode("Relu", [t], ["e"]));
        Assert.Throws<IrException>(() => els.AddOutput(t));
        Assert.Throws<IrException>(() => g.Capture(t));
    }

    [Fact]
    public void CapturingInATopLevelGraphIsRejected()
    {
        var g = new Graph("g");
        var other = new Graph("other");
        Assert.Throws<IrException>(() => g.Capture(other.AddInput("x", null)));
    }

    [Fact]
    public void OperandUsedBeforeDefinitionIsReported()
    {
        var m = IrParser.ParseModel(Valid);
        var g = m.Graph;
        var mul = g.Nodes.Single(n => n.OpType == "Mul");
        var iff = g.Nodes.Single(n => n.OpType == "If");
        g.Move(iff, mul);
        var issues = Verifier.Verify(m);
        Assert.Contains(issues, i => i.Message.Contains("does not come before the owning node"));
        g.Move(iff, null);
        Assert.Empty(Verifier.Verify(m));

        var neg = g.AddNode("Neg", [g.FindLocal("y")], ["z"], before: iff);
        Assert.Contains(Verifier.Verify(m), i => i.Message.Contains("used before it is defined") && i.NodeName == neg.ToString());
    }

    [Fact]
    public void OperandFromEnclosingGraphIsCapturedAutomatically()
    {
        var m = IrParser.ParseModel(Valid);
        var iff = m.Graph.Nodes.Single(n => n.OpType == "If");
        var els = iff.Subgraphs.Last();
        var k = m.Graph.FindLocal("k")!;
        var relu = els.AddNode("Relu", [k], ["kk"]);
        var operand = relu.Inputs[0]!;
        Assert.Equal(ValueKind.Capture, operand.Kind);
        Assert.Same(els, operand.Owner);
        Assert.Same(k, operand.Outer);
        Assert.Contains(operand, els.Captures);
        Assert.Contains(k.Uses, u => u.Kind == UseKind.Capture && u.Graph == els);
        Assert.Empty(Verifier.Verify(m));
    }

    [Fact]
    public void RemovingASubgraphAttributeReleasesItsCaptures()
    {
        var m = IrParser.ParseModel(Valid);
        var iff = m.Graph.Nodes.Single(n => n.OpType == "If");
        var captured = iff.Subgraphs.SelectMany(g => g.Captures).Select(c => c.Outer!).Distinct().ToList();
        Assert.NotEmpty(captured);
        foreach (var a in iff.Attributes.Where(a => a.Value is GraphAttr).ToList()) iff.RemoveAttribute(a.Name);
        Assert.All(captured, v => Assert.DoesNotContain(v.Uses, u => u.Kind == UseKind.Capture));
        Assert.Empty(Verifier.Verify(m));
    }

    [Fact]
    public void VerifyingAValueWithManyUsesIsLinear()
    {
        // One constant used by every node: a quadratic use-list check would take minutes at this size.
        var g = new Graph("wide");
        var c = g.AddConstant("c", F32Const([1], 1f));
        var v = g.AddInput("x", F32(1));
        for (int i = 0; i < 200_000; i++) v = g.AddNode("Add", [v, c], [$"v{i}"]).Outputs[0];
        g.AddOutput(v);
        Assert.Equal(200_000, c.Uses.Count);
        Assert.Empty(Verifier.Verify(g));
    }

    [Fact]
    public void ConstantWithoutDataIsReported()
    {
        var g = new Graph("g");
        var x = g.AddInput("x", F32(1));
        g.SetInputDefault(x, F32Const([1], 1f));
        Assert.Empty(Verifier.Verify(g));
        g.SetInputDefault(x, null);
        Assert.Empty(g.Constants);
        Assert.Empty(Verifier.Verify(g));
    }
    [Fact]
    public void EveryStructuralChangeAfterAValidCheckIsCheckedAgain()
    {
        // The verifier does not walk a graph again while its structure is unchanged since it was found valid:
        // each kind of change below must make the next verification walk it and see the problem.
        var m = IrParser.ParseModel(Valid);
        var g = m.Graph;
        var mul = g.Nodes.Single(n => n.OpType == "Mul");
        var iff = g.Nodes.Single(n => n.OpType == "If");
        var x = g.FindLocal("x")!;
        var y = g.FindLocal("y")!;
        Assert.Empty(Verifier.Verify(m));

        g.SetOperand(mul, 0, y);
        Assert.Contains(Verifier.Verify(m), i => i.Message.Contains("used before it is defined"));
        g.SetOperand(mul, 0, x);
        Assert.Empty(Verifier.Verify(m));

        g.AddOperand(mul, y);
        Assert.Contains(Verifier.Verify(m), i => i.Message.Contains("used before it is defined"));
        g.SetOperand(mul, 2, x);
        Assert.Empty(Verifier.Verify(m));

        g.Move(iff, mul);
        Assert.NotEmpty(Verifier.Verify(m));
        g.Move(iff, null);
        Assert.Empty(Verifier.Verify(m));

        // A change inside a body counts for the graph that holds it.
        var els = iff.Subgraphs.Last();
        var neg = els.Nodes.Single();
        var late = g.AddNode("Relu", [y], ["late"]);
        Assert.Empty(Verifier.Verify(m));
        els.SetOperand(neg, 0, late.Outputs[0]);
        Assert.Contains(Verifier.Verify(m), i => i.Message.Contains("does not come before the owning node"));
        els.SetOperand(neg, 0, x);
        els.RemoveCapture(els.Captures.Single(c => c.Outer == late.Outputs[0]));
        g.Erase(late);
        Assert.Empty(Verifier.Verify(m));

        // Attaching a body whose capture is defined after the owning node.
        var relu = g.AddNode("Relu", [x], ["r"]);
        var body = new Graph("b", g);
        body.AddOutput(body.Capture(relu.Outputs[0]));
        Assert.Empty(Verifier.Verify(m));
        mul.SetAttribute(new Attr("body", new GraphAttr(body)));
        Assert.Contains(Verifier.Verify(m), i => i.Message.Contains("does not come before the owning node"));
        mul.RemoveAttribute("body");
        Assert.Empty(Verifier.Verify(m));
    }
}
