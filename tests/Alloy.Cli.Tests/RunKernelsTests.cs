using Alloy.Runtime.IO;
using Alloy.Runtime.OneDnn;
using Alloy.Testing;
using Xunit;

namespace Alloy.Cli.Tests;

/// <summary><c>alloy run --kernels</c>: each kernel set reproduces torch's reference logits; unknown or unavailable sets are user errors.</summary>
public sealed class RunKernelsTests
{
    private static string Trained(string model, string file) => Path.Combine(RepoPaths.CorpusModels, "trained", model, file);

    [Theory]
    [InlineData("auto")]
    [InlineData("onednn")]
    [InlineData("managed")]
    public void EveryKernelSetReproducesTheReferenceLogits(string kernels)
    {
        var dir = CliHarness.TempDir();
        try
        {
            var result = CliHarness.Run("run", Trained("digits_cnn", "digits_cnn.opset13.onnx"), "--kernels", kernels, "--threads", "2",
                "--input", "input=" + Trained("digits_cnn", "eval_input.npy"), "--output-dir", dir);
            if (kernels == "onednn" && !OneDnnLibrary.IsAvailable)
            {
                // Without the library the set cannot be had: a user error that says why, not a crash.
                Assert.Equal(1, result.ExitCode);
                Assert.Contains("oneDNN cannot be loaded", result.Stderr);
                return;
            }
            Assert.True(result.ExitCode == 0, result.Stderr);
            using var logits = NpyFile.Read(Path.Combine(dir, "logits.npy"));
            using var reference = NpyFile.Read(Trained("digits_cnn", "ref_logits.npy"));
            var (got, want) = (logits.ToArray<float>(), reference.ToArray<float>());
            Assert.Equal(want.Length, got.Length);
            for (int i = 0; i < got.Length; i++)
                Assert.True(Math.Abs(got[i] - want[i]) <= 1e-4f * Math.Max(1f, Math.Abs(want[i])), $"{kernels}: logit {i} is {got[i]}, torch {want[i]}");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void AnUnknownKernelSetIsAUserError()
    {
        var result = CliHarness.Run("run", Trained("digits_cnn", "digits_cnn.opset13.onnx"), "--kernels", "fastest", "--random-inputs");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("--kernels 'fastest': use auto, onednn, managed, reference", result.Stderr);
    }
}
