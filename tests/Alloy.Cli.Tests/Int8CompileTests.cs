using System.Text.Json;
using Alloy.Runtime;
using Alloy.Runtime.IO;
using Alloy.Testing;
using Xunit;

namespace Alloy.Cli.Tests;

/// <summary><c>alloy compile --int8</c>: calibration, the cache, overrides both ways, the table and report, and user errors.</summary>
public sealed class Int8CompileTests
{
    private static string Dir(string name) => Path.Combine(RepoPaths.CorpusModels, "trained", name);
    private static string Model(string name) => Path.Combine(Dir(name), $"{name}.opset17.onnx");
    private static string Calib(string name) => Path.Combine(Dir(name), "calib_input.npy");

    private static JsonElement Node(JsonDocument report, string name) =>
        report.RootElement.GetProperty("nodes").EnumerateArray().Single(n => n.GetProperty("node").GetString() == name);

    [Fact]
    public void CompilesCalibratesAndCaches()
    {
        var dir = CliHarness.TempDir();
        try
        {
            string output = Path.Combine(dir, "cnn.int8.onnx"), report = Path.Combine(dir, "report.json"), cache = Path.Combine(dir, "cache");
            string[] args = ["compile", Model("digits_cnn"), "-o", output, "--int8", "--calib", Calib("digits_cnn"), "--calib-method", "percentile", "--calib-cache", cache, "--report", report];
            var first = CliHarness.Run(args);
            Assert.True(first.ExitCode == 0, first.Stderr);
            Assert.Contains("calibration: percentile over 256 samples (8 batches)", first.Stdout);
            Assert.Matches(@"Conv\s+3\s+0\s+0\s+0\s+0", first.Stdout);
            Assert.Matches(@"Gemm\s+1\s+0\s+0\s+0\s+0", first.Stdout);
            Assert.Matches(@"GlobalAveragePool\s+0\s+0\s+0\s+1\s+0", first.Stdout);
            Assert.True(File.Exists(output));
            using (var json = JsonDocument.Parse(File.ReadAllText(report)))
            {
                var calibration = json.RootElement.GetProperty("calibration");
                Assert.False(calibration.GetProperty("cache_hit").GetBoolean());
                Assert.Equal(256, calibration.GetProperty("samples").GetInt64());
                Assert.Equal(3, json.RootElement.GetProperty("precision_by_op").GetProperty("Conv").GetProperty("i8").GetInt32());
                Assert.Equal("int8_op", Node(json, "/features/features.0/Conv").GetProperty("why").GetString());
                Assert.Equal("relu_folded", Node(json, "/features/features.2/Relu").GetProperty("why").GetString());
            }

            var second = CliHarness.Run(args);
            Assert.True(second.ExitCode == 0, second.Stderr);
            Assert.Contains("cache hit", second.Stdout);
            using (var json = JsonDocument.Parse(File.ReadAllText(report)))
                Assert.True(json.RootElement.GetProperty("calibration").GetProperty("cache_hit").GetBoolean());

            // The compiled model runs and keeps the FP32 model's top-1 on the evaluation set to within a point.
            var run = CliHarness.Run("run", output, "--input", $"input={Path.Combine(Dir("digits_cnn"), "eval_input.npy")}", "--output-dir", dir);
            Assert.True(run.ExitCode == 0, run.Stderr);
            using var logits = NpyFile.Read(Path.Combine(dir, "logits.npy"));
            using var labels = NpyFile.Read(Path.Combine(Dir("digits_cnn"), "eval_labels.npy"));
            var l = logits.ToArray<float>();
            var y = labels.ToArray<long>();
            int hits = Enumerable.Range(0, y.Length).Count(i => Enumerable.Range(0, 10).MaxBy(c => l[i * 10 + c]) == y[i]);
            Assert.True(hits >= 539 - 5, $"{hits}/540 correct");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void OverridesWorkBothWaysAndBf16RunsTheRest()
    {
        var dir = CliHarness.TempDir();
        try
        {
            string report = Path.Combine(dir, "report.json");
            var r = CliHarness.Run("compile", Model("digits_cnn"), "-o", Path.Combine(dir, "a.onnx"), "--int8", "--calib", Calib("digits_cnn"),
                "--calib-cache", dir, "--int8-ops", "Conv", "--fp32-nodes", "features\\.3/Conv$", "--report", report);
            Assert.True(r.ExitCode == 0, r.Stderr);
            using (var json = JsonDocument.Parse(File.ReadAllText(report)))
            {
                Assert.Equal("i8", Node(json, "/features/features.0/Conv").GetProperty("prec").GetString());
                Assert.Equal("override_name", Node(json, "/features/features.3/Conv").GetProperty("why").GetString());
                Assert.Equal("fp32", Node(json, "/features/features.3/Conv").GetProperty("prec").GetString());
                Assert.False(Node(json, "/classifier/classifier.2/Gemm").TryGetProperty("prec", out _));
            }
            r = CliHarness.Run("compile", Model("digits_gru"), "-o", Path.Combine(dir, "b.onnx"), "--int8", "--calib", Calib("digits_gru"),
                "--calib-cache", dir, "--dtype", "bf16", "--report", report);
            Assert.True(r.ExitCode == 0, r.Stderr);
            // ONNX admits a bfloat16 GRU only from opset 22: at opset 17 it stays FP32 (mark-bf16's schema rule).
            Assert.Matches(@"GRU\s+0\s+0\s+0\s+1\s+0", r.Stdout);
            Assert.Matches(@"Gemm\s+1\s+0\s+0\s+0\s+0", r.Stdout);
            using (var json = JsonDocument.Parse(File.ReadAllText(report)))
                Assert.Contains("bf16-scales=true", json.RootElement.GetProperty("pipeline").GetString());
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void UserErrors()
    {
        var dir = CliHarness.TempDir();
        try
        {
            var output = Path.Combine(dir, "out.onnx");
            var bad = Path.Combine(dir, "bad.npy");
            var values = new float[2 * 64];
            values[70] = float.NaN;
            using (var t = Tensor.FromFloats([2, 64], values)) NpyFile.Write(bad, t);

            void Fails(string fragment, params string[] args)
            {
                var r = CliHarness.Run(["compile", Model("digits_mlp"), "-o", output, .. args]);
                Assert.Equal(1, r.ExitCode);
                Assert.Contains(fragment, r.Stderr);
                Assert.False(File.Exists(output));
            }
            Fails("sample 1 holds NaN", "--int8", "--calib", bad, "--calib-cache", dir);
            Fails("--int8 needs calibration data", "--int8");
            Fails("--calib needs --int8", "--calib", Calib("digits_mlp"));
            Fails("unknown calibration method 'kmeans'", "--int8", "--calib", Calib("digits_mlp"), "--calib-method", "kmeans", "--calib-cache", dir);
            Fails("'Softmax' has no INT8 form", "--int8", "--calib", Calib("digits_mlp"), "--int8-ops", "Softmax", "--calib-cache", dir);
            Fails("calibration data not found", "--int8", "--calib", Path.Combine(dir, "missing.npy"));
            Fails("must be u8", "--int8", "--calib", Calib("digits_mlp"), "--int8-activations", "u4", "--calib-cache", dir);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
