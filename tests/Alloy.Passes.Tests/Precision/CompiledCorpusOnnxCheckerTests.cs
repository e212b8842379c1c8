using Alloy.IR;
using Alloy.Onnx;
using Alloy.Passes.Precision;
using Alloy.Testing;
using Xunit;
using Xunit.Abstractions;
using static Alloy.Passes.Tests.Casts.CastTestKit;

namespace Alloy.Passes.Tests.Precision;

/// <summary>
/// Every ONNX model of the corpus compiled as <c>alloy compile --dtype bf16|fp16</c> does by default (graph inputs and
/// outputs converted too) passes <c>onnx.checker.check_model(full_check=True)</c> of Debian's python3-onnx, which
/// checks every node's operand types against its schema at the model's opset; and every node reading or producing
/// the low type is admitted by <see cref="OnnxTypeSupport"/> at that opset.
/// </summary>
public sealed class CompiledCorpusOnnxCheckerTests(ITestOutputHelper output)
{
    public static TheoryData<string, string> CorpusModels()
    {
        var data = new TheoryData<string, string>();
        foreach (var f in Directory.EnumerateFiles(RepoPaths.CorpusModels, "*.onnx", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            foreach (var dtype in new[] { "bf16", "fp16" })
                data.Add(Path.GetRelativePath(RepoPaths.CorpusModels, f), dtype);
        return data;
    }

    /// <summary>The pipeline of <c>alloy compile --dtype DTYPE</c> (CompileCommand.DefaultPipeline without --keep-io-types).</summary>
    private static string Pipeline(string dtype, string schema = "onnx") =>
        $"infer-shapes,mark-{dtype}(target=native,schema={schema}),propagate-{dtype},insert-casts(keep-io-types=false),fold-casts";

    [Theory]
    [MemberData(nameof(CorpusModels))]
    public void CompiledModelPassesTheFullOnnxCheck(string relative, string dtype)
    {
        using var model = OnnxImporter.Load(Path.Combine(RepoPaths.CorpusModels, relative));
        Run(model, Pipeline(dtype));
        var low = PrecisionAnnotations.ElementType(dtype);
        long opset = model.DefaultOpset ?? throw new InvalidOperationException($"{relative} has no default-domain opset");
        int lowNodes = 0;
        foreach (var g in model.Graph.SelfAndSubgraphs())
            foreach (var n in g.Nodes)
            {
                if (!n.Inputs.Concat(n.Outputs).Any(v => v?.ElementType == low)) continue;
                lowNodes++;
                Assert.True(OnnxTypeSupport.Admits(n.OpType, low, opset), $"{relative} {dtype}: {n.OpType} '{n.Name}' reads or produces {dtype} at opset {opset}");
            }
        output.WriteLine($"{relative} {dtype}: opset {opset}, {lowNodes} nodes with {dtype} operands, {CountOps(model, "Cast")} Casts");
        Assert.Null(CheckExported(model, relative));
    }

    /// <summary>The checker does reject what the schema rule prevents: the same compilation for Alloy's runtime only keeps Conv bf16 at opset 17.</summary>
    [Fact]
    public void CheckerRejectsBf16ConvAtOpset17WithoutTheSchemaRule()
    {
        const string relative = "trained/digits_cnn/digits_cnn.opset17.onnx";
        using var model = OnnxImporter.Load(Path.Combine(RepoPaths.CorpusModels, relative));
        Run(model, Pipeline("bf16", "alloy"));
        var complaint = CheckExported(model, relative);
        Assert.NotNull(complaint);
        Assert.Contains("bfloat16", complaint);
        Assert.Contains("Conv", complaint);
    }

    private static string? CheckExported(Model model, string relative)
    {
        var path = Path.Combine(Path.GetTempPath(), $"alloy-check-{Environment.ProcessId}-{Guid.NewGuid():N}.onnx");
        try
        {
            OnnxExporter.Save(model, path);
            return OnnxChecker.Check(path) is { } complaint ? $"{relative}: {complaint}" : null;
        }
        finally
        {
            File.Delete(path);
            File.Delete(path + ".data");
        }
    }
}
