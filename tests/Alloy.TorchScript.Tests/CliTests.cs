using Alloy.Cli;
using Alloy.IR;
using Alloy.Onnx;
using Alloy.OnnxRuntime;
using Alloy.Runtime;
using Alloy.Runtime.IO;
using Alloy.Testing;
using Xunit;

namespace Alloy.TorchScript.Tests;

/// <summary>The <c>alloy</c> commands take TorchScript archives wherever they take ONNX models.</summary>
public sealed class CliTests
{
    private static string Trained(string model, string file) => Path.Combine(RepoPaths.CorpusModels, "trained", model, file);

    private static (int Code, string Out, string Err) Alloy(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = Commands.Build(stdout, stderr).Parse(args).Invoke(new System.CommandLine.InvocationConfiguration { Output = stdout, Error = stderr });
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static string TempDir() => Directory.CreateTempSubdirectory("alloy-ts-cli-").FullName;

    [Fact]
    public void InspectShowsTheLoweredOps()
    {
        var (code, stdout, stderr) = Alloy("inspect", Trained("digits_cnn", "digits_cnn.scripted.pt"));
        Assert.True(code == 0, stderr);
        Assert.Contains("x: f32[?,?,?,?]", stdout);
        Assert.Matches(@"Conv\s+3", stdout);
        Assert.Matches(@"BatchNormalization\s+3", stdout);
        Assert.Contains("output_0: f32[?,10]", stdout);
    }

    [Fact]
    public void ConvertWritesOnnxThatOnnxRuntimeRunsLikeTorch()
    {
        var dir = TempDir();
        try
        {
            var onnx = Path.Combine(dir, "cnn.onnx");
            var (code, _, stderr) = Alloy("convert", Trained("digits_cnn", "digits_cnn.traced.pt"), "-o", onnx);
            Assert.True(code == 0, stderr);
            Assert.Null(OnnxChecker.Check(onnx));
            using var input = ConstantTensors(Trained("digits_cnn", "test_data_set_0/input_0.pb"));
            using var expected = ConstantTensors(Trained("digits_cnn", "test_data_set_0/output_0.pb"));
            using var session = new OrtSession(onnx, 1);
            var got = session.Run(new Dictionary<string, Tensor> { ["x"] = input });
            Assert.Null(Comparison.Problem("output_0", got[0], expected));
            foreach (var t in got) t.Dispose();
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static Tensor ConstantTensors(string pb) => Backend.ConstantTensors.ToTensor(OnnxTensorFile.Read(pb).Value);

    [Fact]
    public void RunReproducesTheTrainedAccuracy()
    {
        var dir = TempDir();
        try
        {
            var (code, stdout, stderr) = Alloy("run", Trained("digits_mlp", "digits_mlp.traced.pt"), "--input", "x=" + Trained("digits_mlp", "eval_input.npy"), "--output-dir", dir);
            Assert.True(code == 0, stderr);
            Assert.Contains("output_0: f32[540,10]", stdout);
            using var logits = NpyFile.Read(Path.Combine(dir, "output_0.npy"));
            using var reference = NpyFile.Read(Trained("digits_mlp", "ref_logits.npy"));
            using var labels = NpyFile.Read(Trained("digits_mlp", "eval_labels.npy"));
            Assert.Null(Comparison.Problem("output_0", logits, reference));
            var got = logits.Span<float>();
            var y = labels.Span<long>();
            int correct = 0;
            for (int i = 0; i < 540; i++)
            {
                int best = 0;
                for (int k = 1; k < 10; k++)
                    if (got[i * 10 + k] > got[i * 10 + best]) best = k;
                if (best == y[i]) correct++;
            }
            Assert.Equal(528, correct); // model.json: fp32_accuracy 0.9778
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void CompileAcceptsAnArchive()
    {
        var dir = TempDir();
        try
        {
            var onnx = Path.Combine(dir, "cnn.bf16.onnx");
            var (code, _, stderr) = Alloy("compile", Trained("digits_cnn", "digits_cnn.traced.pt"), "-o", onnx, "--dtype", "bf16");
            Assert.True(code == 0, stderr);
            using var model = OnnxImporter.Load(onnx);
            Assert.Equal(3, model.Graph.Nodes.Count(n => n.OpType == "Conv"));
            // The weights were converted offline to the low precision the compiler chose.
            Assert.Contains(model.Graph.Constants, c => c.ElementType == DataType.BFloat16);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void InputTypesForArchivesThatNeedThem()
    {
        var path = Trained("digits_transformer", "digits_transformer.traced.pt");
        var e = Assert.Throws<UserError>(() => ModelLoader.LoadTorchScript(path, null));
        Assert.Contains("code/__torch__/torch/nn/modules/activation.py:17", e.Message);
        Assert.Contains("--input-types", e.Message);
        using var model = ModelLoader.LoadTorchScript(path, "x=f32[N,8,8]");
        Assert.Equal("f32[N,8,8]", model.Graph.Inputs[0].Type is TensorType t ? $"{t.ElementType.ShortName()}{t.Shape}" : "");
        var bad = Assert.Throws<UserError>(() => ModelLoader.LoadTorchScript(path, "x=float[N]"));
        Assert.Contains("'float' is not an element type", bad.Message);
    }

    [Fact]
    public void InputTypesOptionLetsRunScoreTheTransformerArchive()
    {
        var path = Trained("digits_transformer", "digits_transformer.traced.pt");
        var dir = TempDir();
        try
        {
            var (failCode, _, failErr) = Alloy("inspect", path);
            Assert.Equal(1, failCode);
            Assert.Contains("--input-types", failErr);

            var (code, _, stderr) = Alloy("run", path, "--input-types", "x=f32[N,8,8]",
                "--input", "x=" + Trained("digits_transformer", "eval_input.npy"), "--output-dir", dir);
            Assert.True(code == 0, stderr);
            using var logits = NpyFile.Read(Path.Combine(dir, "output_0.npy"));
            using var labels = NpyFile.Read(Trained("digits_transformer", "eval_labels.npy"));
            using var reference = NpyFile.Read(Trained("digits_transformer", "ref_logits.npy"));
            var got = logits.Span<float>();
            var want = reference.Span<float>();
            var truth = labels.Span<long>();
            int classes = 10, same = 0, correct = 0, refCorrect = 0;
            for (int i = 0; i < truth.Length; i++)
            {
                int a = ArgMax(got.Slice(i * classes, classes)), b = ArgMax(want.Slice(i * classes, classes));
                if (a == b) same++;
                if (a == truth[i]) correct++;
                if (b == truth[i]) refCorrect++;
            }
            Assert.Equal(truth.Length, same);
            Assert.Equal(refCorrect, correct);

            var (onnxCode, _, onnxErr) = Alloy("inspect", Trained("digits_transformer", "digits_transformer.opset17.onnx"), "--input-types", "x=f32[N,8,8]");
            Assert.Equal(1, onnxCode);
            Assert.Contains("TorchScript archives", onnxErr);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static int ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int i = 1; i < row.Length; i++) if (row[i] > row[best]) best = i;
        return best;
    }

    [Fact]
    public void PthIsATorchScriptExtensionToo()
    {
        var dir = TempDir();
        try
        {
            var pth = Path.Combine(dir, "mlp.pth");
            File.Copy(Trained("digits_mlp", "digits_mlp.scripted.pt"), pth);
            var (code, stdout, stderr) = Alloy("inspect", pth);
            Assert.True(code == 0, stderr);
            Assert.Matches(@"Relu\s+2", stdout);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void ABrokenArchiveIsAUserError()
    {
        var dir = TempDir();
        try
        {
            var pt = Path.Combine(dir, "broken.pt");
            File.WriteAllText(pt, "this is not a zip file at all");
            var (code, _, stderr) = Alloy("inspect", pt);
            Assert.Equal(1, code);
            Assert.Contains("broken.pt: not a ZIP archive", stderr);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
