using System.Text.RegularExpressions;
using Alloy.Calibration;
using Alloy.IR;
using Alloy.Onnx;
using Alloy.Passes;
using Alloy.Runtime.IO;
using Xunit;
using Xunit.Abstractions;

namespace Alloy.Tuning.Tests;

/// <summary>
/// INT8 tuning end to end: calibration once per run, candidates built by the pipeline of <c>alloy compile --int8</c>,
/// INT8 / BF16 / FP32 per layer group with <c>--dtype mixed</c>, fallback of the groups that miss a harsh target,
/// resume and warm cache with INT8 in the mix, bad calibration data rejected before anything is evaluated.
/// </summary>
public sealed class Int8TuningTests(ITestOutputHelper output)
{
    private static readonly string[] ComputeOps = ["Conv", "Gemm", "MatMul"];

    public static TheoryData<string, string> TrainedByDtype()
    {
        var data = new TheoryData<string, string>();
        foreach (var name in TuningTestKit.TrainedNames)
        {
            data.Add(name, "int8");
            data.Add(name, "mixed");
        }
        return data;
    }

    private static string Corpus(string name, string file) => Path.Combine(TuningTestKit.Dir(name), file);

    /// <summary>Compute nodes of a saved model by name: true when the node runs INT8 (its first operand comes from a DequantizeLinear).</summary>
    private static Dictionary<string, bool> ComputeNodesInt8(string onnxPath)
    {
        using var m = OnnxImporter.Load(onnxPath);
        return m.Graph.Nodes.Where(n => ComputeOps.Contains(n.OpType))
            .ToDictionary(NodeNames.Of, n => n.Inputs[0]?.Producer?.OpType == "DequantizeLinear", StringComparer.Ordinal);
    }

    /// <summary>The all-BF16 model's bit-ops relative to FP32's, computed here with the mixed-precision pipeline.</summary>
    private static double AllBf16RelativeBitOps(string onnxPath)
    {
        using var fp32 = OnnxImporter.Load(onnxPath);
        StandardPasses.CreateRegistry().Build("infer-shapes").Run(fp32);
        using var bf16 = OnnxImporter.Load(onnxPath);
        StandardPasses.CreateRegistry().Build(StandardPasses.Bf16Pipeline.Replace("insert-casts", "insert-casts(keep-io-types=true)")).Run(bf16);
        return BitOpsCostModel.BitOps(bf16) / BitOpsCostModel.BitOps(fp32);
    }

    /// <summary>
    /// Top-1 with --max-drop 0.005 and the corpus calibration data: the written model, run here on the whole
    /// evaluation set and scored by an independent argmax, meets the target; where INT8 holds and every compute op
    /// has an INT8 form, it is cheaper than all-BF16; with --dtype mixed the choice is never dearer than all-BF16.
    /// </summary>
    [Theory]
    [MemberData(nameof(TrainedByDtype))]
    public void TunedInt8ModelMeetsTheMaxDropOnTheEvaluationSet(string name, string dtype)
    {
        using var temp = new TempFolder();
        var dir = temp.Path;
        var onnx = TuningTestKit.Onnx(name, 17);
        var x = Corpus(name, "eval_input.npy");
        var y = Corpus(name, "eval_labels.npy");
        var outPath = Path.Combine(dir, "tuned.onnx");
        var r = CliHarness.Run("tune", onnx, "--data", x, "--labels", y, "--dtype", dtype, "--calib", Corpus(name, "calib_input.npy"),
            "--max-drop", "0.005", "--cache", Path.Combine(dir, "cache"), "-o", outPath, "--report", dir);
        output.WriteLine(r.Stdout + r.Stderr);
        Assert.True(r.ExitCode == 0, r.Stderr);

        using var input = NpyFile.Read(x);
        using var labels = NpyFile.Read(y);
        using var logits = TuningTestKit.RunSaved(outPath, input);
        double accuracy = TuningTestKit.Top1(logits, labels), fp32 = TuningTestKit.Fp32Accuracy(name);
        Assert.True(accuracy >= fp32 - 0.005 - 1e-12, $"tuned top-1 {accuracy} misses fp32 {fp32} - 0.005");

        var report = TuningTestKit.ReadJson(Path.Combine(dir, "report.json"));
        var chosen = report.GetProperty("chosen");
        double cost = chosen.GetProperty("relative_bit_ops").GetDouble();
        string low = chosen.GetProperty("low_type").GetString()!;
        double allBf16 = AllBf16RelativeBitOps(onnx);
        var nodes = ComputeNodesInt8(outPath);
        output.WriteLine($"{name} {dtype}: top-1 {accuracy:F4} (fp32 {fp32:F4}), chosen {low} at {cost:F4} (all-bf16 {allBf16:F4}), " +
                         $"evaluations {report.GetProperty("evaluations").GetInt32()}, int8 compute nodes {nodes.Count(p => p.Value)}/{nodes.Count}");
        Assert.Matches(new Regex(@"evaluations: \d+"), r.Stdout);

        bool allInt8Able = name != "digits_gru"; // the GRU has no INT8 form
        if (low.StartsWith("int8", StringComparison.Ordinal))
        {
            Assert.Contains(nodes.Values, v => v);
            Assert.All(nodes.Where(p => !chosen.GetProperty("fp32_nodes").EnumerateArray().Any(e => e.GetString() == p.Key)), p => Assert.True(p.Value, $"{p.Key} should run INT8"));
            if (allInt8Able) Assert.True(cost < allBf16, $"INT8 holds but costs {cost} against all-BF16's {allBf16}");
        }
        if (dtype == "mixed") Assert.True(cost <= allBf16 + 1e-5, $"mixed chose {cost}, all-BF16 costs {allBf16}");
        if (dtype == "int8" && allInt8Able) Assert.Equal("int8", low);
    }

    /// <summary>The all-INT8 candidate is exactly what <c>alloy compile --int8 --calib</c> produces: same nodes, bit-identical outputs.</summary>
    [Fact]
    public void AllInt8CandidateEqualsTheCompiledInt8Model()
    {
        using var temp = new TempFolder();
        var dir = temp.Path;
        const string name = "digits_cnn";
        var onnx = TuningTestKit.Onnx(name, 17);
        var calib = Corpus(name, "calib_input.npy");
        var data = TuningTestKit.Subset(name, "eval_input.npy", 64, dir);
        var tuned = Path.Combine(dir, "tuned.onnx");
        var compiled = Path.Combine(dir, "compiled.onnx");
        var r = CliHarness.Run("tune", onnx, "--data", data, "--metric", "sqnr", "--dtype", "int8", "--calib", calib, "--max-drop", "100",
            "--cache", Path.Combine(dir, "cache"), "--calib-cache", Path.Combine(dir, "calib"), "-o", tuned);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("all int8", r.Stdout);
        r = CliHarness.Run("compile", onnx, "--int8", "--calib", calib, "--calib-cache", Path.Combine(dir, "calib"), "-o", compiled);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("cache hit", r.Stdout); // the tuner calibrated the same model file with the same data and method

        using (var a = OnnxImporter.Load(tuned))
        using (var b = OnnxImporter.Load(compiled))
            Assert.Equal(b.Graph.Nodes.Select(n => n.OpType), a.Graph.Nodes.Select(n => n.OpType));
        using var x = NpyFile.Read(data);
        using var ya = TuningTestKit.RunSaved(tuned, x);
        using var yb = TuningTestKit.RunSaved(compiled, x);
        Assert.Equal(yb.Span<float>().ToArray(), ya.Span<float>().ToArray());
    }

    /// <summary>
    /// A harsh fidelity target (SQNR ≥ 40 dB against FP32 on 64 rows; all-INT8 reaches about 39.5 dB on digits_cnn)
    /// forces some groups back to FP32: the written model has exactly the chosen FP32 nodes' convolutions in FP32
    /// (plain float weights) and every other compute node INT8.
    /// </summary>
    [Fact]
    public void HarshTargetFallsBackGroupsToFp32AndKeepsTheRestInt8()
    {
        using var temp = new TempFolder();
        var dir = temp.Path;
        const string name = "digits_cnn";
        var data = TuningTestKit.Subset(name, "eval_input.npy", 64, dir);
        var outPath = Path.Combine(dir, "tuned.onnx");
        var r = CliHarness.Run("tune", TuningTestKit.Onnx(name, 17), "--data", data, "--metric", "sqnr", "--dtype", "int8", "--calib", Corpus(name, "calib_input.npy"),
            "--max-drop", "60", "--cache", Path.Combine(dir, "cache"), "-o", outPath, "--report", dir);
        output.WriteLine(r.Stdout + r.Stderr);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var report = TuningTestKit.ReadJson(Path.Combine(dir, "report.json"));
        var trials = report.GetProperty("trials").EnumerateArray().ToList();
        Assert.False(trials[1].GetProperty("passed").GetBoolean(), "all INT8 should miss 40 dB");
        var chosen = report.GetProperty("chosen");
        Assert.True(chosen.GetProperty("passed").GetBoolean());
        Assert.Equal("int8", chosen.GetProperty("low_type").GetString());
        var fp32Nodes = chosen.GetProperty("fp32_nodes").EnumerateArray().Select(e => e.GetString()!).ToHashSet();
        var nodes = ComputeNodesInt8(outPath);
        var fp32Compute = nodes.Keys.Where(fp32Nodes.Contains).ToList();
        Assert.NotEmpty(fp32Compute);
        Assert.True(nodes.Count > fp32Compute.Count, "some compute nodes stay INT8");
        foreach (var (node, int8) in nodes) Assert.True(int8 == !fp32Nodes.Contains(node), $"{node}: int8 {int8}, chosen fp32 {fp32Nodes.Contains(node)}");

        // The FP32 convolutions keep their float weights; the SQNR of the written model meets the target when re-run here.
        using (var m = OnnxImporter.Load(outPath))
            foreach (var n in m.Graph.Nodes.Where(n => fp32Compute.Contains(NodeNames.Of(n))))
                Assert.Equal(DataType.Float, n.Inputs[1]!.Constant!.ElementType);
        using var x = NpyFile.Read(data);
        using var reference = TuningTestKit.Rows(name, "ref_logits.npy", 64);
        using var y = TuningTestKit.RunSaved(outPath, x);
        Assert.True(FidelityMetrics.Sqnr([reference], [y]) >= 40 - 1, "the written model's SQNR against torch's logits"); // the target is against Alloy's FP32 run
    }

    /// <summary>
    /// With INT8 in the mix (int8 and int8+bf16 families), a run cancelled after some evaluations resumes without
    /// repeating any, reaches the uninterrupted result, and a third run with the warm cache evaluates nothing.
    /// </summary>
    [Fact]
    public void ResumeAndWarmCacheRepeatNoInt8Evaluation()
    {
        using var temp = new TempFolder();
        var dir = temp.Path;
        const string name = "digits_cnn";
        using var model = OnnxImporter.Load(TuningTestKit.Onnx(name, 17));
        TuningConfig Config(string cache) => new()
        {
            ConfigSet = [new MixedPrecisionConfig(["bf16", "fp32"]),
                new QuantizationConfig(Corpus(name, "calib_input.npy")) with { RestType = "bf16" }],
            TolerableLoss = TolerableLoss.Absolute(60),
            CacheDirectory = cache,
            EvaluationId = "sqnr-torch-64",
            Workers = 1,
        };

        using var reference = new TuningTestKit.SqnrAgainstTorch(name, model, 64);
        using var uninterrupted = Autotuner.Autotune(model, Config(Path.Combine(dir, "a")), reference.Evaluate);
        Assert.Contains(uninterrupted.Trials, t => t.Spec.LowType == "int8+bf16");
        Assert.True(uninterrupted.Evaluations >= 4, $"{uninterrupted.Evaluations} evaluations");

        var cache = Path.Combine(dir, "b");
        using var first = new TuningTestKit.SqnrAgainstTorch(name, model, 64);
        using var cts = new CancellationTokenSource();
        int stopAfter = uninterrupted.Evaluations - 2;
        first.AfterEach = () => { if (first.Evaluated.Count >= stopAfter) cts.Cancel(); };
        Assert.ThrowsAny<OperationCanceledException>(() => Autotuner.Autotune(model, Config(cache), first.Evaluate, cts.Token));
        Assert.Equal(stopAfter, first.Evaluated.Count);

        using var second = new TuningTestKit.SqnrAgainstTorch(name, model, 64);
        using var resumed = Autotuner.Autotune(model, Config(cache), second.Evaluate);
        Assert.Empty(first.Evaluated.Intersect(second.Evaluated));
        Assert.Equal(uninterrupted.Evaluations, first.Evaluated.Count + second.Evaluated.Count);
        Assert.Equal(uninterrupted.Chosen.Spec, resumed.Chosen.Spec);
        Assert.Equal(uninterrupted.Chosen.Metric, resumed.Chosen.Metric);

        using var third = new TuningTestKit.SqnrAgainstTorch(name, model, 64);
        using var warm = Autotuner.Autotune(model, Config(cache), third.Evaluate);
        Assert.Empty(third.Evaluated);
        Assert.Equal(0, warm.Evaluations);
        Assert.Equal(uninterrupted.Chosen.Spec, warm.Chosen.Spec);
        output.WriteLine($"chosen {uninterrupted.Chosen.Label} at {uninterrupted.Chosen.RelativeBitOps:F4}, {uninterrupted.Evaluations} evaluations; resumed {second.Evaluated.Count} after {first.Evaluated.Count}");
    }

    /// <summary>Calibration data with NaN, or of the wrong shape, is a user error naming the file before any evaluation: no history, no output.</summary>
    [Fact]
    public void BadCalibrationDataFailsBeforeAnyEvaluation()
    {
        using var temp = new TempFolder();
        var dir = temp.Path;
        const string name = "digits_mlp";
        var data = TuningTestKit.Subset(name, "eval_input.npy", 16, dir);
        using var rows = TuningTestKit.Rows(name, "calib_input.npy", 8);
        rows.Span<float>()[70] = float.NaN;
        var nan = Path.Combine(dir, "nan_calib.npy");
        NpyFile.Write(nan, rows);
        var wrongShape = TuningTestKit.Subset("digits_cnn", "calib_input.npy", 8, dir); // (8,1,8,8) into an MLP taking (N,64)
        foreach (var (calib, reason) in new[] { (nan, "NaN"), (wrongShape, "rank"), (Path.Combine(dir, "missing.npy"), "not found") })
        {
            var cache = Path.Combine(dir, "cache-" + Path.GetFileNameWithoutExtension(calib));
            var outPath = Path.Combine(dir, "o.onnx");
            var r = CliHarness.Run("tune", TuningTestKit.Onnx(name, 17), "--data", data, "--dtype", "mixed", "--calib", calib, "--cache", cache, "-o", outPath);
            output.WriteLine(r.Stderr);
            Assert.Equal(1, r.ExitCode);
            Assert.Contains(Path.GetFileName(calib), r.Stderr);
            Assert.Contains(reason, r.Stderr, StringComparison.OrdinalIgnoreCase);
            Assert.False(File.Exists(outPath));
            Assert.True(!Directory.Exists(cache) || !Directory.EnumerateFiles(cache, "evaluations-*.json").Any(), "nothing was evaluated");
        }

        var noCalib = CliHarness.Run("tune", TuningTestKit.Onnx(name, 17), "--data", data, "--dtype", "int8", "--cache", dir, "-o", Path.Combine(dir, "o.onnx"));
        Assert.Equal(1, noCalib.ExitCode);
        Assert.Contains("--calib", noCalib.Stderr);

        var calibWithBf16 = CliHarness.Run("tune", TuningTestKit.Onnx(name, 17), "--data", data, "--dtype", "bf16", "--calib", Corpus(name, "calib_input.npy"),
            "--cache", dir, "-o", Path.Combine(dir, "o.onnx"));
        Assert.Equal(1, calibWithBf16.ExitCode);
        Assert.Contains("--calib needs --dtype int8 or mixed", calibWithBf16.Stderr);
    }

    /// <summary>The library rejects an INT8 family without calibration data or ranges before evaluating anything.</summary>
    [Fact]
    public void QuantizationConfigWithoutDataIsRejectedBeforeEvaluating()
    {
        using var model = OnnxImporter.Load(TuningTestKit.Onnx("digits_mlp", 17));
        int calls = 0;
        var e = Assert.Throws<TuningException>(() => Autotuner.Autotune(model, new TuningConfig { ConfigSet = [new QuantizationConfig()] }, _ => ++calls));
        Assert.Contains("calibration data", e.Message);
        Assert.Equal(0, calls);
        Assert.Equal(CalibrationMethod.MinMax, new QuantizationConfig().Calibration.Method);
    }

    /// <summary>Bit-ops count an INT8 node 8 × 8: the all-INT8 digits_mlp (three Gemms, both Relus folded into INT8 ranges) costs exactly 1/16 of FP32.</summary>
    [Fact]
    public void Int8CountsEightByEightBits()
    {
        using var temp = new TempFolder();
        var onnx = TuningTestKit.Onnx("digits_mlp", 17);
        using var model = OnnxImporter.Load(onnx);
        var calibration = Calibrator.Run(onnx, Corpus("digits_mlp", "calib_input.npy"), new CalibrationOptions { CacheDirectory = temp.Path });
        StandardPasses.CreateRegistry().Build($"infer-shapes,partition-int8(ranges={calibration.CachePath})").Run(model);
        Assert.Equal(3, model.Graph.Nodes.Count(n => n.OpType == "Gemm" && n.Inputs[0]?.Producer?.OpType == "DequantizeLinear"));
        double gemmMacs = 64 * 128 + 128 * 64 + 64 * 10, reluOps = 128 + 64;
        Assert.Equal((gemmMacs + reluOps) * 8 * 8, BitOpsCostModel.BitOps(model));
    }
}
