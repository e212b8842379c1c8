using Alloy.Runtime;
using Alloy.Runtime.IO;
using Alloy.Testing;
using Xunit;

namespace Alloy.Cli.Tests;

public sealed class RunTests
{
    private static string Trained(string model, string file) => Path.Combine(RepoPaths.CorpusModels, "trained", model, file);

    [Fact]
    public void RunOnEvaluationDataReproducesTheReferenceLogitsAndAccuracy()
    {
        var dir = CliHarness.TempDir();
        try
        {
            var result = CliHarness.Run("run", Trained("digits_mlp", "digits_mlp.opset13.onnx"),
                "--input", "input=" + Trained("digits_mlp", "eval_input.npy"), "--output-dir", dir);
            Assert.True(result.ExitCode == 0, result.Stderr);
            Assert.Contains("logits: f32[540,10]", result.Stdout);
            using var logits = NpyFile.Read(Path.Combine(dir, "logits.npy"));
            using var reference = NpyFile.Read(Trained("digits_mlp", "ref_logits.npy"));
            using var labels = NpyFile.Read(Trained("digits_mlp", "eval_labels.npy"));
            var got = logits.Span<float>();
            var want = reference.Span<float>();
            var y = labels.Span<long>();
            int correct = 0;
            for (int i = 0; i < 540; i++)
            {
                int best = 0;
                for (int k = 0; k < 10; k++)
                {
                    Assert.True(Math.Abs(got[i * 10 + k] - want[i * 10 + k]) <= 1e-4f * Math.Max(1f, Math.Abs(want[i * 10 + k])), $"sample {i} class {k}");
                    if (got[i * 10 + k] > got[i * 10 + best]) best = k;
                }
                if (best == y[i]) correct++;
            }
            Assert.Equal(528, correct); // the shipped FP32 accuracy: 0.9778
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void TensorProtoInputsAndOutputsAndRepeat()
    {
        var dir = CliHarness.TempDir();
        try
        {
            var data = Trained("digits_cnn", "test_data_set_0");
            var result = CliHarness.Run("run", Trained("digits_cnn", "digits_cnn.opset17.onnx"), "--input", "input=" + Path.Combine(data, "input_0.pb"),
                "--output-dir", dir, "--output-format", "pb", "--repeat", "3");
            Assert.True(result.ExitCode == 0, result.Stderr);
            Assert.Contains("latency over 3 runs: min", result.Stdout);
            var (_, got) = Alloy.Onnx.OnnxTensorFile.Read(Path.Combine(dir, "logits.pb"));
            var (_, want) = Alloy.Onnx.OnnxTensorFile.Read(Path.Combine(data, "output_0.pb"));
            Assert.Equal(want.Dims.ToArray(), got.Dims.ToArray());
            var g = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(got.Data.AsSpan());
            var w = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(want.Data.AsSpan());
            for (int i = 0; i < w.Length; i++) Assert.True(Math.Abs(g[i] - w[i]) <= 1e-4f * Math.Max(1f, Math.Abs(w[i])), $"element {i}");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void ProfileReportsEveryOpTypeOfTheRepeatedRuns()
    {
        var result = CliHarness.Run("run", Trained("digits_cnn", "digits_cnn.opset17.onnx"), "--random-inputs", "--repeat", "3", "--threads", "2", "--profile");
        Assert.Equal(0, result.ExitCode);
        // The first of the three runs is left out; every step ran in the other two.
        Assert.Contains("profile over 2 runs", result.Stderr);
        Assert.Contains("fastest step times added up", result.Stderr);
        Assert.Matches(@"(?m)^Conv\s+\d+\s+\d+\.\d{3}", result.Stderr);
        Assert.Contains("latency over 3 runs", result.Stdout);
    }

    [Fact]
    public void MissingInputIsAUserErrorNamingIt()
    {
        var result = CliHarness.Run("run", Trained("digits_mlp", "digits_mlp.opset13.onnx"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("input 'input' was not given", result.Stderr);
    }

    [Fact]
    public void WrongInputShapeIsAUserErrorNamingTheInput()
    {
        var dir = CliHarness.TempDir();
        try
        {
            var bad = Path.Combine(dir, "bad.npy");
            using (var t = Tensor.Create(ElementType.Float, [2, 63])) NpyFile.Write(bad, t);
            var result = CliHarness.Run("run", Trained("digits_mlp", "digits_mlp.opset13.onnx"), "--input", "input=" + bad);
            Assert.Equal(1, result.ExitCode);
            Assert.Contains("input 'input' has shape [2,63]", result.Stderr);
            Assert.DoesNotContain("   at ", result.Stderr);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void RandomInputsRunAModelWithoutData()
    {
        var result = CliHarness.Run("run", Trained("digits_gru", "digits_gru.opset13.onnx"), "--random-inputs");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("f32[1,10]", result.Stdout);
    }

    [Fact]
    public void UnknownInputNameIsAUserError()
    {
        var result = CliHarness.Run("run", Trained("digits_mlp", "digits_mlp.opset13.onnx"), "--input", "nope=" + Trained("digits_mlp", "eval_input.npy"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("no input 'nope'", result.Stderr);
    }

    [Fact]
    public void CpuInspectionListsFeatures()
    {
        var result = CliHarness.Run("inspect", "--cpu");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("avx512f", result.Stdout);
        Assert.Contains("amx_bf16", result.Stdout);
    }
}
