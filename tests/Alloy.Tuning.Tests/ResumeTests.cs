using System.Diagnostics;
using System.Text.Json;
using Alloy.Cli;
using Alloy.Onnx;
using Xunit;
using Xunit.Abstractions;

namespace Alloy.Tuning.Tests;

/// <summary>
/// Interrupted runs resume from the evaluation history: no finished evaluation is repeated and the result is the
/// one an uninterrupted run gives. A second run with a warm cache needs no phase-1 measurement.
/// </summary>
public sealed class ResumeTests(ITestOutputHelper output)
{
    private static string[] HarshTransformerArgs(string data, string cache, string outDir) =>
    [
        "tune", TuningTestKit.Onnx("digits_transformer", 13), "--data", data, "--metric", "sqnr", "--dtype", "bf16", "--max-drop", "50",
        "--threads", "1", "--cache", cache, "-o", Path.Combine(outDir, "t.onnx"), "--report", outDir,
    ];

    private static Dictionary<string, double> Scores(string cache)
    {
        var file = Directory.EnumerateFiles(cache, "evaluations-*.json").Single();
        using var doc = JsonDocument.Parse(File.ReadAllText(file));
        return doc.RootElement.GetProperty("scores").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetDouble());
    }

    private static List<(string Key, bool Cached, double Metric)> Trials(string reportDir) =>
        TuningTestKit.ReadJson(Path.Combine(reportDir, "report.json")).GetProperty("trials").EnumerateArray()
            .Select(t => (t.GetProperty("key").GetString()!, t.GetProperty("cached").GetBoolean(), t.GetProperty("metric").GetDouble())).ToList();

    /// <summary>A real <c>alloy tune</c> child process is killed with SIGKILL mid-way; the rerun repeats none of its evaluations and ends where an uninterrupted run ends.</summary>
    [Fact]
    public void KilledRunResumesWithoutRepeatingEvaluations()
    {
        using var temp = new TempFolder();
        var dir = temp.Path;
        var data = TuningTestKit.Subset("digits_transformer", "eval_input.npy", 64, dir);
        var cache = Path.Combine(dir, "cache");
        var first = Path.Combine(dir, "first");
        var alloy = typeof(Commands).Assembly.Location;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(alloy);
        foreach (var arg in HarshTransformerArgs(data, cache, first)) start.ArgumentList.Add(arg);
        using var child = Process.Start(start)!;
        child.OutputDataReceived += (_, _) => { };
        child.ErrorDataReceived += (_, _) => { };
        child.BeginOutputReadLine();
        child.BeginErrorReadLine();
        var clock = Stopwatch.StartNew();
        Dictionary<string, double> before = [];
        while (clock.Elapsed < TimeSpan.FromMinutes(3) && !child.HasExited)
        {
            if (Directory.Exists(cache) && Directory.EnumerateFiles(cache, "evaluations-*.json").Any() && (before = Scores(cache)).Count >= 6) break;
            Thread.Sleep(20);
        }
        Assert.False(child.HasExited, "the run finished before it could be interrupted");
        child.Kill(); // SIGKILL on Unix
        child.WaitForExit();
        before = Scores(cache);
        output.WriteLine($"killed after {before.Count} evaluations");
        Assert.InRange(before.Count, 6, 23);
        Assert.False(File.Exists(Path.Combine(first, "report.json")));

        var resumedDir = Path.Combine(dir, "resumed");
        var resumed = CliHarness.Run(HarshTransformerArgs(data, cache, resumedDir));
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        var trials = Trials(resumedDir);
        foreach (var (key, cached, metric) in trials)
        {
            if (before.TryGetValue(key, out var old))
            {
                Assert.True(cached, $"{key} was evaluated before the kill and evaluated again");
                Assert.Equal(old, metric);
            }
            else
            {
                Assert.False(cached, $"{key} claims to come from the history");
            }
        }
        Assert.Equal(before.Keys.Order(), trials.Where(t => t.Cached).Select(t => t.Key).Order());

        var freshDir = Path.Combine(dir, "fresh");
        var fresh = CliHarness.Run(HarshTransformerArgs(data, Path.Combine(dir, "cache2"), freshDir));
        Assert.True(fresh.ExitCode == 0, fresh.Stderr);
        Assert.Equal(Trials(freshDir).Select(t => (t.Key, t.Metric)), trials.Select(t => (t.Key, t.Metric)));
        var a = TuningTestKit.ReadJson(Path.Combine(resumedDir, "report.json")).GetProperty("chosen");
        var b = TuningTestKit.ReadJson(Path.Combine(freshDir, "report.json")).GetProperty("chosen");
        Assert.Equal(b.GetProperty("key").GetString(), a.GetProperty("key").GetString());
        Assert.Equal(File.ReadAllBytes(Path.Combine(freshDir, "t.onnx")), File.ReadAllBytes(Path.Combine(resumedDir, "t.onnx")));
    }

    /// <summary>The library run cancelled after a few evaluations; the rerun evaluates only what was not finished and gives the uninterrupted result.</summary>
    [Fact]
    public void CancelledRunResumesWithTheSameResult()
    {
        using var temp = new TempFolder();
        var dir = temp.Path;
        using var model = OnnxImporter.Load(TuningTestKit.Onnx("digits_cnn", 13));
        using var eval = new TuningTestKit.SqnrAgainstTorch("digits_cnn", model, 64);
        var config = new TuningConfig { ConfigSet = [TuningTestKit.AlloyBf16], TolerableLoss = TolerableLoss.Absolute(50), CacheDirectory = Path.Combine(dir, "c1"), EvaluationId = "sqnr-torch-64" };

        using var cts = new CancellationTokenSource();
        eval.AfterEach = () => { if (eval.Evaluated.Count == 4) cts.Cancel(); };
        Assert.ThrowsAny<OperationCanceledException>(() => Autotuner.Autotune(model, config, eval.Evaluate, cts.Token));
        var firstRun = eval.Evaluated.ToList();
        Assert.Equal(4, firstRun.Count);

        eval.Evaluated.Clear();
        eval.AfterEach = null;
        using var resumed = Autotuner.Autotune(model, config, eval.Evaluate);
        Assert.Empty(eval.Evaluated.Intersect(firstRun));
        Assert.Equal(resumed.Evaluations, eval.Evaluated.Count);
        Assert.Equal(4, resumed.ReusedTrials);

        using var fresh = Autotuner.Autotune(model, config with { CacheDirectory = Path.Combine(dir, "c2") }, eval.Evaluate);
        Assert.Equal(fresh.Chosen.Spec, resumed.Chosen.Spec);
        Assert.Equal(fresh.Chosen.Metric, resumed.Chosen.Metric);
        Assert.Equal(fresh.Trials.Select(t => t.Spec.Key), resumed.Trials.Select(t => t.Spec.Key));
        Assert.Equal(0, fresh.ReusedTrials);
        Assert.True(fresh.Trials.Count > 5, "the harsh target needs fallbacks");
    }

    /// <summary>A second Pareto run on the same model, candidates and data takes every sensitivity from the cache; a clean start measures them again.</summary>
    [Fact]
    public void WarmCacheFinishesPhaseOneWithoutEvaluations()
    {
        using var temp = new TempFolder();
        var dir = temp.Path;
        using var model = OnnxImporter.Load(TuningTestKit.Onnx("digits_cnn", 13));
        using var eval = new TuningTestKit.SqnrAgainstTorch("digits_cnn", model, 64);
        var config = new TuningConfig
        {
            Strategy = TuningStrategy.Pareto,
            TolerableLoss = TolerableLoss.Absolute(50),
            SensitivityInputs = eval.Inputs,
            CacheDirectory = dir,
            EvaluationId = "sqnr-torch-64",
        };
        using var cold = Autotuner.Autotune(model, config, eval.Evaluate);
        Assert.True(cold.Phase1Evaluations > 0);
        Assert.Equal(cold.Graphs[0].Groups.Count, cold.Sensitivities.Count);
        Assert.All(cold.Sensitivities, s => Assert.False(s.Reused));

        eval.Evaluated.Clear();
        using var warm = Autotuner.Autotune(model, config, eval.Evaluate);
        Assert.Equal(0, warm.Phase1Evaluations);
        Assert.All(warm.Sensitivities, s => Assert.True(s.Reused));
        Assert.Equal(cold.Sensitivities.Select(s => s.Value), warm.Sensitivities.Select(s => s.Value));
        Assert.Equal(0, warm.Evaluations);
        Assert.Empty(eval.Evaluated);
        Assert.Equal(cold.Chosen.Spec, warm.Chosen.Spec);

        using var clean = Autotuner.Autotune(model, config with { CleanStart = true }, eval.Evaluate);
        Assert.Equal(cold.Phase1Evaluations, clean.Phase1Evaluations);
        Assert.Equal(cold.Evaluations, clean.Evaluations);

        // Other data is another cache entry.
        using var other = Autotuner.Autotune(model, config with { SensitivityInputs = new Dictionary<string, Alloy.Runtime.Tensor> { [eval.Inputs.Keys.Single()] = TuningTestKit.Rows("digits_cnn", "eval_input.npy", 32) } }, eval.Evaluate);
        Assert.True(other.Phase1Evaluations > 0);
    }

    /// <summary>A damaged history file is reported by name, not silently discarded; a clean start replaces it.</summary>
    [Fact]
    public void DamagedHistoryIsAnErrorNamingTheFile()
    {
        using var temp = new TempFolder();
        var dir = temp.Path;
        using var model = OnnxImporter.Load(TuningTestKit.Onnx("digits_mlp", 17));
        var config = new TuningConfig { CacheDirectory = dir };
        using (Autotuner.Autotune(model, config, _ => 1.0)) { }
        var file = Directory.EnumerateFiles(dir, "evaluations-*.json").Single();
        File.WriteAllText(file, "{\"scores\": {\"fp32\": 1.0,");
        var e = Assert.Throws<TuningException>(() => Autotuner.Autotune(model, config, _ => 1.0));
        Assert.Contains(file, e.Message);
        using var clean = Autotuner.Autotune(model, config with { CleanStart = true }, _ => 1.0);
        Assert.Equal(2, clean.Evaluations);
        Assert.Equal(2, Scores(dir).Count);
    }
}
