using System.Runtime.InteropServices;
using Alloy.Backend;
using Alloy.IR;
using Alloy.Passes.Precision;
using Alloy.Passes.Quantization;
using Alloy.Pipeline;
using Alloy.Runtime;
using Alloy.Runtime.Execution;
using Alloy.Runtime.Kernels;
using Xunit;

namespace Alloy.Passes.Tests.Quantization;

/// <summary>partition-int8: quantization arithmetic against an exact computation, numerics against the reference kernels, options and errors.</summary>
public sealed class PartitionInt8Tests
{
    private const string MatMulGemm = """
        module {ir_version = 8, opsets = {"" = 13}}

        graph @g(%x: f32[2,3]) -> (%y: f32[2,2]) {
          %w = const f32[3,4] dense<[1.0, -0.5, 0.01, 0.3, 2.0, 0.25, -0.02, -0.7, -4.0, 0.125, 0.03, 0.1]>
          %g = const f32[2,4] dense<[0.5, -1.0, 1.5, -2.0, 0.1, 0.2, 0.3, 0.4]>
          %bias = const f32[2] dense<[0.5, -0.25]>
          %m = MatMul %x, %w : f32[2,4] loc("matmul")
          %r = Relu %m : f32[2,4] loc("relu")
          %y = Gemm %r, %g, %bias {transB = 1} : f32[2,2] loc("gemm")
          return %y
        }
        """;

    private static readonly Dictionary<string, string> Ranges = new() { ["inline-ranges"] = "x:-1:1.5;m:-3:3;r:0:3;y:-5:5" };

    private static Model Run(string text, IReadOnlyDictionary<string, string> options, out PipelineReport report)
    {
        var model = IrParser.ParseModel(text);
        report = StandardPasses.CreateRegistry().Build([new PassSpec(PartitionInt8Pass.PassId, options)]).Run(model);
        return model;
    }

    private static float[] Floats(Value v) => MemoryMarshal.Cast<byte, float>(v.Constant!.Data.AsSpan()).ToArray();
    private static Value Operand(Node dq, int i) => dq.Inputs[i]!;

    [Fact]
    public void WeightsAndBiasesMatchAnExactComputation()
    {
        using var model = Run(MatMulGemm, Ranges, out var report);
        var g = model.Graph;
        var matmul = g.Nodes.Single(n => n.Name == "matmul");
        var gemm = g.Nodes.Single(n => n.Name == "gemm");
        Assert.Equal(QuantizationAnnotations.I8, PrecisionAnnotations.PrecisionOf(matmul));
        Assert.Equal(QuantizationAnnotations.Why.ReluFolded, PrecisionAnnotations.ReasonOf(g.Nodes.Single(n => n.Name == "relu")));

        // MatMul weight [3,4]: one symmetric scale per column (axis 1) = max |w| / 127, values round(w / s) in [-127, 127].
        float[] w = [1.0f, -0.5f, 0.01f, 0.3f, 2.0f, 0.25f, -0.02f, -0.7f, -4.0f, 0.125f, 0.03f, 0.1f];
        var wdq = matmul.Inputs[1]!.Producer!;
        Assert.Equal("DequantizeLinear", wdq.OpType);
        Assert.Equal(1, wdq.GetInt("axis", -1));
        var scales = Floats(Operand(wdq, 1));
        var q = Operand(wdq, 0).Constant!.Data.AsSpan().ToArray().Select(b => (sbyte)b).ToArray();
        Assert.Equal(DataType.Int8, Operand(wdq, 0).Constant!.ElementType);
        for (int c = 0; c < 4; c++)
        {
            float maxAbs = Enumerable.Range(0, 3).Max(k => Math.Abs(w[k * 4 + c]));
            Assert.Equal(maxAbs / 127, scales[c], 6);
            for (int k = 0; k < 3; k++)
                Assert.Equal((sbyte)Math.Round(w[k * 4 + c] / scales[c], MidpointRounding.ToEven), q[k * 4 + c]);
        }
        Assert.Contains(q, v => v == 127 || v == -127);

        // Gemm bias: int32 with scale = activation scale (r: [0, 3] -> 3/255) x per-row weight scale of B (transB: axis 0).
        var bdq = gemm.Inputs[2]!.Producer!;
        var gdq = gemm.Inputs[1]!.Producer!;
        Assert.Equal(0, gdq.GetInt("axis", -1));
        var gScales = Floats(Operand(gdq, 1));
        Assert.Equal(2.0f / 127, gScales[0], 6);
        Assert.Equal(0.4f / 127, gScales[1], 6);
        var bScales = Floats(Operand(bdq, 1));
        var bq = MemoryMarshal.Cast<byte, int>(Operand(bdq, 0).Constant!.Data.AsSpan()).ToArray();
        float rScale = 3f / 255;
        float[] b = [0.5f, -0.25f];
        for (int c = 0; c < 2; c++)
        {
            Assert.Equal(rScale * gScales[c], bScales[c]);
            Assert.Equal((int)Math.Round(b[c] / (double)bScales[c], MidpointRounding.ToEven), bq[c]);
        }

        Assert.Equal(2, Stat(report, "int8-nodes"));
        Assert.Equal(1, Stat(report, "relu-folded"));
        Assert.Equal(2, Stat(report, "activations-quantized")); // x and r; m is folded into r; y is a graph output
        Assert.Equal(2, Stat(report, "weights-quantized"));
        Assert.Equal(1, Stat(report, "biases-quantized"));
    }

    private const string MatMulRelu6Gemm = """
        module {ir_version = 8, opsets = {"" = 13}}

        graph @g(%x: f32[2,3]) -> (%y: f32[2,2]) {
          %w = const f32[3,4] dense<[1.0, -0.5, 0.01, 0.3, 2.0, 0.25, -0.02, -0.7, -4.0, 0.125, 0.03, 0.1]>
          %g = const f32[2,4] dense<[0.5, -1.0, 1.5, -2.0, 0.1, 0.2, 0.3, 0.4]>
          %lo = const f32[] dense<[0.0]>
          %hi = const f32[] dense<[6.0]>
          %m = MatMul %x, %w : f32[2,4] loc("matmul")
          %c = Clip %m, %lo, %hi : f32[2,4] loc("relu6")
          %y = Gemm %c, %g {transB = 1} : f32[2,2] loc("gemm")
          return %y
        }
        """;

    /// <summary>
    /// A Clip(0, 6) after an INT8 node folds like a Relu: only its result is quantized, and the runtime's QDQ lowering
    /// then fuses MatMul + Clip + QuantizeLinear into one integer kernel whose clamp is the Clip.
    /// </summary>
    [Fact]
    public void Relu6FoldsIntoTheRangeOfItsResult()
    {
        using var model = Run(MatMulRelu6Gemm, new Dictionary<string, string> { ["inline-ranges"] = "x:-1:1.5;m:-3:7;c:0:5.5;y:-5:5" }, out var report);
        var g = model.Graph;
        var clip = g.Nodes.Single(n => n.Name == "relu6");
        Assert.Equal(QuantizationAnnotations.Why.ClipFolded, PrecisionAnnotations.ReasonOf(clip));
        Assert.Equal(1, Stat(report, "clip-folded"));
        Assert.Equal(0, Stat(report, "relu-folded"));
        Assert.Equal("MatMul", clip.Inputs[0]!.Producer!.OpType); // m itself is not quantized
        Assert.Equal("QuantizeLinear", Assert.Single(clip.Outputs[0].Uses).User!.OpType);
        Assert.Equal(2, Stat(report, "activations-quantized")); // x and c

        // The managed plan runs MatMul + Clip as one integer kernel; it agrees with the reference kernels running
        // the QDQ graph within one quantisation step of c (5.5 / 255), carried through the FP32 Gemm.
        float[] x = [-1.2f, 0.3f, 1.49f, 0.0f, 0.77f, -0.31f];
        using var input = Tensor.FromFloats([2, 3], x);
        var inputs = new Dictionary<string, Tensor> { ["x"] = input };
        var reference = PlanCompiler.Compile(model, KernelRegistry.Reference());
        using var want = new PlanExecutor(1).Run(reference, inputs)[0]!;
        var plan = PlanCompiler.Compile(model, Alloy.Runtime.Kernels.Managed.ManagedKernels.CreateRegistry()); // lowers the QDQ groups in place
        Assert.DoesNotContain(plan.Steps, s => s.Node.OpType is "Clip" or "MatMul");
        Assert.Contains(plan.Steps, s => s.Node.OpType == "QLinearMatMul" && s.Node.Attributes.GetInt("relu", 0) == 1);
        using var got = new PlanExecutor(1).Run(plan, inputs)[0]!;
        float step = 5.5f / 255;
        float[] gw = [0.5f, -1.0f, 1.5f, -2.0f, 0.1f, 0.2f, 0.3f, 0.4f];
        var (a, b) = (want.ToArray<float>(), got.ToArray<float>());
        for (int i = 0; i < a.Length; i++)
        {
            int row = i % 2;
            float bound = step * Enumerable.Range(0, 4).Sum(k => Math.Abs(gw[row * 4 + k])) + 1e-5f;
            Assert.True(Math.Abs(a[i] - b[i]) <= bound, $"y[{i}]: reference {a[i]}, integer plan {b[i]}");
        }
    }

    /// <summary>The reference kernels running the QDQ graph compute exactly the fake-quantized model: quantize, dequantize, FP32 math.</summary>
    [Fact]
    public void ReferenceKernelsComputeTheFakeQuantizedModel()
    {
        using var model = Run(MatMulGemm, Ranges, out _);
        float[] x = [-1.2f, 0.3f, 1.49f, 0.0f, 0.77f, -0.31f];
        var plan = PlanCompiler.Compile(model, KernelRegistry.Reference());
        using var input = Tensor.FromFloats([2, 3], x);
        var outputs = new PlanExecutor(1).Run(plan, new Dictionary<string, Tensor> { ["x"] = input });
        using var y = outputs[0]!;

        static double Fq(double v, double lo, double hi)
        {
            lo = Math.Min(lo, 0); hi = Math.Max(hi, 0);
            float s = (float)((hi - lo) / 255);
            int zp = (int)Math.Clamp(Math.Round(-lo / s, MidpointRounding.ToEven), 0, 255);
            double q = Math.Clamp(Math.Round((float)v / s, MidpointRounding.ToEven) + zp, 0, 255);
            return (q - zp) * s;
        }
        var g = model.Graph;
        Node Dq(string node, int operand) => g.Nodes.Single(n => n.Name == node).Inputs[operand]!.Producer!;
        double[] Dequantized(Node dq)
        {
            var q = Operand(dq, 0).Constant!;
            var s = Floats(Operand(dq, 1));
            long inner = q.Dims.Length == 2 && dq.GetInt("axis", -1) == 1 ? 1 : q.Dims.Length == 2 ? q.Dims[1] : 1;
            long channels = s.Length;
            var bytes = q.Data.AsSpan();
            int count = (int)q.ElementCount;
            var result = new double[count];
            for (int i = 0; i < count; i++)
            {
                long ch = channels == 1 ? 0 : i / inner % channels;
                double v = q.ElementType == DataType.Int32 ? MemoryMarshal.Cast<byte, int>(bytes)[i] : (sbyte)bytes[i];
                result[i] = v * s[ch];
            }
            return result;
        }
        var w = Dequantized(Dq("matmul", 1));
        var gw = Dequantized(Dq("gemm", 1));
        var bias = Dequantized(Dq("gemm", 2));
        var expected = new double[4];
        for (int i = 0; i < 2; i++)
        {
            var r = new double[4];
            for (int c = 0; c < 4; c++)
            {
                double m = 0;
                for (int k = 0; k < 3; k++) m += (float)Fq(x[i * 3 + k], -1, 1.5) * (float)w[k * 4 + c];
                r[c] = Fq(Math.Max(0, (float)m), 0, 3);
            }
            for (int o = 0; o < 2; o++)
            {
                double acc = 0;
                for (int c = 0; c < 4; c++) acc += (float)r[c] * (float)gw[o * 4 + c];
                expected[i * 2 + o] = acc + (float)bias[o];
            }
        }
        var actual = y.ToArray<float>();
        for (int i = 0; i < 4; i++) Assert.Equal(expected[i], actual[i], 5);
    }

    [Fact]
    public void SymmetricActivationsUseInt8WithZeroPointZero()
    {
        using var model = Run(MatMulGemm, new Dictionary<string, string>(Ranges) { ["activations"] = "s8" }, out _);
        var qs = model.Graph.Nodes.Where(n => n.OpType == "QuantizeLinear").ToList();
        Assert.NotEmpty(qs);
        foreach (var q in qs)
        {
            Assert.Equal(DataType.Int8, q.Outputs[0].ElementType);
            Assert.Equal(0, (sbyte)q.Inputs[2]!.Constant!.Data.AsSpan()[0]);
        }
        var x = qs.Single(q => q.Inputs[0]!.Name == "x");
        Assert.Equal(1.5f / 127, Floats(x.Inputs[1]!)[0]);
    }

    [Fact]
    public void Bf16ScalesAreRepresentableInBf16AndCoverTheRange()
    {
        using var model = Run(MatMulGemm, new Dictionary<string, string>(Ranges) { ["bf16-scales"] = "true" }, out _);
        foreach (var q in model.Graph.Nodes.Where(n => n.OpType == "QuantizeLinear"))
        {
            float s = Floats(q.Inputs[1]!)[0];
            Assert.Equal(0u, BitConverter.SingleToUInt32Bits(s) & 0xFFFF);
        }
        float x = Floats(model.Graph.Nodes.Single(n => n.OpType == "QuantizeLinear" && n.Inputs[0]!.Name == "x").Inputs[1]!)[0];
        Assert.True(x >= 2.5f / 255 && x < 2.5f / 255 * 1.01f);
    }

    [Fact]
    public void WithoutRangesNothingRunsInt8()
    {
        using var model = Run(MatMulGemm, new Dictionary<string, string>(), out var report);
        Assert.DoesNotContain(model.Graph.Nodes, n => n.OpType is "QuantizeLinear" or "DequantizeLinear");
        Assert.Contains(report.Diagnostics, d => d.Severity == DiagnosticSeverity.Warning && d.Message.Contains("no calibrated ranges"));
        Assert.All(model.Graph.Nodes.Where(n => n.OpType is "MatMul" or "Gemm"), n => Assert.Equal(QuantizationAnnotations.Why.NoRange, PrecisionAnnotations.ReasonOf(n)));
    }

    [Fact]
    public void OldOpsetsAreAnError()
    {
        var text = MatMulGemm.Replace("\"\" = 13", "\"\" = 9");
        var e = Assert.Throws<PipelineException>(() => Run(text, Ranges, out _));
        Assert.Contains("opset 10 or later", e.Message);
    }

    [Fact]
    public void RangesFilesInBothForms()
    {
        var dir = Path.Combine(Path.GetTempPath(), "alloy-int8-ranges-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var plain = Path.Combine(dir, "plain.json");
            var calibration = Path.Combine(dir, "calibration.json");
            File.WriteAllText(plain, """{"x": [-1, 1.5], "r": [0, 3]}""");
            File.WriteAllText(calibration, """{"method": "minmax", "samples": 4, "ranges": {"x": [-1, 1.5], "r": [0, 3]}}""");
            Assert.Equal(CalibratedRanges.Load(plain), CalibratedRanges.Load(calibration));
            Assert.Equal(new ValueRange(-1, 1.5), CalibratedRanges.Load(calibration)["x"]);
            Assert.Equal(new ValueRange(0, 3), CalibratedRanges.ParseInline("a/b:c:0:3")["a/b:c"]);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Theory]
    [InlineData("int8-ops", "Softmax", "'Softmax' has no INT8 form")]
    [InlineData("int8-nodes", "(", "'int8-nodes' is not a valid regular expression")]
    [InlineData("activations", "u16", "must be u8 (asymmetric) or s8 (symmetric)")]
    [InlineData("ranges", "/nonexistent/ranges.json", "cannot read the ranges file")]
    [InlineData("inline-ranges", "x:1", "must be name:min:max")]
    [InlineData("inline-ranges", "x:3:1", "has min above max")]
    [InlineData("bogus", "1", "has no option 'bogus'")]
    public void BadOptionsAreRejected(string option, string value, string fragment)
    {
        var e = Assert.Throws<PipelineSyntaxException>(() => StandardPasses.CreateRegistry().Build([new PassSpec(PartitionInt8Pass.PassId, new Dictionary<string, string> { [option] = value })]));
        Assert.Contains(fragment, e.Message);
    }

    [Fact]
    public void ConflictingOverridesAreRejected()
    {
        var e = Assert.Throws<PipelineSyntaxException>(() => StandardPasses.CreateRegistry().Build("partition-int8(int8-ops=Conv;MatMul,fp32-ops=MatMul)"));
        Assert.Contains("in both int8-ops and fp32-ops", e.Message);
    }

    private static long Stat(PipelineReport report, string name) =>
        report.Passes.Single(p => p.PassId == PartitionInt8Pass.PassId).Statistics.Single(s => s.Name == name).Value;
}
