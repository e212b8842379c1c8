using Alloy.Onnx;
using Alloy.OnnxRuntime;
using Alloy.Passes;
using Alloy.Passes.Precision;
using Alloy.Passes.Quantization;
using Alloy.Runtime;
using Alloy.Runtime.IO;
using Alloy.Testing;
using Xunit;
using Xunit.Abstractions;

namespace Alloy.Calibration.Tests;

/// <summary>
/// partition-int8 on the untrained conv nets of the corpus (calibrated on their reference input): every Conv and
/// Gemm runs INT8, the result stays close to FP32 in Alloy's runtime, and ONNX Runtime agrees on the QDQ model.
/// </summary>
public sealed class Int8UntrainedModelTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("resnet18_w32", 0.999)]
    [InlineData("mobilenet_v2_w050", 0.97)] // depthwise convolutions with random weights: per-tensor activations lose most here
    [InlineData("squeezenet1_1", 0.999)]
    public void ConvNetsRunInt8AndAgreeWithOnnxRuntime(string name, double minCosineToFp32)
    {
        if (!OrtSession.IsAvailable(out var reason)) Assert.Fail($"ONNX Runtime cannot be loaded: {reason}");
        var folder = Path.Combine(RepoPaths.CorpusModels, "untrained", name);
        var path = Directory.GetFiles(folder, "*.onnx").Order(StringComparer.Ordinal).First();
        var data = Path.Combine(folder, "ref_input.npy");
        var dir = Int8TestKit.TempDir();
        try
        {
            var calib = Calibrator.Run(path, data, new CalibrationOptions { Method = CalibrationMethod.MinMax, CacheDirectory = dir });
            using var model = OnnxImporter.Load(path);
            StandardPasses.CreateRegistry().Build(Int8Pipeline.Specs(new Dictionary<string, string> { ["ranges"] = calib.CachePath! })).Run(model);
            var contractions = model.Graph.Nodes.Where(n => n.OpType is "Conv" or "Gemm" or "MatMul").ToList();
            Assert.NotEmpty(contractions);
            Assert.All(contractions, n => Assert.Equal(QuantizationAnnotations.I8, PrecisionAnnotations.PrecisionOf(n)));

            using var input = NpyFile.Read(data);
            using var fp32Model = OnnxImporter.Load(path);
            var fp32 = Int8TestKit.RunAlloy(fp32Model, input);
            var int8 = Int8TestKit.RunAlloy(model, input);
            var qdqPath = Path.Combine(dir, name + ".int8.onnx");
            OnnxExporter.Save(model, qdqPath);
            using var session = new OrtSession(qdqPath, 1, OrtGraphOptimization.All);
            var results = session.Run(new Dictionary<string, Tensor> { [session.Inputs[0]] = input });
            float[] ort;
            try { ort = Int8TestKit.ToFloats(results[0]); }
            finally { foreach (var r in results) r.Dispose(); }
            double toFp32 = OutputAgreement.Cosine(fp32, int8), toOrt = OutputAgreement.Cosine(int8, ort);
            output.WriteLine($"{name}: {contractions.Count} contractions INT8; cosine INT8 vs FP32 {toFp32:F5}, Alloy vs ONNX Runtime {toOrt:F6}");
            Assert.True(toFp32 >= minCosineToFp32, $"INT8 drifted from FP32: cosine {toFp32}");
            Assert.True(toOrt >= 0.999, $"ONNX Runtime and Alloy disagree: cosine {toOrt}");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
