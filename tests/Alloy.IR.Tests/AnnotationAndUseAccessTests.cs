using static Alloy.IR.Tests.TestUtil;

namespace Alloy.IR.Tests;

public class AnnotationAndUseAccessTests
{
    /// <summary>
    /// Annotations beyond the ones kept inline move to an array: against a sorted dictionary with ordinal order
    /// (what the printer relies on), random sets, overwrites and removals give the same contents and order.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void AnnotationsMatchAnOrdinalSortedDictionary(int seed)
    {
        var rng = new Random(seed);
        var g = new Graph("g");
        var x = g.AddInput("x", F32(1));
        var node = g.AddNode("Relu", [x], ["y"]);
        var reference = new SortedDictionary<string, string>(StringComparer.Ordinal);
        string[] keys = ["prec", "acc", "color", "why", "kernel", "Z", "a", "group", "é", "tile"];
        for (int step = 0; step < 400; step++)
        {
            var key = keys[rng.Next(keys.Length)];
            if (rng.Next(3) == 0)
            {
                Assert.Equal(reference.Remove(key), node.RemoveAnnotation(key));
            }
            else
            {
                var value = $"v{step}";
                reference[key] = value;
                node.Annotate(key, value);
            }
            Assert.Equal(reference.ToList(), node.Annotations.ToList());
            Assert.Equal(reference.Count, node.Annotations.Count);
            Assert.Equal(reference.Keys, node.Annotations.Keys);
            Assert.Equal(reference.Values, node.Annotations.Values);
            foreach (var k in keys)
            {
                Assert.Equal(reference.TryGetValue(k, out var want), node.Annotations.TryGetValue(k, out var have));
                Assert.Equal(want, have);
                Assert.Equal(reference.ContainsKey(k), node.Annotations.ContainsKey(k));
            }
        }
        Assert.Throws<KeyNotFoundException>(() => node.Annotations["missing"]);
    }

    [Fact]
    public void UseAccessorsMatchTheUsesView()
    {
        var g = new Graph("g");
        var x = g.AddInput("x", F32(1));
        var nodes = Enumerable.Range(0, 7).Select(i => g.AddNode("Add", [x, x], [$"y{i}"])).ToList();
        g.AddOutput(x);
        g.SetOperand(nodes[3], 1, null);
        g.Erase(nodes[5]);
        Assert.Equal(x.Uses.Count, x.UseCount);
        Assert.Equal(x.Uses, Enumerable.Range(0, x.UseCount).Select(x.UseAt));
        Assert.Equal(2 * 6 - 1 + 1, x.UseCount);
        Assert.Throws<ArgumentOutOfRangeException>(() => x.UseAt(x.UseCount));
    }
}
