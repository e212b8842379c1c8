using System.Text.Json;
using System.Text.RegularExpressions;
using Alloy.Runtime.IO;
using Xunit;
using Xunit.Abstractions;

namespace Alloy.Tuning.Tests;

/// <summary><c>alloy tune</c> end to end: the target is met on the evaluation set, the report is consistent, bad input is a user error.</summary>
public sealed class TuneCommandTests(ITestOutputHelper output)
{
    public static TheoryData<string, int, string> Trained()
    {
        var data = new TheoryData<string, int, string>();
        foreach (var name in TuningTestKit.TrainedNames)
        {
            data.Add(name, 13, "fallback");
            data.Add(name, 17, "fallback");
            data.Add(name, 17, "pareto");
        }
        return data;
    }

    /// <summary>
    /// Top-1 with --max-drop 0.005 on the full evaluation set: the written model, run here and scored by an
    /// independent argmax, is within 0.005 of the FP32 accuracy the corpus records; the evaluations are reported;
    /// with the Pareto strategy the chosen trial is on the reported front.
    /// </summary>
    [Theory]
    [MemberData(nameof(Trained))]
    public void TunedModelMeetsTheMaxDropOnTheEvaluationSet(string name, int opset, string strategy)
    {
        using var temp = new TempFolder();
        var dir = temp.Path;
        var x = Path.Combine(TuningTestKit.Dir(name), "eval_input.npy");
        var y = Path.Combine(TuningTestKit.Dir(name), "eval_labels.npy");
        var outPath = Path.Combine(dir, "tuned.onnx");
        var r = CliHarness.Run("tune", TuningTestKit.Onnx(name, opset), "--data", x, "--labels", y, "--metric", "top1", "--dtype", "bf16",
            "--max-drop", "0.005", "--strategy", strategy, "--cache", Path.Combine(dir, "cache"), "-o", outPath, "--report", Path.Combine(dir, "report"));
        output.WriteLine(r.Stdout + r.Stderr);
        Assert.True(r.ExitCode == 0, r.Stderr);

        using var input = NpyFile.Read(x);
        using var labels = NpyFile.Read(y);
        using var logits = TuningTestKit.RunSaved(outPath, input);
        double accuracy = TuningTestKit.Top1(logits, labels);
        double fp32 = TuningTestKit.Fp32Accuracy(name);
        output.WriteLine($"{name}: tuned top-1 {accuracy:F4}, fp32 {fp32:F4}");
        Assert.True(accuracy >= fp32 - 0.005 - 1e-12, $"tuned top-1 {accuracy} misses fp32 {fp32} - 0.005");

        var report = TuningTestKit.ReadJson(Path.Combine(dir, "report", "report.json"));
        int evaluations = report.GetProperty("evaluations").GetInt32();
        var m = Regex.Match(r.Stdout, @"evaluations: (\d+)");
        Assert.True(m.Success, r.Stdout);
        Assert.Equal(evaluations, int.Parse(m.Groups[1].Value));
        var trials = report.GetProperty("trials").EnumerateArray().ToList();
        Assert.Equal(evaluations, trials.Count(t => !t.GetProperty("cached").GetBoolean()));
        Assert.True(evaluations >= 2, "the FP32 baseline and at least one candidate are evaluated");
        Assert.Equal(fp32, report.GetProperty("baseline").GetDouble(), 9);
        Assert.True(report.GetProperty("chosen").GetProperty("passed").GetBoolean());
        Assert.True(File.Exists(Path.Combine(dir, "report", "report.html")));
        var front = report.GetProperty("pareto_front").EnumerateArray().Select(e => e.GetInt32()).ToList();
        Assert.Contains(report.GetProperty("chosen").GetProperty("trial").GetInt32(), front);
        if (strategy == "pareto")
            Assert.Equal(report.GetProperty("groups").GetArrayLength(), report.GetProperty("sensitivity").GetArrayLength());
    }

    /// <summary>A harsh fidelity target (SQNR of at least 50 dB against FP32) forces fallbacks; with --strategy pareto the chosen point is on the reported front, checked by dominance here.</summary>
    [Fact]
    public void ParetoChoosesAPointOnTheReportedFront()
    {
        using var temp = new TempFolder();
        var dir = temp.Path;
        var data = TuningTestKit.Subset("digits_cnn", "eval_input.npy", 64, dir);
        var r = CliHarness.Run("tune", TuningTestKit.Onnx("digits_cnn", 13), "--data", data, "--metric", "sqnr", "--max-drop", "50",
            "--strategy", "pareto", "--allow-nonstandard-types", "--cache", Path.Combine(dir, "cache"), "-o", Path.Combine(dir, "t.onnx"), "--report", dir);
        output.WriteLine(r.Stdout + r.Stderr);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var report = TuningTestKit.ReadJson(Path.Combine(dir, "report.json"));
        var trials = report.GetProperty("trials").EnumerateArray()
            .Select(t => (Index: t.GetProperty("trial").GetInt32(), Cost: t.GetProperty("relative_bit_ops").GetDouble(), Metric: t.GetProperty("metric").GetDouble(), Passed: t.GetProperty("passed").GetBoolean()))
            .ToList();
        int chosen = report.GetProperty("chosen").GetProperty("trial").GetInt32();
        var front = report.GetProperty("pareto_front").EnumerateArray().Select(e => e.GetInt32()).ToHashSet();
        Assert.Contains(chosen, front);
        Assert.True(trials.Any(t => !t.Passed), "the harsh target makes the all-low candidate fail");
        Assert.True(report.GetProperty("sensitivity").GetArrayLength() > 0);

        bool Dominated(int i) => trials.Any(q => q.Cost <= trials[i].Cost && q.Metric >= trials[i].Metric && (q.Cost < trials[i].Cost || q.Metric > trials[i].Metric));
        Assert.Equal(Enumerable.Range(0, trials.Count).Where(i => !Dominated(i)).ToHashSet(), front);
        var c = trials[chosen];
        Assert.True(c.Passed && c.Metric >= report.GetProperty("threshold").GetDouble());
        Assert.Equal(trials.Where(t => t.Passed).Min(t => t.Cost), c.Cost);
    }

    public static TheoryData<string[], string> BadArguments() => new()
    {
        { ["--metric", "top1"], "--metric top1 needs --labels" },
        { ["--metric", "f1"], "--metric 'f1'" },
        { ["--dtype", "int4"], "--dtype 'int4'" },
        { ["--strategy", "random"], "--strategy 'random'" },
        { ["--max-drop", "0.1", "--max-drop-rel", "0.1"], "either --max-drop or --max-drop-rel" },
        { ["--max-drop", "-1"], "finite number >= 0" },
        { ["--max-trials", "0"], "--max-trials must be at least 1" },
        { ["--timeout", "0"], "--timeout must be a positive" },
    };

    [Theory]
    [MemberData(nameof(BadArguments))]
    public void BadArgumentsAreUserErrors(string[] extra, string message)
    {
        using var temp = new TempFolder();
        var dir = temp.Path;
        string[] args = ["tune", TuningTestKit.Onnx("digits_mlp", 17), "--data", Path.Combine(TuningTestKit.Dir("digits_mlp"), "eval_input.npy"), "-o", Path.Combine(dir, "o.onnx"), "--cache", dir, .. extra];
        var r = CliHarness.Run(args);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(message, r.Stderr);
        Assert.False(File.Exists(Path.Combine(dir, "o.onnx")));
    }

    [Fact]
    public void BadDataIsAUserErrorNamingTheFile()
    {
        using var temp = new TempFolder();
        var dir = temp.Path;
        var x = Path.Combine(TuningTestKit.Dir("digits_mlp"), "eval_input.npy");
        var shortLabels = TuningTestKit.Subset("digits_mlp", "eval_labels.npy", 10, dir);
        var r = CliHarness.Run("tune", TuningTestKit.Onnx("digits_mlp", 17), "--data", x, "--labels", shortLabels, "-o", Path.Combine(dir, "o.onnx"), "--cache", dir);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(shortLabels, r.Stderr);
        Assert.Contains("540 integer labels", r.Stderr);

        var nan = Path.Combine(dir, "nan.npy");
        using (var t = Alloy.Runtime.Tensor.FromFloats([2, 64], Enumerable.Repeat(float.NaN, 128).ToArray())) NpyFile.Write(nan, t);
        r = CliHarness.Run("tune", TuningTestKit.Onnx("digits_mlp", 17), "--data", nan, "-o", Path.Combine(dir, "o.onnx"), "--cache", dir);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("NaN", r.Stderr);

        var wrongShape = TuningTestKit.Subset("digits_cnn", "eval_input.npy", 8, dir); // (8,1,8,8) into an MLP taking (N,64)
        r = CliHarness.Run("tune", TuningTestKit.Onnx("digits_mlp", 17), "--data", wrongShape, "-o", Path.Combine(dir, "o.onnx"), "--cache", dir);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("digits_mlp", r.Stderr);
        Assert.Contains("shape", r.Stderr);

        r = CliHarness.Run("tune", Path.Combine(dir, "missing.onnx"), "--data", x, "-o", Path.Combine(dir, "o.onnx"), "--cache", dir);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("missing.onnx", r.Stderr);
        Assert.False(File.Exists(Path.Combine(dir, "o.onnx")));
    }
}
