using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Alloy.Calibration;
using Alloy.IR;
using Alloy.Onnx;
using Alloy.Passes;
using Alloy.Passes.Precision;
using Alloy.Passes.Quantization;
using Alloy.Pipeline;

namespace Alloy.Cli;

/// <summary><c>alloy compile</c>: the mixed-precision pipeline from the command line.</summary>
public static class CompileCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = new Argument<string>("MODEL") { Description = "Model file (.onnx)" };
        var output = new Option<string>("--output", "-o") { Description = "Output ONNX file", Required = true };
        var dtype = new Option<string?>("--dtype") { Description = "Low precision type: bf16 or fp16 (default bf16; with --int8, none unless given)" };
        var target = new Option<string>("--target") { Description = "Target: native, icelake, sapphirerapids", DefaultValueFactory = _ => "native" };
        var keepIo = new Option<bool>("--keep-io-types") { Description = "Keep graph inputs and outputs FP32" };
        var fp32Ops = new Option<string?>("--fp32-ops") { Description = "Op types that stay FP32 (comma-separated)" };
        var fp32Nodes = new Option<string?>("--fp32-nodes") { Description = "Nodes whose name matches this regex stay FP32" };
        var ranges = new Option<string?>("--ranges") { Description = "JSON file of calibrated value ranges {name: [min, max]} for the range rules" };
        var printAll = new Option<string?>("--print-ir-after-all") { Description = "Write the IR after every pass into this folder" };
        var printChanged = new Option<string?>("--print-ir-after-change") { Description = "Write the IR after every pass that changed it into this folder" };
        var pipeline = new Option<string?>("--pipeline") { Description = "Run this pipeline string instead of the one the options build" };
        var report = new Option<string?>("--report") { Description = "Write the per-node provenance report (JSON) to this file" };
        var threshold = new Option<long?>("--external-data-threshold") { Description = "Store initializers of at least this many bytes in OUT.onnx.data" };
        var nonstandard = new Option<bool>("--allow-nonstandard-types")
        {
            Description = "Run every op in bf16/fp16 even where the model's ONNX opset does not admit the type (the output then runs only in Alloy's runtime)",
        };
        var int8 = Int8Options.Create();
        var cmd = new Command("compile", "Convert a model to mixed precision (INT8, BF16 or FP16 + FP32) and explain every decision")
        {
            model, output, dtype, target, keepIo, fp32Ops, fp32Nodes, ranges, printAll, printChanged, pipeline, report, threshold, nonstandard,
        };
        int8.AddTo(cmd);
        var inputTypes = ModelLoader.InputTypesOption();
        cmd.Options.Add(inputTypes);
        cmd.SetAction(r => CliRunner.Run(stderr, () =>
        {
            var path = r.GetValue(model)!;
            bool useInt8 = r.GetValue(int8.Enabled);
            var low = (r.GetValue(dtype) ?? (useInt8 ? null : "bf16")) switch
            {
                null => null,
                "bf16" => "bf16",
                "fp16" => "fp16",
                var d => throw new UserError($"--dtype '{d}': use bf16 or fp16"),
            };
            if (r.GetValue(fp32Nodes) is { } rx)
            {
                try { _ = new System.Text.RegularExpressions.Regex(rx); }
                catch (ArgumentException e) { throw new UserError($"--fp32-nodes '{rx}': {e.Message}"); }
            }
            CalibrationResult? calibration = null;
            IReadOnlyList<PassSpec> specs;
            try
            {
                if (r.GetValue(pipeline) is { } text) specs = PipelineParser.Parse(text);
                else if (useInt8)
                {
                    int8.Validate(r, path);
                    calibration = int8.Calibrate(r, path, r.GetValue(ranges), stderr);
                    specs = int8.Pipeline(r, calibration?.CachePath ?? r.GetValue(ranges)!, low, r.GetValue(target)!, r.GetValue(keepIo),
                        r.GetValue(fp32Ops), r.GetValue(fp32Nodes));
                }
                else
                {
                    int8.RejectWithoutInt8(r);
                    specs = DefaultPipeline(low!, r.GetValue(target)!, r.GetValue(keepIo), r.GetValue(fp32Ops), r.GetValue(fp32Nodes), r.GetValue(ranges),
                        r.GetValue(nonstandard));
                }
            }
            catch (PipelineSyntaxException e)
            {
                throw new UserError(e.Message);
            }
            catch (CalibrationException e)
            {
                throw new UserError(e.Message);
            }

            using var m = ModelLoader.Load(path, r.GetValue(inputTypes));
            Verifier.Check(m);
            var sinkDir = r.GetValue(printAll) ?? r.GetValue(printChanged);
            var options = new PassManagerOptions
            {
                PrintIr = r.GetValue(printAll) is not null ? PrintIrMode.AfterAll : r.GetValue(printChanged) is not null ? PrintIrMode.AfterChange : PrintIrMode.None,
                IrSink = sinkDir is null ? null : (i, id, text) => AtomicFile.WriteAllText(Path.Combine(sinkDir, $"{i + 1:D2}-{id}.ir"), text),
            };
            PipelineReport result;
            try
            {
                result = StandardPasses.CreateRegistry().Build(specs).Run(m, options);
            }
            catch (PipelineSyntaxException e)
            {
                throw new UserError(e.Message);
            }
            catch (PipelineException e)
            {
                throw new UserError($"{path}: {e.Message}");
            }
            foreach (var d in result.Diagnostics.Where(d => d.Severity != DiagnosticSeverity.Note)) stderr.WriteLine($"alloy: {d}");
            OnnxExporter.Save(m, r.GetValue(output)!, new ExportOptions { ExternalDataThreshold = r.GetValue(threshold) });
            var table = PrecisionTable(m);
            if (calibration is not null) stdout.WriteLine(Int8Options.Summary(calibration));
            stdout.Write(FormatTable(table, CastCount(m)));
            if (r.GetValue(report) is { } reportPath) AtomicFile.WriteAllText(reportPath, ReportJson(path, specs, result, m, table, calibration));
            stdout.WriteLine($"wrote {r.GetValue(output)}");
        }));
        return cmd;
    }

    public static IReadOnlyList<PassSpec> DefaultPipeline(string low, string target, bool keepIo, string? fp32Ops, string? fp32Nodes, string? ranges,
        bool allowNonstandardTypes = false)
    {
        var mark = new Dictionary<string, string> { ["target"] = target };
        if (allowNonstandardTypes) mark["schema"] = "alloy";
        if (fp32Ops is not null) mark["fp32-ops"] = fp32Ops.Replace(',', ';');
        if (fp32Nodes is not null) mark["fp32-nodes"] = fp32Nodes;
        if (ranges is not null) mark["ranges"] = ranges;
        return
        [
            new PassSpec("infer-shapes", new Dictionary<string, string>()),
            new PassSpec($"mark-{low}", mark),
            new PassSpec($"propagate-{low}", new Dictionary<string, string>()),
            new PassSpec("insert-casts", new Dictionary<string, string> { ["keep-io-types"] = keepIo ? "true" : "false" }),
            new PassSpec("fold-casts", new Dictionary<string, string>()),
        ];
    }

    /// <summary>Per op type: how many nodes run in each precision (from the <c>prec</c> annotations), over all graphs.</summary>
    public static SortedDictionary<string, SortedDictionary<string, int>> PrecisionTable(Model m)
    {
        var table = new SortedDictionary<string, SortedDictionary<string, int>>(StringComparer.Ordinal);
        foreach (var g in m.Graph.SelfAndSubgraphs())
            foreach (var n in g.Nodes)
            {
                if (n.OpType == "Cast") continue;
                var prec = PrecisionAnnotations.PrecisionOf(n)
                    ?? (n.Outputs.Any(v => v.ElementType is DataType.Float) && !n.Outputs.Any(v => v.ElementType is DataType.BFloat16 or DataType.Float16) ? PrecisionAnnotations.Fp32 : "other");
                var row = table.TryGetValue(n.OpType, out var existing) ? existing : table[n.OpType] = new(StringComparer.Ordinal);
                row[prec] = row.GetValueOrDefault(prec) + 1;
            }
        return table;
    }

    public static int CastCount(Model m) => m.Graph.SelfAndSubgraphs().Sum(g => g.Nodes.Count(n => n.OpType == "Cast"));

    private static string FormatTable(SortedDictionary<string, SortedDictionary<string, int>> table, int casts)
    {
        string[] columns = ["i8", "bf16", "fp16", "fp32", "other"];
        var sb = new StringBuilder();
        int width = Math.Max(8, table.Keys.Select(k => k.Length).DefaultIfEmpty(0).Max());
        sb.Append("op".PadRight(width));
        foreach (var c in columns) sb.Append(c.PadLeft(7));
        sb.Append('\n');
        foreach (var (op, row) in table)
        {
            sb.Append(op.PadRight(width));
            foreach (var c in columns) sb.Append(row.GetValueOrDefault(c).ToString(CultureInfo.InvariantCulture).PadLeft(7));
            sb.Append('\n');
        }
        sb.Append(CultureInfo.InvariantCulture, $"casts: {casts}\n");
        return sb.ToString();
    }

    private static string ReportJson(string model, IReadOnlyList<PassSpec> specs, PipelineReport result, Model m, SortedDictionary<string, SortedDictionary<string, int>> table,
        CalibrationResult? calibration)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("model", model);
            w.WriteString("pipeline", string.Join(",", specs));
            if (calibration is not null) Int8Options.WriteCalibration(w, calibration);
            w.WriteStartArray("passes");
            foreach (var p in result.Passes)
            {
                w.WriteStartObject();
                w.WriteString("pass", p.PassId);
                w.WriteNumber("milliseconds", Math.Round(p.WallTime.TotalMilliseconds, 3));
                w.WriteBoolean("changed", p.Changed);
                w.WriteStartObject("statistics");
                foreach (var (name, _, value) in p.Statistics) w.WriteNumber(name, value);
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteNumber("casts", CastCount(m));
            w.WriteStartObject("precision_by_op");
            foreach (var (op, row) in table)
            {
                w.WriteStartObject(op);
                foreach (var (prec, count) in row) w.WriteNumber(prec, count);
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteStartArray("nodes");
            foreach (var g in m.Graph.SelfAndSubgraphs())
                foreach (var n in g.Nodes)
                {
                    w.WriteStartObject();
                    w.WriteString("graph", g.Name);
                    w.WriteString("node", n.Name);
                    w.WriteString("op", n.OpType);
                    foreach (var (key, value) in n.Annotations) w.WriteString(key, value);
                    w.WriteEndObject();
                }
            w.WriteEndArray();
            w.WriteStartArray("diagnostics");
            foreach (var d in result.Diagnostics) w.WriteStringValue(d.ToString());
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray()) + "\n";
    }
}
