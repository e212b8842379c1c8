using System.Text.Json;
using Alloy.Backend;
using Alloy.Onnx;
using Alloy.Runtime.Execution;
using Alloy.Runtime.IO;
using Alloy.Runtime.Kernels;
using Alloy.Testing;
using Xunit;

namespace Alloy.Runtime.Tests.Corpus;

/// <summary>
/// The trained corpus models on their real evaluation sets: Alloy's FP32 outputs match torch's reference logits
/// and reproduce the shipped top-1 accuracy exactly.
/// </summary>
public sealed class TrainedAccuracyTests
{
    public static TheoryData<string> Models()
    {
        var data = new TheoryData<string>();
        foreach (var dir in Directory.EnumerateDirectories(Path.Combine(RepoPaths.CorpusModels, "trained")).Order(StringComparer.Ordinal))
            foreach (var f in Directory.EnumerateFiles(dir, "*.onnx").Order(StringComparer.Ordinal))
                data.Add(Path.GetRelativePath(RepoPaths.CorpusModels, f));
        return data;
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void ReproducesReferenceLogitsAndAccuracy(string relative)
    {
        var path = Path.Combine(RepoPaths.CorpusModels, relative);
        var dir = Path.GetDirectoryName(path)!;
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "model.json")));
        double expectedAccuracy = doc.RootElement.GetProperty("fp32_accuracy").GetDouble();

        using var model = OnnxImporter.Load(path);
        var plan = PlanCompiler.Compile(model, KernelRegistry.Reference());
        using var input = NpyFile.Read(Path.Combine(dir, "eval_input.npy"));
        using var reference = NpyFile.Read(Path.Combine(dir, "ref_logits.npy"));
        using var labels = NpyFile.Read(Path.Combine(dir, "eval_labels.npy"));
        var outputs = new PlanExecutor(2).Run(plan, new Dictionary<string, Tensor> { [plan.Inputs[0].Name] = input });
        using var logits = outputs[0]!;
        Assert.Equal(reference.Shape, logits.Shape);

        var got = logits.Span<float>();
        var want = reference.Span<float>();
        var y = labels.Span<long>();
        int classes = (int)logits.Shape[1], n = (int)logits.Shape[0], correct = 0;
        double worst = 0;
        for (int i = 0; i < n; i++)
        {
            int best = 0;
            for (int k = 0; k < classes; k++)
            {
                float g = got[i * classes + k], w = want[i * classes + k];
                worst = Math.Max(worst, Math.Abs(g - w) / Math.Max(1f, Math.Abs(w)));
                if (g > got[i * classes + best]) best = k;
            }
            if (best == y[i]) correct++;
        }
        Assert.True(worst <= 1e-4, $"largest relative error against torch: {worst:G3}");
        Assert.Equal(expectedAccuracy, correct / (double)n, 12);
    }
}
