using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Alloy.Calibration;
using Alloy.Passes.Quantization;
using Alloy.Pipeline;

namespace Alloy.Cli;

/// <summary>The INT8 options of <c>alloy compile</c>: calibration, the partition-int8 controls, and the pipeline they build.</summary>
internal sealed class Int8Options
{
    public required Option<bool> Enabled { get; init; }
    public required Option<string?> Calib { get; init; }
    public required Option<string> Method { get; init; }
    public required Option<double> Percentile { get; init; }
    public required Option<int> Batch { get; init; }
    public required Option<string?> Cache { get; init; }
    public required Option<string?> Int8Ops { get; init; }
    public required Option<string?> Int8Nodes { get; init; }
    public required Option<string> Activations { get; init; }

    public static Int8Options Create() => new()
    {
        Enabled = new Option<bool>("--int8") { Description = "Run Conv/MatMul/Gemm INT8 (QDQ) from calibrated ranges; the rest stays FP32, or --dtype with it" },
        Calib = new Option<string?>("--calib") { Description = "Calibration data (.npy, samples along the first dimension) for --int8" },
        Method = new Option<string>("--calib-method") { Description = "Calibration range method: minmax, percentile, entropy or mse", DefaultValueFactory = _ => "minmax" },
        Percentile = new Option<double>("--calib-percentile") { Description = "Percentile of the percentile method", DefaultValueFactory = _ => 99.99 },
        Batch = new Option<int>("--calib-batch") { Description = "Calibration samples run at once", DefaultValueFactory = _ => 32 },
        Cache = new Option<string?>("--calib-cache") { Description = "Folder of the calibration statistics cache (default: ~/.cache/alloy/calibration)" },
        Int8Ops = new Option<string?>("--int8-ops") { Description = "Op types that run INT8 (comma-separated; default Conv,MatMul,Gemm)" },
        Int8Nodes = new Option<string?>("--int8-nodes") { Description = "Nodes whose name matches this regex run INT8 whatever their op type's setting" },
        Activations = new Option<string>("--int8-activations") { Description = "Activation quantization: u8 (asymmetric) or s8 (symmetric)", DefaultValueFactory = _ => "u8" },
    };

    public void AddTo(Command cmd)
    {
        foreach (var o in new Option[] { Enabled, Calib, Method, Percentile, Batch, Cache, Int8Ops, Int8Nodes, Activations }) cmd.Options.Add(o);
    }

    private IEnumerable<Option> Dependent => [Calib, Cache, Int8Ops, Int8Nodes];

    /// <summary>INT8-only options given without --int8 are a mistake the user should hear about.</summary>
    public void RejectWithoutInt8(ParseResult r)
    {
        foreach (var o in Dependent)
            if (r.GetResult(o) is { Implicit: false }) throw new UserError($"{o.Name} needs --int8");
        foreach (var o in new Option[] { Method, Percentile, Batch, Activations })
            if (r.GetResult(o) is { Implicit: false }) throw new UserError($"{o.Name} needs --int8");
    }

    public void Validate(ParseResult r, string modelPath)
    {
        if (r.GetValue(Int8Nodes) is { } rx)
        {
            try { _ = new System.Text.RegularExpressions.Regex(rx); }
            catch (ArgumentException e) { throw new UserError($"--int8-nodes '{rx}': {e.Message}"); }
        }
        if (!File.Exists(modelPath)) throw new UserError($"{modelPath}: file not found");
    }

    /// <summary>Runs (or reads from the cache) the calibration; null when ranges come from <c>--ranges</c> instead.</summary>
    public CalibrationResult? Calibrate(ParseResult r, string modelPath, string? rangesFile, TextWriter progress)
    {
        var data = r.GetValue(Calib);
        if (data is null)
        {
            if (rangesFile is null) throw new UserError("--int8 needs calibration data: --calib FILE.npy (or a ranges file: --ranges FILE.json)");
            return null;
        }
        var options = new CalibrationOptions
        {
            Method = CalibrationMethods.Parse(r.GetValue(Method)!),
            Percentile = r.GetValue(Percentile),
            BatchSize = r.GetValue(Batch),
            CacheDirectory = r.GetValue(Cache) ?? DefaultCache(),
            Progress = line => progress.WriteLine($"alloy: {line}"),
        };
        if (!File.Exists(data)) throw new UserError($"{data}: calibration data not found");
        return Calibrator.Run(modelPath, data, options);
    }

    private static string DefaultCache()
    {
        var root = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (string.IsNullOrEmpty(root)) root = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "alloy", "calibration");
    }

    public IReadOnlyList<PassSpec> Pipeline(ParseResult r, string rangesFile, string? low, string target, bool keepIo, string? fp32Ops, string? fp32Nodes)
    {
        var partition = new Dictionary<string, string>(StringComparer.Ordinal) { ["ranges"] = rangesFile };
        if (r.GetValue(Int8Ops) is { } ops) partition["int8-ops"] = ops.Replace(',', ';');
        if (fp32Ops is not null) partition["fp32-ops"] = fp32Ops.Replace(',', ';');
        if (fp32Nodes is not null) partition["fp32-nodes"] = fp32Nodes;
        if (r.GetValue(Int8Nodes) is { } nodes) partition["int8-nodes"] = nodes;
        partition["activations"] = r.GetValue(Activations)!;
        Dictionary<string, string>? mark = null;
        if (low is not null)
        {
            mark = new Dictionary<string, string>(StringComparer.Ordinal) { ["target"] = target };
            if (fp32Ops is not null) mark["fp32-ops"] = fp32Ops.Replace(',', ';');
            if (fp32Nodes is not null) mark["fp32-nodes"] = fp32Nodes;
        }
        var specs = Int8Pipeline.Specs(partition, low, mark, keepIo);
        // Check the options now, so a bad value is a user error before anything runs.
        _ = PartitionInt8Options.Parse(PartitionInt8Pass.PassId, partition);
        return specs;
    }

    public static string Summary(CalibrationResult c) => string.Create(CultureInfo.InvariantCulture,
        $"calibration: {c.Method.Name()} over {c.Samples} samples ({c.Batches} batches), {c.Ranges.Count} tensors, {(c.CacheHit ? "cache hit" : $"computed in {c.Elapsed.TotalSeconds:F1} s")}{(c.CachePath is null ? "" : $" ({c.CachePath})")}");

    public static void WriteCalibration(Utf8JsonWriter w, CalibrationResult c)
    {
        w.WriteStartObject("calibration");
        w.WriteString("method", c.Method.Name());
        w.WriteNumber("samples", c.Samples);
        w.WriteNumber("batches", c.Batches);
        w.WriteNumber("tensors", c.Ranges.Count);
        w.WriteBoolean("cache_hit", c.CacheHit);
        if (c.CachePath is not null) w.WriteString("cache_file", c.CachePath);
        w.WriteString("model_sha256", c.ModelSha256);
        w.WriteString("data_sha256", c.DataSha256);
        w.WriteNumber("seconds", Math.Round(c.Elapsed.TotalSeconds, 3));
        w.WriteEndObject();
    }
}
