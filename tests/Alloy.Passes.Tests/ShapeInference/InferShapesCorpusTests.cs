using Alloy.IR;
using Alloy.Onnx;
using Alloy.Testing;
using Xunit;
using Xunit.Abstractions;

namespace Alloy.Passes.Tests.ShapeInference;

/// <summary>
/// infer-shapes on every ONNX model of the corpus: every node result gets an element type; static models
/// (untrained/*, batch 1) get fully known shapes equal to what the reference runtime produces; trained models
/// (batch N) keep the symbol N through to their outputs, and their symbolic shapes evaluate (N = the test batch)
/// to the runtime's shapes.
/// </summary>
public sealed class InferShapesCorpusTests(ITestOutputHelper output)
{
    public static TheoryData<string> Models()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.EnumerateFiles(RepoPaths.CorpusModels, "*.onnx", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            data.Add(Path.GetRelativePath(RepoPaths.CorpusModels, f));
        return data;
    }

    private static bool IsStatic(string relative) => relative.StartsWith("untrained", StringComparison.Ordinal);

    [Theory]
    [MemberData(nameof(Models))]
    public void EveryResultIsTyped_AndAgreesWithTheRuntime(string relative) => Check(relative, strip: false);

    [Theory]
    [MemberData(nameof(Models))]
    public void WithAllResultTypesForgotten_InferenceDerivesThemAgain(string relative) => Check(relative, strip: true);

    private void Check(string relative, bool strip)
    {
        var path = Path.Combine(RepoPaths.CorpusModels, relative);
        using var model = OnnxImporter.Load(path);
        if (strip) InferenceHarness.StripNodeResultTypes(model);
        var report = InferenceHarness.Infer(model);
        Assert.Empty(report.Diagnostics);

        var results = InferenceHarness.NodeResults(model.Graph).ToList();
        var untyped = results.Where(v => v.ElementType is null or DataType.Undefined).Select(v => v.Name).ToList();
        Assert.True(untyped.Count == 0, $"results without an element type: {string.Join(", ", untyped)}");
        var stats = report.Passes[0].Statistics.ToDictionary(s => s.Name, s => s.Value);
        Assert.Equal(0, stats["untyped-results"]);
        Assert.Equal(0, stats["inconsistencies"]);

        bool isStatic = IsStatic(relative);
        if (isStatic)
        {
            var partial = results.Where(v => v.Type is not TensorType { Shape.IsFullyKnown: true }).Select(v => $"{v.Name}: {InferenceHarness.Text(v.Type)}").ToList();
            Assert.True(partial.Count == 0, "results without a fully known shape:\n" + string.Join("\n", partial));
            Assert.Equal(results.Count, stats["shapes-fully-known"]);
        }
        else
        {
            foreach (var o in model.Graph.Outputs)
                Assert.True(o.Type is TensorType { Shape: { Rank: > 0 } s } && s[0].Symbol == "N", $"output '{o.Name}' is {InferenceHarness.Text(o.Type)}, expected the batch dimension N");
        }

        var dataSet = Path.Combine(Path.GetDirectoryName(path)!, "test_data_set_0");
        var inputs = InferenceHarness.LoadInputs(model, dataSet);
        try
        {
            var symbols = new Dictionary<string, long>(StringComparer.Ordinal);
            if (!isStatic) symbols["N"] = inputs.Values.First().Shape[0];
            var actual = InferenceHarness.RunEveryResult(path, inputs);
            var mismatches = new List<string>();
            int compared = 0;
            foreach (var v in model.Graph.Nodes.SelectMany(n => n.Outputs).Where(v => v.Name.Length > 0))
            {
                Assert.True(actual.TryGetValue(v.Name, out var run), $"the runtime produced no '{v.Name}'");
                compared++;
                if (InferenceHarness.Compare(v.Type, run.Type, run.Shape, symbols, requireFullyKnown: isStatic) is { } diff)
                    mismatches.Add($"{v.Name}: {diff}");
            }
            output.WriteLine($"{relative}: {compared} results compared with the runtime, {stats["shapes-fully-known"]} fully known, {stats["values-typed"]} typed by the pass");
            Assert.True(mismatches.Count == 0, "inferred types differ from the runtime:\n" + string.Join("\n", mismatches));
        }
        finally
        {
            foreach (var t in inputs.Values) t.Dispose();
        }
    }
}
