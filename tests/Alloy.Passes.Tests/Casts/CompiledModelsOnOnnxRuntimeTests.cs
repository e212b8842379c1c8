using Alloy.IR;
using Alloy.Onnx;
using Alloy.OnnxRuntime;
using Alloy.Passes.Casts;
using Alloy.Runtime;
using Alloy.Runtime.IO;
using Alloy.Testing;
using Xunit;
using Xunit.Abstractions;
using static Alloy.Passes.Tests.Casts.CastTestKit;

namespace Alloy.Passes.Tests.Casts;

/// <summary>
/// Every trained corpus model compiled as <c>alloy compile --dtype fp16 --keep-io-types</c> does (the same pipeline,
/// then exported to ONNX) runs in ONNX Runtime, and its outputs on the first evaluation samples are close to the
/// outputs Alloy's reference runtime computes for the same compiled model: cosine similarity at least 0.999 per
/// output. BF16 the same way where ONNX Runtime's CPU kernels accept it.
/// </summary>
public sealed class CompiledModelsOnOnnxRuntimeTests(ITestOutputHelper output)
{
    public const double MinCosine = 0.999;
    private const int Samples = 64;

    /// <summary>The pipeline <c>alloy compile --dtype DTYPE --keep-io-types</c> runs (CompileCommand.DefaultPipeline).</summary>
    public static string CompilePipeline(string dtype) =>
        $"infer-shapes,mark-{dtype}(target=native),propagate-{dtype},insert-casts(keep-io-types=true),fold-casts";

    public static TheoryData<string> TrainedModels()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.EnumerateFiles(Path.Combine(RepoPaths.CorpusModels, "trained"), "*.onnx", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            data.Add(Path.GetRelativePath(RepoPaths.CorpusModels, f));
        return data;
    }

    [Theory]
    [MemberData(nameof(TrainedModels))]
    public void Fp16ModelsRunInOnnxRuntimeCloseToAlloy(string relative)
    {
        var (compiled, alloy, inputs, casts) = Compile(relative, "fp16");
        try
        {
            Assert.True(casts > 0, $"{relative}: the fp16 model has no Cast, so nothing runs in fp16");
            using var session = new OrtSession(compiled, 1);
            var ort = session.Run(inputs);
            try
            {
                CompareOutputs(relative, "fp16", alloy, ort);
            }
            finally
            {
                foreach (var t in ort) t.Dispose();
            }
        }
        finally
        {
            Release(compiled, alloy, inputs);
        }
    }

    /// <summary>
    /// ONNX Runtime 1.30 does not run the compiled BF16 models; this test pins down why, so a change shows. Its CPU
    /// provider has no bfloat16 kernel for MatMul / Gemm (ORT_NOT_IMPLEMENTED naming a node that runs bf16), and
    /// the ONNX schemas of Conv and GRU before opset 22 do not admit tensor(bfloat16) (ORT_INVALID_GRAPH): mark-bf16
    /// does not yet keep such ops FP32 by the model's opset, so those two models are listed as known schema gaps
    /// (docs/passes/mark-bf16.md). Any other failure, or a model that runs, fails the test; a model that runs is
    /// then compared like the FP16 ones.
    /// </summary>
    [Theory]
    [MemberData(nameof(TrainedModels))]
    public void Bf16ModelsAreRejectedByOnnxRuntimeOnlyForBf16Support(string relative)
    {
        var (compiled, alloy, inputs, casts) = Compile(relative, "bf16");
        try
        {
            Assert.True(casts > 0, $"{relative}: the bf16 model has no Cast, so nothing runs in bf16");
            using var written = OnnxImporter.Load(compiled);
            var e = Assert.Throws<OrtException>(() => new OrtSession(compiled, 1).Dispose());
            output.WriteLine($"{relative} bf16: ONNX Runtime {OrtSession.Version}: {OrtException.CodeName(e.Code)}: {e.OrtMessage}");
            if (NoKernel.Match(e.OrtMessage) is { Success: true } k)
            {
                Assert.Equal(9, e.Code);
                var node = written.Graph.Nodes.Single(n => n.Name == k.Groups[2].Value);
                Assert.Equal(k.Groups[1].Value, node.OpType);
                Assert.Equal("bf16", LowTypeOfInputs(node));
                return;
            }
            var m = SchemaType.Match(e.OrtMessage);
            Assert.True(m.Success, $"{relative}: unexpected ONNX Runtime failure: {e.Message}");
            var model = Path.GetFileName(Path.GetDirectoryName(relative))!;
            Assert.True(KnownSchemaGaps.Contains((model, m.Groups[2].Value)), $"{relative}: {m.Groups[2].Value} in bf16 is not valid at this opset: {e.OrtMessage}");
        }
        finally
        {
            Release(compiled, alloy, inputs);
        }
    }

    /// <summary>(model, op): ops that run bf16 in the compiled model although their ONNX schema at the model's opset lacks bfloat16.</summary>
    private static readonly HashSet<(string, string)> KnownSchemaGaps = [("digits_cnn", "Conv"), ("digits_gru", "GRU")];

    private static readonly System.Text.RegularExpressions.Regex NoKernel = new(@"Could not find an implementation for (\w+)\(\d+\) node with name '([^']*)'");
    private static readonly System.Text.RegularExpressions.Regex SchemaType = new(@"Type 'tensor\(bfloat16\)' of input parameter \(([^)]*)\) of operator \((\w+)\) in node \(([^)]*)\) is invalid");

    /// <summary>The element type of the node's first operand as the IR text writes it (prec annotations do not survive the ONNX file).</summary>
    private static string? LowTypeOfInputs(Node n) => n.Inputs.FirstOrDefault()?.ElementType?.ShortName();

    private (string Path, Tensor[] Alloy, Dictionary<string, Tensor> Inputs, int Casts) Compile(string relative, string dtype)
    {
        if (!OrtSession.IsAvailable(out var reason)) Assert.Fail($"ONNX Runtime cannot be loaded: {reason}");
        var path = Path.Combine(RepoPaths.CorpusModels, relative);
        using var model = OnnxImporter.Load(path);
        Run(model, CompilePipeline(dtype));
        Assert.Empty(Verifier.Verify(model));
        // keep-io-types: the interface stays FP32.
        Assert.All(model.Graph.Inputs.Concat(model.Graph.Outputs), v => Assert.Equal(DataType.Float, v.ElementType));
        int casts = CastAudit.Scan(model).Casts;

        var compiled = Path.Combine(Path.GetTempPath(), $"alloy-ort-{dtype}-{Environment.ProcessId}-{Guid.NewGuid():N}.onnx");
        OnnxExporter.Save(model, compiled);
        using var all = NpyFile.Read(Path.Combine(Path.GetDirectoryName(path)!, "eval_input.npy"));
        long per = all.Length / all.Shape[0];
        long[] shape = [Math.Min(Samples, all.Shape[0]), .. all.Shape[1..]];
        var input = Tensor.FromArray(all.Type, shape, all.Span<float>()[..(int)(shape[0] * per)]);
        var inputs = new Dictionary<string, Tensor> { [model.Graph.Inputs[0].Name] = input };
        // Alloy runs the model it wrote, read back, as ONNX Runtime does.
        using var written = OnnxImporter.Load(compiled);
        return (compiled, Execute(written, inputs), inputs, casts);
    }

    private void CompareOutputs(string relative, string dtype, Tensor[] alloy, Tensor[] ort)
    {
        Assert.Equal(alloy.Length, ort.Length);
        for (int i = 0; i < alloy.Length; i++)
        {
            Assert.Equal(alloy[i].Shape.ToArray(), ort[i].Shape.ToArray());
            double cosine = Cosine(AsDoubles(alloy[i]), AsDoubles(ort[i]));
            output.WriteLine($"{relative} {dtype}: output {i} cosine(Alloy, ONNX Runtime) = {cosine:F6}");
            Assert.True(cosine >= MinCosine, $"{relative} {dtype}: output {i} cosine {cosine:F6} < {MinCosine}");
        }
    }

    /// <summary>Cosine similarity of two vectors; NaN (never passing) when either is all zeros or not finite.</summary>
    public static double Cosine(double[] a, double[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            dot += a[i] * b[i];
            na += a[i] * a[i];
            nb += b[i] * b[i];
        }
        return dot / Math.Sqrt(na * nb);
    }

    private static void Release(string compiled, Tensor[] alloy, Dictionary<string, Tensor> inputs)
    {
        foreach (var t in alloy) t.Dispose();
        foreach (var t in inputs.Values) t.Dispose();
        File.Delete(compiled);
        File.Delete(compiled + ".data");
    }
}
