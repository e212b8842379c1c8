using System.CommandLine;
using System.Globalization;
using System.Text;
using Alloy.Calibration;
using Alloy.IR;
using Alloy.Onnx;
using Alloy.Passes;
using Alloy.Runtime;
using Alloy.Tuning;

namespace Alloy.Cli;

/// <summary><c>alloy tune</c>: accuracy-driven mixed precision with a built-in metric, a resumable cache and a report.</summary>
public static class TuneCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = new Argument<string>("MODEL") { Description = "Model file (.onnx)" };
        var data = new Option<string>("--data") { Description = "Evaluation inputs (.npy or .pb), rows along dimension 0", Required = true };
        var labels = new Option<string?>("--labels") { Description = "Integer class labels, one per row of --data (for --metric top1)" };
        var metric = new Option<string?>("--metric") { Description = "top1 (needs --labels), or fidelity to the FP32 model: sqnr, cosine, max-abs (default: top1 with labels, else sqnr)" };
        var dtype = new Option<string>("--dtype") { Description = "bf16, fp16, int8 (with --calib), or mixed (bf16 and fp16; with --calib also INT8 per layer group, else BF16, else FP32)", DefaultValueFactory = _ => "bf16" };
        var maxDrop = new Option<double?>("--max-drop") { Description = "Largest allowed absolute loss of the metric against FP32 (default 0.01)" };
        var maxDropRel = new Option<double?>("--max-drop-rel") { Description = "Largest allowed loss as a fraction of the FP32 metric" };
        var maxTrials = new Option<int>("--max-trials") { Description = "Most trials after the FP32 baseline", DefaultValueFactory = _ => 100 };
        var timeout = new Option<double?>("--timeout") { Description = "Stop searching after this many seconds" };
        var strategy = new Option<string>("--strategy") { Description = "fallback (op types, then groups, then cumulative) or pareto (sensitivity + Pareto front)", DefaultValueFactory = _ => "fallback" };
        var cache = new Option<string?>("--cache") { Description = "Folder of the evaluation history and sensitivity cache (default: $XDG_CACHE_HOME/alloy/tune or ~/.cache/alloy/tune)" };
        var cleanStart = new Option<bool>("--clean-start") { Description = "Ignore what the cache holds for this model" };
        var sensitivityRows = new Option<int>("--sensitivity-rows") { Description = "Rows of --data used for the phase-1 SQNR sensitivity (pareto)", DefaultValueFactory = _ => 128 };
        var calib = new Option<string?>("--calib") { Description = "Calibration inputs (.npy, samples along dimension 0) for --dtype int8 / mixed" };
        var calibMethod = new Option<string>("--calib-method") { Description = "Calibration range method: minmax, percentile, entropy or mse", DefaultValueFactory = _ => "minmax" };
        var calibPercentile = new Option<double>("--calib-percentile") { Description = "Percentile of the percentile method", DefaultValueFactory = _ => 99.99 };
        var calibCache = new Option<string?>("--calib-cache") { Description = "Folder of the calibration statistics cache (default: the --cache folder's calibration/)" };
        var threads = new Option<int>("--threads") { Description = "Parallel workers for evaluations (default: all cores)", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--output", "-o") { Description = "Output ONNX file: the chosen model", Required = true };
        var report = new Option<string?>("--report") { Description = "Folder for report.json and report.html" };
        var cmd = new Command("tune", "Find the cheapest mixed-precision model that stays within an allowed metric loss of the FP32 model")
        {
            model, data, labels, metric, dtype, maxDrop, maxDropRel, maxTrials, timeout, strategy, cache, cleanStart, sensitivityRows, calib, calibMethod, calibPercentile, calibCache, threads, output, report,
        };
        var inputTypes = ModelLoader.InputTypesOption();
        cmd.Options.Add(inputTypes);
        var nonstandard = new Option<bool>("--allow-nonstandard-types")
        {
            Description = "Let ops run BF16/FP16 where the model's ONNX opset does not admit the type (the tuned model then runs on Alloy's runtime only)",
        };
        cmd.Options.Add(nonstandard);
        cmd.SetAction(r => CliRunner.Run(stderr, () =>
        {
            var path = r.GetValue(model)!;
            var metricName = r.GetValue(metric) ?? (r.GetValue(labels) is null ? "sqnr" : "top1");
            if (metricName is not ("top1" or "sqnr" or "cosine" or "max-abs")) throw new UserError($"--metric '{metricName}': use top1, sqnr, cosine or max-abs");
            if (metricName == "top1" && r.GetValue(labels) is null) throw new UserError("--metric top1 needs --labels LABELS.npy");
            if (r.GetValue(maxDrop) is not null && r.GetValue(maxDropRel) is not null) throw new UserError("give either --max-drop or --max-drop-rel, not both");
            var loss = (r.GetValue(maxDrop), r.GetValue(maxDropRel)) switch
            {
                ({ } a, _) when double.IsFinite(a) && a >= 0 => TolerableLoss.Absolute(a),
                (null, { } f) when double.IsFinite(f) && f >= 0 => TolerableLoss.RelativeTo(f),
                (null, null) => TolerableLoss.Absolute(0.01),
                _ => throw new UserError("--max-drop / --max-drop-rel must be a finite number >= 0"),
            };
            if (r.GetValue(maxTrials) < 1) throw new UserError("--max-trials must be at least 1");
            if (r.GetValue(timeout) is { } s && !(s > 0)) throw new UserError("--timeout must be a positive number of seconds");
            if (r.GetValue(sensitivityRows) < 1) throw new UserError("--sensitivity-rows must be at least 1");
            if (r.GetValue(threads) < 0) throw new UserError("--threads must be at least 0");
            var strat = r.GetValue(strategy) switch
            {
                "fallback" => TuningStrategy.Fallback,
                "pareto" => TuningStrategy.Pareto,
                var other => throw new UserError($"--strategy '{other}': use fallback or pareto"),
            };
            bool int8Available = StandardPasses.CreateRegistry().Passes.Any(p => p.Id == QuantizationConfig.PartitionPass);
            string? calibData = r.GetValue(calib) is { } c ? Path.GetFullPath(c) : null;
            CalibrationMethod method;
            try
            {
                method = CalibrationMethods.Parse(r.GetValue(calibMethod)!);
            }
            catch (CalibrationException e)
            {
                throw new UserError($"--calib-method: {e.Message}");
            }
            var quantization = new QuantizationConfig
            {
                CalibrationData = calibData,
                Calibration = new CalibrationOptions
                {
                    Method = method,
                    Percentile = r.GetValue(calibPercentile),
                    CacheDirectory = r.GetValue(calibCache) is { } cc ? Path.GetFullPath(cc) : null,
                },
            };
            foreach (var o in new Option[] { calib, calibMethod, calibPercentile, calibCache })
                if (r.GetResult(o) is { Implicit: false } && r.GetValue(dtype) is not ("int8" or "mixed"))
                    throw new UserError($"{o.Name} needs --dtype int8 or mixed");
            if (r.GetValue(dtype) == "int8" && calibData is null) throw new UserError("--dtype int8 needs calibration data: --calib FILE.npy");
            MixedPrecisionConfig Low(string type) => new([type, "fp32"]) { AllowNonstandardTypes = r.GetValue(nonstandard) };
            List<PrecisionConfig> configSet = r.GetValue(dtype) switch
            {
                "bf16" => [Low("bf16")],
                "fp16" => [Low("fp16")],
                "int8" => int8Available ? [quantization] : throw new UserError("--dtype int8: INT8 is not available in this build"),
                // INT8 where it holds, else BF16, else FP32: the INT8 family runs after BF16's and keeps its FP32 choice.
                "mixed" => int8Available && calibData is not null
                    ? [Low("bf16"), Low("fp16"), quantization with { RestType = "bf16" }]
                    : [Low("bf16"), Low("fp16")],
                var d => throw new UserError($"--dtype '{d}': use bf16, fp16, int8 or mixed"),
            };

            using var m = ModelLoader.Load(path, r.GetValue(inputTypes));
            Verifier.Check(m);
            var inputNames = m.Graph.Inputs.Where(v => v.Constant is null).Select(v => v.Name).ToList();
            if (inputNames.Count != 1)
                throw new UserError($"{path}: --data feeds one input, the model has {inputNames.Count} ({string.Join(", ", inputNames)})");
            using var x = TensorFiles.Read(r.GetValue(data)!);
            if (x.Rank == 0 || x.Shape[0] == 0) throw new UserError($"{r.GetValue(data)}: the data needs at least one row (shape {x.ShapeText})");
            using var y = r.GetValue(labels) is { } lp && metricName == "top1" ? TensorFiles.Read(lp) : null;
            if (y is not null && (y.Length != x.Shape[0] || !IsInteger(y.Type)))
                throw new UserError($"{r.GetValue(labels)}: expected {x.Shape[0]} integer labels (one per row of --data), found {y.Type.Name()}{y.ShapeText}");
            if (ContainsNaN(x)) throw new UserError($"{r.GetValue(data)}: the data contains NaN or infinity");
            var inputs = new Dictionary<string, Tensor>(StringComparer.Ordinal) { [inputNames[0]] = x };

            int workers = r.GetValue(threads);
            var evaluate = Evaluation(m, metricName, inputs, y, workers);
            var fingerprintData = new Dictionary<string, Tensor>(inputs, StringComparer.Ordinal);
            if (y is not null) fingerprintData["\u0000labels"] = y;
            Tensor? sensitivity = null;
            try
            {
                long rows = Math.Min(x.Shape[0], r.GetValue(sensitivityRows));
                sensitivity = TensorRows.Slice(x, 0, rows);
                var config = new TuningConfig
                {
                    ConfigSet = configSet,
                    MaxTrials = r.GetValue(maxTrials),
                    Timeout = r.GetValue(timeout) is { } t ? TimeSpan.FromSeconds(t) : null,
                    TolerableLoss = loss,
                    HigherIsBetter = metricName != "max-abs",
                    Strategy = strat,
                    SensitivityMetric = SensitivityMetric.Sqnr,
                    SensitivityInputs = new Dictionary<string, Tensor>(StringComparer.Ordinal) { [inputNames[0]] = sensitivity },
                    CacheDirectory = Path.GetFullPath(r.GetValue(cache) ?? DefaultCache()),
                    CleanStart = r.GetValue(cleanStart),
                    EvaluationId = $"{metricName}:{DataFingerprint.Of(fingerprintData)}",
                    Workers = workers,
                };
                TuningResult result;
                try
                {
                    result = TuneProgress.Run(stderr, config.MaxTrials, progress => Autotuner.Autotune(m, config with { Progress = progress }, evaluate));
                }
                catch (TuningException e)
                {
                    throw new UserError(e.Message);
                }
                using (result)
                {
                    OnnxExporter.Save(result.ChosenModel, r.GetValue(output)!);
                    if (r.GetValue(report) is { } dir)
                    {
                        Directory.CreateDirectory(dir);
                        AtomicFile.WriteAllText(Path.Combine(dir, "report.json"), TuningReportJson.Write(result, metricName));
                        AtomicFile.WriteAllText(Path.Combine(dir, "report.html"), TuningReportHtml.Write(result, metricName));
                    }
                    stdout.Write(Summary(result, metricName));
                    stdout.WriteLine($"wrote {r.GetValue(output)}");
                    if (r.GetValue(report) is { } d) stdout.WriteLine($"wrote {Path.Combine(d, "report.json")} and {Path.Combine(d, "report.html")}");
                }
            }
            finally
            {
                sensitivity?.Dispose();
            }
        }));
        return cmd;
    }

    /// <summary>The built-in metric as an evaluation function; fidelity metrics compare with the FP32 model's outputs on the same data, computed once.</summary>
    private static EvaluationFunction Evaluation(Model source, string metricName, Dictionary<string, Tensor> inputs, Tensor? labels, int workers)
    {
        if (metricName == "top1")
            return c =>
            {
                var outs = c.Run(inputs);
                try { return FidelityMetrics.Top1(outs[0], labels!); }
                finally { foreach (var o in outs) o.Dispose(); }
            };
        Tensor[]? reference = null;
        return c =>
        {
            reference ??= Reference(source, inputs, workers);
            var outs = c.Run(inputs);
            try
            {
                return metricName switch
                {
                    "sqnr" => FidelityMetrics.Sqnr(reference, outs),
                    "cosine" => FidelityMetrics.Cosine(reference, outs),
                    _ => FidelityMetrics.MaxAbs(reference, outs),
                };
            }
            finally
            {
                foreach (var o in outs) o.Dispose();
            }
        };
    }

    private static Tensor[] Reference(Model source, Dictionary<string, Tensor> inputs, int workers)
    {
        var copy = OnnxImporter.FromBytes(OnnxWireWriter.ToBytes(source), source.SourcePath ?? "model",
            source.SourcePath is { } p ? Path.GetDirectoryName(Path.GetFullPath(p)) ?? "." : ".");
        using var fp32 = CompiledCandidate.ForModel(copy, workers);
        return fp32.Run(inputs);
    }

    private static string Summary(TuningResult r, string metricName)
    {
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.Append(inv, $"baseline (fp32): {metricName} {r.Baseline:G6}; threshold {r.Threshold:G6}\n");
        sb.Append(inv, $"chosen: trial {r.Chosen.Index}, {r.Chosen.Label}: {metricName} {r.Chosen.Metric:G6}, relative bit-ops {r.Chosen.RelativeBitOps:F4}, {r.Chosen.Spec.Fp32Nodes.Count} node(s) forced to fp32\n");
        sb.Append(inv, $"evaluations: {r.Evaluations} (phase 1: {r.Phase1Evaluations}); trials: {r.Trials.Count} ({r.ReusedTrials} from the history); pareto front: {r.ParetoFront.Count} point(s); {r.StopReason}\n");
        string[] columns = ["bf16", "fp16", "int8", "fp32", "other"];
        int width = Math.Max(8, r.PrecisionByOp.Keys.Select(k => k.Length).DefaultIfEmpty(0).Max());
        sb.Append("op".PadRight(width));
        foreach (var c in columns) sb.Append(c.PadLeft(7));
        sb.Append('\n');
        foreach (var (op, row) in r.PrecisionByOp)
        {
            sb.Append(op.PadRight(width));
            foreach (var c in columns) sb.Append(row.GetValueOrDefault(c).ToString(inv).PadLeft(7));
            sb.Append('\n');
        }
        return sb.ToString();
    }

    private static string DefaultCache()
    {
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        var root = !string.IsNullOrEmpty(xdg) ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "alloy", "tune");
    }

    private static bool IsInteger(ElementType t) => t is ElementType.Int64 or ElementType.Int32 or ElementType.Int16 or ElementType.Int8
        or ElementType.UInt64 or ElementType.UInt32 or ElementType.UInt16 or ElementType.UInt8;

    private static bool ContainsNaN(Tensor t)
    {
        if (t.Type is not (ElementType.Float or ElementType.Double or ElementType.Float16 or ElementType.BFloat16)) return false;
        foreach (var v in Alloy.Runtime.Numerics.ElementConvert.ToDoubles(t))
            if (!double.IsFinite(v)) return true;
        return false;
    }
}
