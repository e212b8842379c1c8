using static Alloy.IR.Tests.TestUtil;

namespace Alloy.IR.Tests;

/// <summary>
/// Use-lists of values shared by thousands of nodes (kept in fixed-size chunks past 4097 uses) against a plain list
/// of the expected uses maintained alongside.
/// </summary>
public class UseListTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4097)]
    [InlineData(4098)]
    [InlineData(10_000)]
    public void UsesOfAWidelySharedValueStayInOrderThroughRemovals(int users)
    {
        var g = new Graph("g");
        var x = g.AddInput("x", F32(1));
        var w = g.AddConstant("w", F32Const([1], 1));
        var other = g.AddConstant("other", F32Const([1], 2));
        var expected = new List<Use>();
        var nodes = new List<Node>();
        for (int i = 0; i < users; i++)
        {
            var n = g.AddNode("Add", [x, w], [$"y{i}"]);
            g.AddOutput(n.Outputs[0]);
            nodes.Add(n);
            expected.Add(new Use(UseKind.Operand, n, null, 1));
        }
        Assert.Equal(expected, w.Uses);

        // Remove uses at the front, across a chunk boundary and at the end; order of the rest is kept.
        foreach (int i in new[] { 0, users / 2, 4096, 4097, users - 1 }.Where(i => i < users).Distinct())
        {
            g.SetOperand(nodes[i], 1, other);
            expected.Remove(new Use(UseKind.Operand, nodes[i], null, 1));
        }
        Assert.Equal(expected, w.Uses);
        Assert.Equal(expected.Count, w.Uses.Count);
        Assert.Empty(Verifier.Verify(g));

        // Adding after removals appends at the end.
        var last = g.AddNode("Mul", [w, x], ["z"]);
        g.AddOutput(last.Outputs[0]);
        expected.Add(new Use(UseKind.Operand, last, null, 0));
        Assert.Equal(expected, w.Uses);

        // Moving every use elsewhere empties the list.
        g.ReplaceAllUsesWith(w, other);
        Assert.Empty(w.Uses);
        Assert.False(w.HasUses);
        Assert.Equal(users + 1, other.Uses.Count);
        Assert.Empty(Verifier.Verify(g));
    }
}
