using Alloy.Backend;
using Alloy.Calibration;
using Alloy.IR;
using Alloy.Onnx;
using Alloy.Passes;
using Alloy.Passes.Quantization;
using Alloy.Runtime.Execution;
using Alloy.Runtime.IO;
using Alloy.Runtime.Kernels;
using Alloy.Runtime.Kernels.Managed;
using Alloy.Runtime.Numerics;
using Alloy.Runtime.OneDnn.Kernels;
using Alloy.Testing;
using Xunit;
using Xunit.Abstractions;

namespace Alloy.Runtime.OneDnn.Tests;

/// <summary>
/// Whole corpus models through the oneDNN kernel set against the managed one: the INT8 plans (Alloy's partition-int8
/// pipeline, calibrated by min-max on the model's own calibration / reference input) agree with the managed INT8 plan
/// (cosine ≥ 0.999; on the trained digits_cnn the top-1 accuracy on its 540 evaluation samples is equal), and the
/// FP32 plans agree with torch's reference outputs shipped in the corpus. Every integer convolution must have run on
/// oneDNN (no fallback).
/// </summary>
public sealed class ModelTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void DigitsCnnInt8MatchesTheManagedPlan(int threads)
    {
        if (!OneDnnRequirement.Check(output)) return;
        var folder = Path.Combine(RepoPaths.CorpusModels, "trained", "digits_cnn");
        using var model = Quantized(Path.Combine(folder, "digits_cnn.opset13.onnx"), Path.Combine(folder, "calib_input.npy"));
        using var input = NpyFile.Read(Path.Combine(folder, "eval_input.npy"));
        using var labelsTensor = NpyFile.Read(Path.Combine(folder, "eval_labels.npy"));
        var labels = labelsTensor.ToArray<long>();
        var managed = RunPlan(PlanCompiler.Compile(model, ManagedKernels.CreateRegistry()), input, threads);
        var plan = PlanCompiler.Compile(model, OneDnnKernels.CreateRegistry());
        var onednn = RunPlan(plan, input, threads);
        AssertAllOnOneDnn(plan);
        double cosine = OutputAgreement.Cosine(managed, onednn), topManaged = OutputAgreement.Top1(managed, labels), topOneDnn = OutputAgreement.Top1(onednn, labels);
        output.WriteLine($"digits_cnn INT8, {threads} threads: cosine {cosine:F6}, top-1 managed {topManaged:P2}, oneDNN {topOneDnn:P2}");
        Assert.True(cosine >= 0.999, $"cosine {cosine}");
        Assert.Equal(topManaged, topOneDnn);
    }

    /// <summary>
    /// The INT8 conv nets: each integer convolution of the plan, run by oneDNN and by the managed kernel on the same
    /// operands (the managed result flows on), differs by at most one step in at most 1% of its elements; the whole
    /// plan on oneDNN stays close to the managed plan. The random-weight mobilenet amplifies single-step differences
    /// through its 52 convolutions (its INT8 plan keeps only cosine 0.97 to FP32), so its whole-model bound is 0.995.
    /// </summary>
    [Theory]
    [InlineData("resnet18_w32", 0.999)]
    [InlineData("mobilenet_v2_w050", 0.995)]
    public void ConvNetInt8MatchesTheManagedPlan(string name, double minCosine)
    {
        if (!OneDnnRequirement.Check(output)) return;
        var folder = Path.Combine(RepoPaths.CorpusModels, "untrained", name);
        var data = Path.Combine(folder, "ref_input.npy");
        using var model = Quantized(Path.Combine(folder, $"{name}.opset13.onnx"), data);
        using var input = NpyFile.Read(data);

        var layers = new List<string>();
        long differing = 0, total = 0;
        var side = ManagedKernels.CreateRegistry();
        var oneDnn = OneDnnKernels.CreateRegistry();
        side.Register("QLinearConv", (KernelNode n, out string? reason) =>
        {
            var managedKernel = ManagedKernels.CreateRegistry().Create(n, out reason)!;
            var oneDnnKernel = Assert.IsType<OneDnnQLinearConvKernel>(oneDnn.Create(n, out reason));
            return new SideBySide(managedKernel, oneDnnKernel, (node, max, diff, count) =>
            {
                Assert.True(max <= 1, $"{node}: a result differs from the managed kernel's by {max} steps");
                layers.Add($"{node}: {diff}/{count} differ");
                differing += diff;
                total += count;
            }, n.ToString());
        }, Int8Kernels.Domain);
        RunPlan(PlanCompiler.Compile(model, side), input, 2);
        output.WriteLine($"{name}: {layers.Count} integer convolutions, {differing} of {total} elements differ by one step");
        Assert.NotEmpty(layers);
        Assert.True(differing <= 0.01 * total, string.Join("\n", layers));

        var managed = RunPlan(PlanCompiler.Compile(model, ManagedKernels.CreateRegistry()), input, 2);
        var plan = PlanCompiler.Compile(model, OneDnnKernels.CreateRegistry());
        foreach (var threads in new[] { 1, 2 })
        {
            var onednn = RunPlan(plan, input, threads);
            double cosine = OutputAgreement.Cosine(managed, onednn);
            output.WriteLine($"{name} INT8, {threads} threads: cosine to the managed plan {cosine:F6}");
            Assert.True(cosine >= minCosine, $"cosine {cosine}");
        }
        AssertAllOnOneDnn(plan);
    }

    /// <summary>Runs both kernels on the same operands, reports how far apart they are, and passes the first one's result on.</summary>
    private sealed class SideBySide(IKernel first, IKernel second, Action<string, int, long, long> report, string node) : IKernel
    {
        public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
        {
            var other = new Tensor?[1];
            second.Run(context, inputs, other);
            first.Run(context, inputs, outputs);
            using var b = other[0]!;
            var (x, y) = (OneDnnTestKit.Values(outputs[0]!), OneDnnTestKit.Values(b));
            int max = 0;
            long diff = 0;
            for (int i = 0; i < x.Length; i++)
            {
                int d = Math.Abs(x[i] - y[i]);
                if (d > 0) diff++;
                max = Math.Max(max, d);
            }
            report(node, max, diff, x.Length);
        }
    }

    [Theory]
    [InlineData("resnet18_w32")]
    [InlineData("mobilenet_v2_w050")]
    public void ConvNetFp32MatchesTorch(string name)
    {
        if (!OneDnnRequirement.Check(output)) return;
        var folder = Path.Combine(RepoPaths.CorpusModels, "untrained", name);
        using var model = OnnxImporter.Load(Path.Combine(folder, $"{name}.opset13.onnx"));
        using var input = NpyFile.Read(Path.Combine(folder, "ref_input.npy"));
        using var reference = NpyFile.Read(Path.Combine(folder, "ref_output.npy"));
        var want = reference.ToArray<float>();
        var plan = PlanCompiler.Compile(model, OneDnnKernels.CreateRegistry());
        var convs = plan.Steps.Where(s => s.Kernel is OneDnnConvKernel).ToList();
        Assert.NotEmpty(convs);
        foreach (var threads in new[] { 1, 2 })
        {
            var got = RunPlan(plan, input, threads);
            double maxDiff = got.Zip(want, (a, b) => Math.Abs(a - b)).Max(), scale = want.Max(Math.Abs);
            output.WriteLine($"{name} FP32, {threads} threads: {convs.Count} Conv steps on oneDNN; max |Δ| to torch {maxDiff:G3} (outputs up to {scale:G3})");
            Assert.True(maxDiff <= 1e-4 * Math.Max(1, scale), $"max difference {maxDiff}");
        }
        Assert.All(convs, s => Assert.Null(((OneDnnConvKernel)s.Kernel).FallbackReason));
    }

    private static void AssertAllOnOneDnn(ExecutionPlan plan)
    {
        var convs = plan.Steps.Where(s => s.Node.OpType == "QLinearConv").ToList();
        Assert.NotEmpty(convs);
        Assert.All(convs, s =>
        {
            var k = Assert.IsType<OneDnnQLinearConvKernel>(s.Kernel);
            Assert.Null(k.FallbackReason);
            Assert.False(string.IsNullOrEmpty(k.Implementation));
        });
    }

    /// <summary>The model after Alloy's INT8 pipeline, calibrated by min-max on <paramref name="calibration"/>.</summary>
    private static Model Quantized(string path, string calibration)
    {
        var dir = Path.Combine(Path.GetTempPath(), "alloy-onednn-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var calib = Calibrator.Run(path, calibration, new CalibrationOptions { Method = CalibrationMethod.MinMax, CacheDirectory = dir });
            var model = OnnxImporter.Load(path);
            StandardPasses.CreateRegistry().Build(Int8Pipeline.Specs(new Dictionary<string, string> { ["ranges"] = calib.CachePath! })).Run(model);
            return model;
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static float[] RunPlan(ExecutionPlan plan, Tensor input, int threads)
    {
        var outputs = new PlanExecutor(threads).Run(plan, new Dictionary<string, Tensor> { [plan.Inputs[0].Name] = input });
        try
        {
            var t = outputs[0]!;
            return t.Type == ElementType.Float ? t.ToArray<float>() : ElementConvert.ToFloats(t);
        }
        finally
        {
            foreach (var o in outputs) o?.Dispose();
        }
    }
}
