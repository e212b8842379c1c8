using Alloy.IR;
using Alloy.Onnx;
using Alloy.Testing;
using Xunit;

namespace Alloy.Cli.Tests;

public sealed class ConvertTests
{
    private static string Corpus(string rel) => Path.Combine(RepoPaths.CorpusModels, rel);

    [Fact]
    public void ConvertWritesAModelWithTheSameIrAndEmitsIr()
    {
        var dir = CliHarness.TempDir();
        try
        {
            var src = Corpus("trained/digits_cnn/digits_cnn.opset17.onnx");
            var outPath = Path.Combine(dir, "out.onnx");
            var irPath = Path.Combine(dir, "out.ir");
            var result = CliHarness.Run("convert", src, "-o", outPath, "--emit-ir", irPath);
            Assert.True(result.ExitCode == 0, result.Stderr);
            using var original = OnnxImporter.Load(src);
            using var converted = OnnxImporter.Load(outPath);
            var expected = IrPrinter.Print(original);
            Assert.Equal(expected, IrPrinter.Print(converted));
            Assert.Equal(expected, File.ReadAllText(irPath));
            Assert.Equal(new[] { "out.ir", "out.onnx" }, Directory.GetFiles(dir).Select(Path.GetFileName).Order());
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void ExternalDataThresholdMovesLargeInitializersOut()
    {
        var dir = CliHarness.TempDir();
        try
        {
            var src = Corpus("untrained/resnet18_w32/resnet18_w32.opset13.onnx");
            var outPath = Path.Combine(dir, "r.onnx");
            var result = CliHarness.Run("convert", src, "-o", outPath, "--external-data-threshold", "4096");
            Assert.True(result.ExitCode == 0, result.Stderr);
            var dataPath = outPath + ".data";
            Assert.True(File.Exists(dataPath));
            Assert.True(new FileInfo(outPath).Length < 1 << 20, "the model part should hold no large weights");
            Assert.True(new FileInfo(dataPath).Length > 10 << 20);
            using var original = OnnxImporter.Load(src);
            using var converted = OnnxImporter.Load(outPath);
            Assert.Equal(IrPrinter.Print(original), IrPrinter.Print(converted));
            var pairs = original.Graph.Constants.Zip(converted.Graph.Constants);
            Assert.All(pairs, p => Assert.True(p.First.Constant!.Data.ContentEquals(p.Second.Constant!.Data), p.First.Name));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void MissingModelIsAUserErrorWithoutStackTrace()
    {
        var result = CliHarness.Run("convert", "/nonexistent/model.onnx", "-o", "/tmp/x.onnx");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("/nonexistent/model.onnx", result.Stderr);
        Assert.Contains("file not found", result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr);
    }

    [Fact]
    public void TruncatedModelIsAUserErrorAndNoOutputIsLeft()
    {
        var dir = CliHarness.TempDir();
        try
        {
            var bytes = File.ReadAllBytes(Corpus("trained/digits_mlp/digits_mlp.opset13.onnx"));
            var bad = Path.Combine(dir, "truncated.onnx");
            File.WriteAllBytes(bad, bytes[..(bytes.Length / 2)]);
            var outPath = Path.Combine(dir, "out.onnx");
            var result = CliHarness.Run("convert", bad, "-o", outPath);
            Assert.Equal(1, result.ExitCode);
            Assert.Contains("truncated.onnx", result.Stderr);
            Assert.Contains("not a valid ONNX protobuf", result.Stderr);
            Assert.DoesNotContain("   at ", result.Stderr);
            Assert.Equal(new[] { "truncated.onnx" }, Directory.GetFiles(dir).Select(Path.GetFileName));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void OutputThatCannotBeWrittenLeavesNoTemporaryFile()
    {
        var dir = CliHarness.TempDir();
        try
        {
            var outPath = Path.Combine(dir, "taken");
            Directory.CreateDirectory(outPath); // a folder where the output file should go
            var result = CliHarness.Run("convert", Corpus("trained/digits_mlp/digits_mlp.opset13.onnx"), "-o", outPath);
            Assert.Equal(1, result.ExitCode);
            Assert.Contains("taken", result.Stderr);
            Assert.Empty(Directory.GetFiles(dir));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void MissingRequiredOptionIsAUserError()
    {
        var result = CliHarness.Run("convert", Corpus("trained/digits_mlp/digits_mlp.opset13.onnx"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("--output", result.Stderr);
    }

    [Fact]
    public void TorchScriptArchivesAreAccepted()
    {
        // The TorchScript frontend's own CLI tests are in tests/Alloy.TorchScript.Tests/CliTests.cs.
        var result = CliHarness.Run("inspect", Corpus("trained/digits_mlp/digits_mlp.traced.pt"));
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("output_0: f32", result.Stdout);
    }
}
