using Alloy.Calibration;
using Alloy.Onnx;
using Alloy.Runtime;
using Alloy.Testing;
using Alloy.OnnxRuntime;
using Xunit;
using Xunit.Abstractions;

namespace Alloy.Calibration.Tests;

/// <summary>
/// The QDQ models partition-int8 writes are valid ONNX (onnx.checker) and run in ONNX Runtime (with its graph
/// optimizations, which fuse QDQ into integer kernels) with outputs agreeing with Alloy's (cosine ≥ 0.999).
/// </summary>
public sealed class Int8OnnxRuntimeTests(ITestOutputHelper output)
{
    public static TheoryData<string, int, string> Cases()
    {
        var data = new TheoryData<string, int, string>();
        foreach (var name in Int8TestKit.TrainedNames)
            foreach (var opset in new[] { 13, 17 })
                data.Add(name, opset, "");
        foreach (var name in Int8TestKit.TrainedNames) data.Add(name, 17, "bf16");
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void QdqModelRunsInOnnxRuntimeAndAgreesWithAlloy(string name, int opset, string low)
    {
        if (!OrtSession.IsAvailable(out var reason)) Assert.Fail($"ONNX Runtime cannot be loaded: {reason}");
        var dir = Int8TestKit.TempDir();
        try
        {
            var (model, _, _) = Int8TestKit.Compile(Int8TestKit.ModelPath(name, opset), dir, CalibrationMethod.Percentile, low.Length == 0 ? null : low);
            var path = Path.Combine(dir, $"{name}.int8.onnx");
            using (model) OnnxExporter.Save(model, path);
            CheckWithOnnxChecker(path);

            using var input = Int8TestKit.EvalInput(name);
            using var reloaded = OnnxImporter.Load(path);
            var alloy = Int8TestKit.RunAlloy(reloaded, input);
            foreach (var optimization in new[] { OrtGraphOptimization.None, OrtGraphOptimization.All })
            {
                using var session = new OrtSession(path, 1, optimization);
                var results = session.Run(new Dictionary<string, Tensor> { [session.Inputs[0]] = input });
                float[] ort;
                try
                {
                    ort = Int8TestKit.ToFloats(results[0]);
                }
                finally
                {
                    foreach (var r in results) r.Dispose();
                }
                double cosine = OutputAgreement.Cosine(alloy, ort);
                output.WriteLine($"{name} opset{opset}{(low.Length > 0 ? "+" + low : "")} ORT {optimization}: cosine {cosine:F6}");
                Assert.True(cosine >= 0.999, $"ONNX Runtime ({optimization}) and Alloy disagree: cosine {cosine}");
            }
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static void CheckWithOnnxChecker(string path)
    {
        var complaint = OnnxChecker.Check(path, 120_000);
        Assert.True(complaint is null, $"onnx.checker rejects {path}: {complaint}");
    }
}
