using System.Text.Json;
using Alloy.Testing;
using Xunit;

namespace Alloy.Cli.Tests;

/// <summary><c>alloy compile --dtype bf16</c> at opset 17 keeps Conv FP32 (ONNX admits bfloat16 Conv from opset 22) and reports why; <c>--allow-nonstandard-types</c> lifts the rule.</summary>
public sealed class CompileSchemaTests
{
    private static readonly string Cnn = Path.Combine(RepoPaths.CorpusModels, "trained", "digits_cnn", "digits_cnn.opset17.onnx");

    private static IEnumerable<JsonElement> Nodes(JsonDocument report, string op) =>
        report.RootElement.GetProperty("nodes").EnumerateArray().Where(n => n.GetProperty("op").GetString() == op);

    [Fact]
    public void Bf16ConvStaysFp32AtOpset17AndTheReportSaysWhy()
    {
        var dir = CliHarness.TempDir();
        try
        {
            var report = Path.Combine(dir, "r.json");
            var r = CliHarness.Run("compile", Cnn, "-o", Path.Combine(dir, "a.onnx"), "--dtype", "bf16", "--keep-io-types", "--report", report);
            Assert.True(r.ExitCode == 0, r.Stderr);
            Assert.Matches(@"(?m)^Conv\s+0\s+0\s+0\s+3\s+0$", r.Stdout);
            Assert.Matches(@"(?m)^Gemm\s+0\s+1\s+0\s+0\s+0$", r.Stdout);
            using var json = JsonDocument.Parse(File.ReadAllText(report));
            Assert.All(Nodes(json, "Conv"), n => Assert.Equal(("fp32", "schema_opset"), (n.GetProperty("prec").GetString(), n.GetProperty("why").GetString())));
            Assert.Contains(json.RootElement.GetProperty("diagnostics").EnumerateArray(),
                d => d.GetString()!.Contains("Conv admits bfloat16 from opset 22 (model opset 17)", StringComparison.Ordinal));

            r = CliHarness.Run("compile", Cnn, "-o", Path.Combine(dir, "b.onnx"), "--dtype", "bf16", "--keep-io-types", "--allow-nonstandard-types", "--report", report);
            Assert.True(r.ExitCode == 0, r.Stderr);
            Assert.Matches(@"(?m)^Conv\s+0\s+3\s+0\s+0\s+0$", r.Stdout);
            using var json2 = JsonDocument.Parse(File.ReadAllText(report));
            Assert.Contains("schema=alloy", json2.RootElement.GetProperty("pipeline").GetString());
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
