using Alloy.Onnx;
using Xunit;
using Xunit.Abstractions;

namespace Alloy.Tuning.Tests;

/// <summary>
/// Against the plain op-type fallback order (everything low, then op types to FP32 cumulatively in order of
/// appearance until the target is met), the tuner's choice is never more expensive, on every trained corpus model,
/// with both strategies and a fidelity target harsh enough that the all-low candidate often fails.
/// </summary>
public sealed class CostComparisonTests(ITestOutputHelper output)
{
    public static TheoryData<string, int, string, double> Cases()
    {
        var data = new TheoryData<string, int, string, double>();
        foreach (var name in TuningTestKit.TrainedNames)
        {
            data.Add(name, 13, "bf16", 50);   // SQNR >= 50 dB against torch's FP32 logits
            data.Add(name, 17, "fp16", 35);   // SQNR >= 65 dB
        }
        data.Add("digits_cnn", 13, "bf16", 45);          // no single op type in FP32 reaches 55 dB: groups, then cumulative
        data.Add("digits_transformer", 13, "bf16", 45);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void TunedIsNeverMoreExpensiveThanThePlainOpTypeOrder(string name, int opset, string dtype, double maxDrop)
    {
        using var temp = new TempFolder();
        var dir = temp.Path;
        using var model = OnnxImporter.Load(TuningTestKit.Onnx(name, opset));
        using var eval = new TuningTestKit.SqnrAgainstTorch(name, model, 48);
        var config = new TuningConfig
        {
            ConfigSet = [new MixedPrecisionConfig([dtype, "fp32"])],
            TolerableLoss = TolerableLoss.Absolute(maxDrop),
            SensitivityInputs = eval.Inputs,
            CacheDirectory = dir, // the three runs share evaluations of the same candidates
            EvaluationId = "sqnr-torch-48",
        };
        var plain = Autotuner.PlainOpTypeFallback(model, config, eval.Evaluate);
        var plainChoice = plain[^1];
        Assert.True(plainChoice.Passed || plainChoice.Spec.IsBaseline);
        double plainCost = plainChoice.Passed ? plainChoice.RelativeBitOps : 1.0;

        foreach (var strategy in new[] { TuningStrategy.Fallback, TuningStrategy.Pareto })
        {
            using var tuned = Autotuner.Autotune(model, config with { Strategy = strategy }, eval.Evaluate);
            output.WriteLine($"{name} opset{opset} {dtype} {strategy}: plain {plainCost:F4} after {plain.Count - 1} trials ({plainChoice.Label}); " +
                $"tuned {tuned.Chosen.RelativeBitOps:F4} sqnr {tuned.Chosen.Metric:F2} after {tuned.Trials.Count - 1} trials ({tuned.Chosen.Label})");
            Assert.True(tuned.Chosen.Passed);
            Assert.True(tuned.Chosen.Metric >= tuned.Threshold);
            Assert.True(tuned.Chosen.RelativeBitOps <= plainCost + 1e-12, $"{strategy}: {tuned.Chosen.RelativeBitOps} > plain {plainCost}");
            // The chosen model really is the chosen candidate: its cost recomputed from the built model.
            Assert.Equal(tuned.Chosen.RelativeBitOps, BitOpsCostModel.BitOps(tuned.ChosenModel) / BaselineBitOps(model), 9);
        }
    }

    private static double BaselineBitOps(Alloy.IR.Model model)
    {
        using var copy = OnnxImporter.FromBytes(OnnxWireWriter.ToBytes(model), "copy", ".");
        Alloy.Passes.StandardPasses.CreateRegistry().Build("infer-shapes").Run(copy);
        return BitOpsCostModel.BitOps(copy);
    }
}
