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
/// output. BF16 the same way where ONNX Runtime's CPU kernels accept it; where they do not, only for a missing bf16
/// kernel, never for an invalid schema type.
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
    /// Every compiled BF16 model is valid ONNX at its opset (mark-bf16 keeps ops whose schema lacks bfloat16 FP32), so
    /// ONNX Runtime either loads it — then its outputs are compared like the FP16 ones — or refuses it only because
    /// its CPU provider has no bfloat16 kernel for an op (ORT_NOT_IMPLEMENTED naming a node that reads bf16; ONNX
    /// Runtime 1.30 has none for MatMul / Gemm). An invalid-schema failure (ORT_INVALID_GRAPH, "Type
    /// 'tensor(bfloat16)' ... is invalid") or any other failure fails the test.
    /// </summary>
    [Theory]
    [MemberData(nameof(TrainedModels))]
    public void Bf16ModelsLoadInOnnxRuntimeOrLackOnlyABf16Kernel(string relative)
    {
        var (compiled, alloy, inputs, casts) = Compile(relative, "bf16");
        try
        {
            Assert.True(casts > 0, $"{relative}: the bf16 model has no Cast, so nothing runs in bf16");
            using var written = OnnxImporter.Load(compiled);
            OrtSession session;
            try
            {
                session = new OrtSession(compiled, 1);
            }
            catch (OrtException e)
            {
                output.WriteLine($"{relative} bf16: ONNX Runtime {OrtSession.Version}: {OrtException.CodeName(e.Code)}: {e.OrtMessage}");
                Assert.False(SchemaType.IsMatch(e.OrtMessage), $"{relative}: the compiled model is not valid ONNX at its opset: {e.OrtMessage}");
                var k = NoKernel.Match(e.OrtMessage);
                Assert.True(k.Success && e.Code == 9, $"{relative}: unexpected ONNX Runtime failure: {e.Message}");
                var node = written.Graph.Nodes.Single(n => n.Name == k.Groups[2].Value);
                Assert.Equal(k.Groups[1].Value, node.OpType);
                Assert.Equal("bf16", LowTypeOfInputs(node));
                return;
            }
            using (session)
            {
                var ort = session.Run(inputs);
                try
                {
                    CompareOutputs(relative, "bf16", alloy, ort);
                }
                finally
                {
                    foreach (var t in ort) t.Dispose();
                }
            }
        }
        finally
        {
            Release(compiled, alloy, inputs);
        }
    }

    /// <summary>The same BF16 compilation for Alloy's runtime only (<c>schema=alloy</c>) keeps Conv / GRU bf16 at opsets 13 and 17, which ONNX Runtime rejects as invalid: the schema rule is what makes the default output valid.</summary>
    [Theory]
    [InlineData("trained/digits_cnn/digits_cnn.opset17.onnx", "Conv")]
    [InlineData("trained/digits_gru/digits_gru.opset13.onnx", "GRU")]
    public void Bf16ForAlloyOnlyIsRejectedByOnnxRuntimeForItsSchema(string relative, string op)
    {
        var path = Path.Combine(RepoPaths.CorpusModels, relative);
        Assert.True(File.Exists(path), $"missing corpus model {path}");
        if (!OrtSession.IsAvailable(out var reason)) Assert.Fail($"ONNX Runtime cannot be loaded: {reason}");
        using var model = OnnxImporter.Load(path);
        Run(model, CompilePipeline("bf16").Replace("(target=native)", "(target=native,schema=alloy)", StringComparison.Ordinal));
        var compiled = Path.Combine(Path.GetTempPath(), $"alloy-ort-alloyonly-{Environment.ProcessId}-{Guid.NewGuid():N}.onnx");
        try
        {
            OnnxExporter.Save(model, compiled);
            var e = Assert.Throws<OrtException>(() => new OrtSession(compiled, 1).Dispose());
            var m = SchemaType.Match(e.OrtMessage);
            Assert.True(m.Success, $"{relative}: expected a schema-type failure, got {e.Message}");
            Assert.Equal(op, m.Groups[2].Value);
        }
        finally
        {
            File.Delete(compiled);
        }
    }

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
