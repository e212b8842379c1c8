using System.Text.Json;
using Alloy.Backend;
using Alloy.Runtime;
using Alloy.Runtime.Execution;
using Alloy.Runtime.IO;
using Alloy.Runtime.Kernels;
using Alloy.Testing;
using Xunit;

namespace Alloy.TorchScript.Tests;

/// <summary>The trained corpus archives on the full evaluation set: torch's logits within 1e-4 and exactly its top-1 accuracy.</summary>
public sealed class TrainedAccuracyTests
{
    public static TheoryData<string> TrainedArchives()
    {
        var data = new TheoryData<string>();
        foreach (var a in ReferenceCase.CorpusArchives().Where(a => a.StartsWith("trained/", StringComparison.Ordinal))) data.Add(a);
        return data;
    }

    [Theory]
    [MemberData(nameof(TrainedArchives))]
    public void ReproducesReferenceLogitsAndAccuracy(string relative)
    {
        var path = Path.Combine(RepoPaths.CorpusModels, relative);
        var dir = Path.GetDirectoryName(path)!;
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "model.json")));
        double expectedAccuracy = doc.RootElement.GetProperty("fp32_accuracy").GetDouble();

        using var c = ReferenceCase.Load(path);
        using var model = c.Import();
        var plan = PlanCompiler.Compile(model, KernelRegistry.Reference());
        using var input = NpyFile.Read(Path.Combine(dir, "eval_input.npy"));
        using var reference = NpyFile.Read(Path.Combine(dir, "ref_logits.npy"));
        using var labels = NpyFile.Read(Path.Combine(dir, "eval_labels.npy"));
        var outputs = new PlanExecutor(2).Run(plan, new Dictionary<string, Tensor> { [model.Graph.Inputs[0].Name] = input });
        using var logits = outputs[0]!;
        Assert.Null(Comparison.Problem("logits", logits, reference));

        var got = logits.Span<float>();
        var y = labels.Span<long>();
        int classes = (int)logits.Shape[1], n = (int)logits.Shape[0], correct = 0;
        for (int i = 0; i < n; i++)
        {
            int best = 0;
            for (int k = 1; k < classes; k++)
                if (got[i * classes + k] > got[i * classes + best]) best = k;
            if (best == y[i]) correct++;
        }
        Assert.Equal(540, n);
        Assert.Equal(expectedAccuracy, correct / (double)n, 12);
    }
}
