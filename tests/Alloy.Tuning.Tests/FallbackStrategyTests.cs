using Alloy.Onnx;
using Xunit;

namespace Alloy.Tuning.Tests;

/// <summary>The fallback strategy's stages in order, on a target no single op type can meet (digits_cnn, SQNR >= 55 dB against torch).</summary>
public sealed class FallbackStrategyTests
{
    [Fact]
    public void StagesRunInOrderAndTheCheapestPassingCandidateIsChosen()
    {
        using var model = OnnxImporter.Load(TuningTestKit.Onnx("digits_cnn", 13));
        using var eval = new TuningTestKit.SqnrAgainstTorch("digits_cnn", model, 48);
        var config = new TuningConfig { ConfigSet = [TuningTestKit.AlloyBf16], TolerableLoss = TolerableLoss.Absolute(45), EvaluationId = "sqnr-torch-48" };
        using var r = Autotuner.Autotune(model, config, eval.Evaluate);
        var graph = r.Graphs.Single();
        string[] order = ["baseline", "all-low", "op-type", "group", "cumulative", "refine"];
        var phases = r.Trials.Select(t => Array.IndexOf(order, t.Phase)).ToList();
        Assert.DoesNotContain(-1, phases);
        Assert.Equal(phases.Order(), phases);

        Assert.False(r.Trials.Single(t => t.Phase == "all-low").Passed);
        var opTypes = r.Trials.Where(t => t.Phase == "op-type").ToList();
        Assert.Equal(graph.OpTypes.Count, opTypes.Count);
        Assert.All(opTypes, t => Assert.False(t.Passed));
        // Every group was tried alone in FP32 (a group equal to an op type's nodes reuses that op-type trial).
        foreach (var g in graph.Groups) Assert.Contains(r.Trials, t => t.Phase is "group" or "op-type" && t.Spec.Fp32Nodes.SetEquals(g.Nodes));
        Assert.Contains(r.Trials, t => t.Phase == "group");
        var cumulative = r.Trials.Where(t => t.Phase == "cumulative").ToList();
        Assert.True(cumulative.Last().Passed);
        Assert.All(cumulative.SkipLast(1), t => Assert.False(t.Passed));
        // Each cumulative step keeps the previous step's FP32 nodes.
        for (int i = 1; i < cumulative.Count; i++) Assert.True(cumulative[i - 1].Spec.Fp32Nodes.IsProperSubsetOf(cumulative[i].Spec.Fp32Nodes));

        Assert.True(r.Chosen.Passed);
        Assert.Equal(r.Trials.Where(t => t.Passed).Min(t => t.RelativeBitOps), r.Chosen.RelativeBitOps);
        Assert.True(r.Chosen.RelativeBitOps <= cumulative.Last().RelativeBitOps);
        Assert.Equal(r.Trials.Count, eval.Evaluated.Count);
        Assert.Equal(r.Trials.Count, eval.Evaluated.Distinct().Count()); // no candidate evaluated twice
        Assert.Equal("completed", r.StopReason);
    }

    [Fact]
    public void MaxTrialsBoundsTheSearch()
    {
        using var model = OnnxImporter.Load(TuningTestKit.Onnx("digits_cnn", 13));
        using var eval = new TuningTestKit.SqnrAgainstTorch("digits_cnn", model, 48);
        using var r = Autotuner.Autotune(model, new TuningConfig { ConfigSet = [TuningTestKit.AlloyBf16], TolerableLoss = TolerableLoss.Absolute(45), MaxTrials = 3 }, eval.Evaluate);
        Assert.Equal(4, r.Trials.Count); // the baseline and three trials
        Assert.StartsWith("max trials (3)", r.StopReason);
        Assert.True(r.Chosen.Spec.IsBaseline, "nothing cheaper met the target within three trials");
    }

    [Fact]
    public void TimeoutStopsTheSearchBetweenEvaluations()
    {
        using var model = OnnxImporter.Load(TuningTestKit.Onnx("digits_cnn", 13));
        using var eval = new TuningTestKit.SqnrAgainstTorch("digits_cnn", model, 48);
        var config = new TuningConfig { TolerableLoss = TolerableLoss.Absolute(45), Timeout = TimeSpan.FromMilliseconds(1) };
        using var r = Autotuner.Autotune(model, config, eval.Evaluate);
        Assert.StartsWith("timeout", r.StopReason);
        Assert.Single(r.Trials); // the baseline alone: its evaluation already exceeds the budget
        Assert.True(r.Chosen.Spec.IsBaseline);
    }

    /// <summary>With BF16 and FP16 both in the config set, the cheapest passing candidate over both families is chosen.</summary>
    [Fact]
    public void MixedConfigSetSearchesEveryFamily()
    {
        using var model = OnnxImporter.Load(TuningTestKit.Onnx("digits_cnn", 17));
        using var eval = new TuningTestKit.SqnrAgainstTorch("digits_cnn", model, 48);
        var config = new TuningConfig
        {
            ConfigSet = [new MixedPrecisionConfig(["bf16", "fp32"]), new MixedPrecisionConfig(["fp16", "fp32"])],
            TolerableLoss = TolerableLoss.Absolute(40), // 60 dB: BF16 needs fallbacks, FP16 does not
        };
        using var r = Autotuner.Autotune(model, config, eval.Evaluate);
        Assert.Contains(r.Trials, t => t.Spec.LowType == "bf16");
        Assert.Contains(r.Trials, t => t.Spec.LowType == "fp16");
        Assert.Equal(r.Trials.Where(t => t.Passed).Min(t => t.RelativeBitOps), r.Chosen.RelativeBitOps);
        Assert.Equal("fp16", r.Chosen.Spec.LowType);
        Assert.Empty(r.Chosen.Spec.Fp32Nodes);
        Assert.Equal(2, r.Graphs.Count);
    }

    [Fact]
    public void FailingEvaluationNamesTheModelAndCandidate()
    {
        using var model = OnnxImporter.Load(TuningTestKit.Onnx("digits_mlp", 17));
        int calls = 0;
        var e = Assert.Throws<TuningException>(() => Autotuner.Autotune(model, new TuningConfig(), c => ++calls == 1 ? 1.0 : throw new InvalidOperationException("labels missing")));
        Assert.Contains("digits_mlp", e.Message);
        Assert.Contains("bf16:all", e.Message);
        Assert.Contains("labels missing", e.Message);
        Assert.Throws<TuningException>(() => Autotuner.Autotune(model, new TuningConfig(), _ => double.NaN));
        Assert.Throws<ArgumentException>(() => new MixedPrecisionConfig(["bf16"]));
        Assert.Throws<ArgumentException>(() => new MixedPrecisionConfig(["int4", "fp32"]));
    }
}
