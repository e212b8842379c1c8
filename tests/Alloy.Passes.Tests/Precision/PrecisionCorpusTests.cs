using System.Globalization;
using System.Text;
using Alloy.Backend;
using Alloy.IR;
using Alloy.Onnx;
using Alloy.Passes.Precision;
using Alloy.Runtime;
using Alloy.Runtime.Execution;
using Alloy.Runtime.IO;
using Alloy.Runtime.Kernels;
using Alloy.Testing;
using Xunit;
using Xunit.Abstractions;

namespace Alloy.Passes.Tests.Precision;

/// <summary>
/// mark-* and propagate-* on every corpus model: verifier-clean, every float node decided; on the trained models, the
/// fraction of Conv/MatMul/Gemm nodes that run low precision (all those the model's opset admits in the low type) (with and without calibrated ranges), and identical
/// reference-runtime outputs before and after (the passes only annotate).
/// </summary>
public sealed class PrecisionCorpusTests(ITestOutputHelper output)
{
    public static TheoryData<string, string> AllModels()
    {
        var data = new TheoryData<string, string>();
        foreach (var f in Directory.EnumerateFiles(RepoPaths.CorpusModels, "*.onnx", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            foreach (var type in new[] { "bf16", "fp16" })
                data.Add(Path.GetRelativePath(RepoPaths.CorpusModels, f), type);
        return data;
    }

    public static TheoryData<string> TrainedModels()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.EnumerateFiles(Path.Combine(RepoPaths.CorpusModels, "trained"), "*.onnx", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            data.Add(Path.GetRelativePath(RepoPaths.CorpusModels, f));
        return data;
    }

    [Theory]
    [MemberData(nameof(AllModels))]
    public void EveryFloatNodeGetsAPrecision(string relative, string type)
    {
        using var model = OnnxImporter.Load(Path.Combine(RepoPaths.CorpusModels, relative));
        var report = StandardPasses.CreateRegistry().Build($"mark-{type},propagate-{type}").Run(model);
        var nodes = model.Graph.SelfAndSubgraphs().SelectMany(g => g.Nodes).ToList();
        var painted = nodes.Where(n => PrecisionAnnotations.ColorOf(n) is not null).ToList();
        Assert.NotEmpty(painted);
        Assert.All(painted, n => Assert.Contains(PrecisionAnnotations.PrecisionOf(n), new[] { type, "fp32" }));
        Assert.All(painted, n => Assert.NotNull(PrecisionAnnotations.ReasonOf(n)));
        // Contractions are never left FP32 by the default policy without a range rule, except where the model's
        // opset does not admit the low type for the op (the schema rule); for Alloy's runtime only, never.
        var lowType = PrecisionAnnotations.ElementType(type);
        long opset = model.DefaultOpset ?? 0;
        Assert.All(nodes.Where(n => n.OpType is "Conv" or "MatMul" or "Gemm" or "LSTM" or "GRU"), n =>
        {
            if (OnnxTypeSupport.Admits(n.OpType, lowType, opset)) Assert.Equal(type, PrecisionAnnotations.PrecisionOf(n));
            else Assert.Equal(("fp32", "schema_opset"), (PrecisionAnnotations.PrecisionOf(n), PrecisionAnnotations.ReasonOf(n)));
        });
        using var forAlloy = OnnxImporter.Load(Path.Combine(RepoPaths.CorpusModels, relative));
        StandardPasses.CreateRegistry().Build($"mark-{type}(schema=alloy),propagate-{type}").Run(forAlloy);
        Assert.All(forAlloy.Graph.SelfAndSubgraphs().SelectMany(g => g.Nodes).Where(n => n.OpType is "Conv" or "MatMul" or "Gemm" or "LSTM" or "GRU"),
            n => Assert.Equal(type, PrecisionAnnotations.PrecisionOf(n)));
        long low = Stat(report, $"propagate-{type}", "low-precision"), fp32 = Stat(report, $"propagate-{type}", "fp32");
        output.WriteLine($"{relative} {type}: {nodes.Count} nodes, {painted.Count} painted, {low} low, {fp32} fp32, casts needed {Stat(report, $"propagate-{type}", "casts-needed")}");
    }

    [Theory]
    [MemberData(nameof(TrainedModels))]
    public void TrainedModelsRunTheirContractionsLow(string relative)
    {
        var path = Path.Combine(RepoPaths.CorpusModels, relative);
        var dir = Path.GetDirectoryName(path)!;
        using var ranges = new PrecisionTestKit.TempFile(CalibratedRanges(path, Path.Combine(dir, "calib_input.npy")));
        var lines = new StringBuilder();
        foreach (var pipeline in new[] { "mark-bf16,propagate-bf16", "mark-bf16(schema=alloy),propagate-bf16", "mark-fp16,propagate-fp16", $"mark-fp16(ranges={ranges.Path}),propagate-fp16", "mark-bf16(target=icelake,native-only=true),propagate-bf16", "mark-fp16(target=sapphirerapids,native-only=true),propagate-fp16" })
        {
            using var model = OnnxImporter.Load(path);
            var report = StandardPasses.CreateRegistry().Build(pipeline).Run(model);
            var type = pipeline.Contains("fp16") ? "fp16" : "bf16";
            var nodes = model.Graph.SelfAndSubgraphs().SelectMany(g => g.Nodes).ToList();
            var contractions = nodes.Where(n => n.OpType is "Conv" or "MatMul" or "Gemm").ToList();
            int lowContractions = contractions.Count(n => PrecisionAnnotations.PrecisionOf(n) == type);
            var painted = nodes.Where(n => PrecisionAnnotations.PrecisionOf(n) is not null).ToList();
            int low = painted.Count(n => PrecisionAnnotations.PrecisionOf(n) == type);
            double fraction = contractions.Count == 0 ? 1 : lowContractions / (double)contractions.Count;
            lines.AppendLine(CultureInfo.InvariantCulture, $"{relative} | {pipeline.Replace(ranges.Path, "calib.json")} | Conv/MatMul/Gemm low {lowContractions}/{contractions.Count} = {fraction:P1} | float nodes low {low}/{painted.Count} | casts needed {Stat(report, pipeline.Contains("fp16") ? "propagate-fp16" : "propagate-bf16", "casts-needed")}");
            // Every contraction runs low except where the opset does not admit the type (schema rule; not with schema=alloy)
            // and, on icelake with native-only, where no native kernel exists.
            int admitted = pipeline.Contains("schema=alloy") ? contractions.Count
                : contractions.Count(n => OnnxTypeSupport.Admits(n.OpType, PrecisionAnnotations.ElementType(type), model.DefaultOpset ?? 0));
            if (!pipeline.Contains("icelake")) Assert.Equal(admitted, lowContractions);
            else Assert.Equal(0.0, fraction);
        }
        output.WriteLine(lines.ToString());
    }

    /// <summary>The passes only annotate: the reference runtime gives bit-identical outputs before and after.</summary>
    [Theory]
    [MemberData(nameof(TrainedModels))]
    public void OutputsAreIdenticalAfterThePasses(string relative)
    {
        var path = Path.Combine(RepoPaths.CorpusModels, relative);
        using var input = NpyFile.Read(Path.Combine(Path.GetDirectoryName(path)!, "eval_input.npy"));
        float[] Run(string? pipeline)
        {
            using var model = OnnxImporter.Load(path);
            if (pipeline is not null) StandardPasses.CreateRegistry().Build(pipeline).Run(model);
            var plan = PlanCompiler.Compile(model, KernelRegistry.Reference());
            var outputs = new PlanExecutor(1).Run(plan, new Dictionary<string, Tensor> { [plan.Inputs[0].Name] = input });
            using var logits = outputs[0]!;
            return logits.ToArray<float>();
        }
        var before = Run(null);
        Assert.Equal(before, Run("mark-bf16,propagate-bf16"));
        Assert.Equal(before, Run("mark-fp16,propagate-fp16"));
    }

    /// <summary>Per-value [min, max] of every FP32 node result on the calibration set, from the reference runtime.</summary>
    private static string CalibratedRanges(string modelPath, string calibPath)
    {
        using var model = OnnxImporter.Load(modelPath);
        var outputs = model.Graph.Outputs.ToHashSet();
        foreach (var n in model.Graph.Nodes)
            foreach (var v in n.Outputs)
                if (v.Name.Length > 0 && !outputs.Contains(v) && v.Type is null or TensorType { ElementType: DataType.Float or DataType.Undefined })
                    model.Graph.AddOutput(v);
        var plan = PlanCompiler.Compile(model, KernelRegistry.Reference());
        using var calib = NpyFile.Read(calibPath);
        var results = new PlanExecutor(1).Run(plan, new Dictionary<string, Tensor> { [plan.Inputs[0].Name] = calib });
        var json = new StringBuilder("{");
        for (int i = 0; i < results.Length; i++)
        {
            using var t = results[i];
            if (t is null || t.Type != ElementType.Float || t.Length == 0) continue;
            var span = t.Span<float>();
            float lo = float.PositiveInfinity, hi = float.NegativeInfinity;
            foreach (var f in span) { lo = Math.Min(lo, f); hi = Math.Max(hi, f); }
            if (json.Length > 1) json.Append(',');
            json.Append(CultureInfo.InvariantCulture, $"{System.Text.Json.JsonSerializer.Serialize(plan.Outputs[i].Name)}: [{lo:R}, {hi:R}]");
        }
        return json.Append('}').ToString();
    }

    private static long Stat(Alloy.Pipeline.PipelineReport report, string pass, string name) => PrecisionTestKit.Stat(report, pass, name);
}
