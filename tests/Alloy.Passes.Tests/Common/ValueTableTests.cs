using Alloy.IR;
using Xunit;

namespace Alloy.Passes.Tests.Common;

/// <summary>The dense value-keyed table the passes use instead of dictionaries, against a dictionary.</summary>
public class ValueTableTests
{
    [Fact]
    public void AgreesWithADictionaryWhateverScratchHeldBefore()
    {
        var g = new Graph("g");
        var values = Enumerable.Range(0, 200).Select(i => g.AddInput($"x{i}", null)).ToList();
        var rng = new Random(7);
        // Numbers an earlier pass left behind, including ones that are valid slots of the new table.
        foreach (var v in values) v.Scratch = rng.Next(-5, 60);
        var table = new ValueTable<int>();
        var reference = new Dictionary<Value, int>();
        for (int step = 0; step < 1000; step++)
        {
            var v = values[rng.Next(values.Count)];
            if (rng.Next(2) == 0) Assert.Equal(reference.TryAdd(v, step), table.TryAdd(v, step));
            foreach (var probe in values)
            {
                Assert.Equal(reference.TryGetValue(probe, out var want), table.TryGetValue(probe, out var have));
                Assert.Equal(want, have);
            }
        }
        Assert.Equal(reference.Count, table.Count);
    }
}
