using Alloy.Testing;
using System.Globalization;
using Alloy.Passes.Precision;
using Alloy.Passes.Quantization;
using Xunit;
using Xunit.Abstractions;

namespace Alloy.Calibration.Tests;

/// <summary>
/// The trained digits models compiled to INT8 (+FP32, and +BF16) from their calibration set lose at most one
/// percentage point of top-1 accuracy on their evaluation set, run in Alloy's runtime; their contractions run INT8.
/// </summary>
public sealed class Int8AccuracyTests(ITestOutputHelper output)
{
    public static TheoryData<string, int, string, string> Cases()
    {
        var data = new TheoryData<string, int, string, string>();
        foreach (var name in Int8TestKit.TrainedNames)
            foreach (var opset in new[] { 13, 17 })
            {
                data.Add(name, opset, "minmax", "");
                data.Add(name, opset, "percentile", "bf16");
            }
        foreach (var name in Int8TestKit.TrainedNames)
        {
            data.Add(name, 17, "entropy", "");
            data.Add(name, 17, "mse", "");
            data.Add(name, 13, "minmax", "bf16");
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LosesAtMostOnePointOfTop1(string name, int opset, string method, string low)
    {
        var path = Int8TestKit.ModelPath(name, opset);
        var labels = Int8TestKit.EvalLabels(name);
        using var input = Int8TestKit.EvalInput(name);
        using var fp32Model = Alloy.Onnx.OnnxImporter.Load(path);
        double fp32 = OutputAgreement.Top1(Int8TestKit.RunAlloy(fp32Model, input), labels);

        var cache = Int8TestKit.TempDir();
        try
        {
            var (model, report, _) = Int8TestKit.Compile(path, cache, CalibrationMethods.Parse(method), low.Length == 0 ? null : low);
            using (model)
            {
                var nodes = model.Graph.Nodes.ToList();
                var contractions = nodes.Where(n => n.OpType is "Conv" or "MatMul" or "Gemm").ToList();
                int int8 = contractions.Count(n => PrecisionAnnotations.PrecisionOf(n) == QuantizationAnnotations.I8);
                double acc = OutputAgreement.Top1(Int8TestKit.RunAlloy(model, input), labels);
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{name} opset{opset} {method}{(low.Length > 0 ? "+" + low : "")}: FP32 top-1 {fp32:P2}, INT8 top-1 {acc:P2} ({(acc - fp32) * 100:+0.00;-0.00} pp); contractions INT8 {int8}/{contractions.Count}; nodes {nodes.Count}"));
                Assert.True(acc >= fp32 - 0.01, $"top-1 fell from {fp32:P2} to {acc:P2}");
                Assert.Equal(contractions.Count, int8);
                // With BF16 the GRU, the remaining allow-list op, stays FP32 because ONNX's GRU admits bfloat16 only
                // from opset 22 (the output stays valid ONNX); the INT8 partition is left as it was.
                if (low == "bf16" && name == "digits_gru")
                {
                    var gru = nodes.Single(n => n.OpType == "GRU");
                    Assert.Equal(PrecisionAnnotations.Fp32, PrecisionAnnotations.PrecisionOf(gru));
                    Assert.Equal(PrecisionAnnotations.Why.SchemaOpset, PrecisionAnnotations.ReasonOf(gru));
                }
                Assert.All(nodes.Where(n => n.OpType is "QuantizeLinear" or "DequantizeLinear"), n => Assert.Equal(QuantizationAnnotations.I8, PrecisionAnnotations.PrecisionOf(n)));
            }
        }
        finally
        {
            Directory.Delete(cache, true);
        }
    }
}
