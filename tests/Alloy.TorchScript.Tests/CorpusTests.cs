using Alloy.Backend;
using Alloy.Runtime.Execution;
using Alloy.Runtime.Kernels;
using Alloy.Testing;
using Xunit;
using Xunit.Abstractions;

namespace Alloy.TorchScript.Tests;

/// <summary>Every TorchScript archive of the corpus loads and its IR, run by Alloy's runtime, reproduces torch's outputs.</summary>
public sealed class CorpusTests(ITestOutputHelper output)
{
    public static TheoryData<string> Archives()
    {
        var data = new TheoryData<string>();
        foreach (var a in ReferenceCase.CorpusArchives()) data.Add(a);
        return data;
    }

    [Fact]
    public void TheCorpusHasTracedAndScriptedArchives()
    {
        var all = ReferenceCase.CorpusArchives();
        Assert.Contains(all, a => a.EndsWith(".traced.pt", StringComparison.Ordinal));
        Assert.Contains(all, a => a.EndsWith(".scripted.pt", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Archives))]
    public void RunsAndMatchesTheTorchReference(string relative)
    {
        using var c = ReferenceCase.Load(Path.Combine(RepoPaths.CorpusModels, relative));
        using var model = c.Import();
        var plan = PlanCompiler.Compile(model, KernelRegistry.Reference());
        var results = new PlanExecutor(2).Run(plan, c.Feed(model));
        try
        {
            Assert.Equal(c.Outputs.Count, results.Length);
            var problems = new List<string>();
            for (int i = 0; i < c.Outputs.Count; i++)
            {
                var p = Comparison.Problem($"output_{i}", results[i], c.Outputs[i]);
                if (p is not null) problems.Add(p);
            }
            output.WriteLine($"{relative}: {model.Graph.NodeCount} nodes, {model.Graph.Constants.Count} constants");
            Assert.True(problems.Count == 0, string.Join("\n", problems));
        }
        finally
        {
            foreach (var t in results) t?.Dispose();
        }
    }
}
