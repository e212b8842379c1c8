using System.Text.Json;
using Alloy.IR;
using Alloy.Onnx;
using Alloy.Passes.Casts;
using Alloy.Runtime;
using Alloy.Runtime.IO;
using Alloy.Testing;
using Xunit;
using Xunit.Abstractions;
using static Alloy.Passes.Tests.Casts.CastTestKit;

namespace Alloy.Passes.Tests.Casts;

/// <summary>
/// The whole BF16 / FP16 pipeline on every corpus ONNX model: after fold-casts no Cast pair that folds exactly (nor a
/// no-op or duplicate Cast) is left; every rounding pair of the same pipeline without fold-casts is still there; the
/// two give bit-identical outputs; and each model's cast count is reported.
/// </summary>
public sealed class CastCorpusTests(ITestOutputHelper output)
{
    public static TheoryData<string, string> Models()
    {
        var data = new TheoryData<string, string>();
        foreach (var f in Directory.EnumerateFiles(RepoPaths.CorpusModels, "*.onnx", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            foreach (var dtype in new[] { "bf16", "fp16" })
                data.Add(Path.GetRelativePath(RepoPaths.CorpusModels, f), dtype);
        return data;
    }

    private static string Pipeline(string dtype) => dtype == "bf16" ? StandardPasses.Bf16Pipeline : StandardPasses.Fp16Pipeline;

    private static string WithoutFold(string pipeline)
    {
        const string suffix = ",fold-casts";
        Assert.EndsWith(suffix, pipeline);
        return pipeline[..^suffix.Length];
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void NoExactPairLeftAndNoRoundingPairFolded(string relative, string dtype)
    {
        var path = Path.Combine(RepoPaths.CorpusModels, relative);
        using var folded = OnnxImporter.Load(path);
        using var unfolded = OnnxImporter.Load(path);
        var report = Run(folded, Pipeline(dtype));
        Run(unfolded, WithoutFold(Pipeline(dtype)));

        var after = CastAudit.Scan(folded);
        var before = CastAudit.Scan(unfolded);
        output.WriteLine($"{relative} {dtype}: {after.Casts} Casts after fold-casts ({before.Casts} before); " +
            $"rounding pairs kept {after.LossyPairs.Count}; removed: " +
            string.Join(", ", report.Passes.Single(p => p.PassId == FoldCastsPass.PassId).Statistics.Where(s => s.Value > 0).Select(s => $"{s.Name} {s.Value}")));
        Assert.True(after.ExactPairs.Count == 0, "exact Cast pairs left: " + string.Join("; ", after.ExactPairs));
        Assert.True(after.NoOps.Count == 0, "no-op Casts left: " + string.Join("; ", after.NoOps));
        Assert.True(after.Duplicates.Count == 0, "duplicate Casts left: " + string.Join("; ", after.Duplicates));
        Assert.Equal(0, Stat(report, FoldCastsPass.PassId, "casts-removed-lossy-chain"));

        // Every rounding of a value to an intermediate type that the unfolded graph performs is still performed.
        var rounding = folded.Graph.SelfAndSubgraphs().SelectMany(g => g.Nodes)
            .Where(n => n.OpType == "Cast" && n.Inputs[0] is not null)
            .Select(n => (n.Inputs[0]!.Name, n.GetInt("to", 0))).ToHashSet();
        foreach (var pair in before.LossyPairs)
            Assert.True(rounding.Contains((pair.Source, (long)pair.Via)), $"rounding pair folded: {pair}");

        // fold-casts is exact: identical outputs.
        var inputs = Inputs(folded, path);
        var expected = Execute(unfolded, inputs);
        var actual = Execute(folded, inputs);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(expected[i].Bytes.SequenceEqual(actual[i].Bytes), $"output {i} differs after fold-casts");
    }

    public static TheoryData<string, string> TrainedModels()
    {
        var data = new TheoryData<string, string>();
        foreach (var f in Directory.EnumerateFiles(Path.Combine(RepoPaths.CorpusModels, "trained"), "*.onnx", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            foreach (var dtype in new[] { "bf16", "fp16" })
                data.Add(Path.GetRelativePath(RepoPaths.CorpusModels, f), dtype);
        return data;
    }

    /// <summary>The trained models after the whole pipeline lose at most 0.5 percentage points of top-1 accuracy.</summary>
    [Theory]
    [MemberData(nameof(TrainedModels))]
    public void TrainedModelsKeepTheirAccuracy(string relative, string dtype)
    {
        var path = Path.Combine(RepoPaths.CorpusModels, relative);
        var dir = Path.GetDirectoryName(path)!;
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "model.json")));
        double fp32Accuracy = doc.RootElement.GetProperty("fp32_accuracy").GetDouble();
        using var model = OnnxImporter.Load(path);
        Run(model, Pipeline(dtype));
        using var input = NpyFile.Read(Path.Combine(dir, "eval_input.npy"));
        using var labels = NpyFile.Read(Path.Combine(dir, "eval_labels.npy"));
        var logits = Execute(model, new Dictionary<string, Tensor> { [model.Graph.Inputs[0].Name] = input })[0];
        var values = AsDoubles(logits);
        var y = labels.Span<long>();
        int classes = (int)logits.Shape[1], n = (int)logits.Shape[0], correct = 0;
        for (int i = 0; i < n; i++)
        {
            int best = 0;
            for (int k = 1; k < classes; k++)
                if (values[i * classes + k] > values[i * classes + best]) best = k;
            if (best == y[i]) correct++;
        }
        double accuracy = correct / (double)n;
        var audit = CastAudit.Scan(model);
        output.WriteLine($"{relative} {dtype}: top-1 {accuracy:P2} (fp32 {fp32Accuracy:P2}), {audit.Casts} Casts");
        Assert.True(fp32Accuracy - accuracy <= 0.005, $"top-1 {accuracy:P2} vs fp32 {fp32Accuracy:P2}");
    }

    private static Dictionary<string, Tensor> Inputs(Model model, string path)
    {
        var dir = Path.GetDirectoryName(path)!;
        var eval = Path.Combine(dir, "eval_input.npy");
        if (File.Exists(eval) && model.Graph.Inputs.Count(v => v.Constant is null) == 1)
        {
            var all = NpyFile.Read(eval);
            // The first 32 evaluation samples.
            long per = all.Length / all.Shape[0];
            long[] shape = [Math.Min(32, all.Shape[0]), .. all.Shape[1..]];
            var t = Tensor.FromArray(all.Type, shape, all.Span<float>()[..(int)(shape[0] * per)]);
            all.Dispose();
            return new Dictionary<string, Tensor> { [model.Graph.Inputs[0].Name] = t };
        }
        return RandomInputs(model, seed: 11, batch: 2);
    }
}
