using Alloy.Backend;
using Alloy.Runtime.Execution;
using Alloy.Runtime.Kernels;
using Alloy.Testing;
using Xunit;

namespace Alloy.TorchScript.Tests;

/// <summary>
/// TorchScript exports of torchvision resnet18 and mobilenet_v2 and of an nn.TransformerEncoder, made by
/// <c>tests/tools/make_torchscript_fixtures.py</c> at setup (<c>scripts/setup-test-deps.sh</c>) into
/// <c>.deps/torchscript/</c>: Alloy's runtime and ONNX Runtime (on the exported ONNX) reproduce torch's outputs.
/// </summary>
public sealed class FixtureTests
{
    public static readonly string[] Stems =
    [
        "alloy_ts_resnet18.traced", "alloy_ts_resnet18.scripted", "alloy_ts_mobilenet_v2.traced", "alloy_ts_mobilenet_v2.scripted",
        "alloy_ts_transformer_encoder.traced", "alloy_ts_transformer_encoder.scripted",
    ];

    public static TheoryData<string> Fixtures()
    {
        var data = new TheoryData<string>();
        foreach (var s in Stems) data.Add(s);
        return data;
    }

    private static string PathOf(string stem)
    {
        var path = Path.Combine(RepoPaths.Root, ".deps", "torchscript", stem + ".pt");
        Assert.True(File.Exists(path), $"{path} is missing: run scripts/setup-test-deps.sh (it runs tests/tools/make_torchscript_fixtures.py)");
        return path;
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void RunsAndMatchesTheTorchReference(string stem)
    {
        using var c = ReferenceCase.Load(PathOf(stem));
        using var model = c.Import();
        var plan = PlanCompiler.Compile(model, KernelRegistry.Reference());
        var results = new PlanExecutor(2).Run(plan, c.Feed(model));
        try
        {
            Assert.Equal(c.Outputs.Count, results.Length);
            for (int i = 0; i < results.Length; i++) Assert.Null(Comparison.Problem($"output_{i}", results[i], c.Outputs[i]));
        }
        finally
        {
            foreach (var t in results) t?.Dispose();
        }
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void ExportPassesTheCheckerAndRunsInOnnxRuntime(string stem) => OnnxExportTests.ExportAndRun(PathOf(stem));
}
