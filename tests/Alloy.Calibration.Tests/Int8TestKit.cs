using Alloy.Backend;
using Alloy.Calibration;
using Alloy.IR;
using Alloy.Onnx;
using Alloy.Passes;
using Alloy.Passes.Quantization;
using Alloy.Pipeline;
using Alloy.Runtime;
using Alloy.Runtime.Execution;
using Alloy.Runtime.IO;
using Alloy.Runtime.Kernels;
using Alloy.Runtime.Kernels.Managed;
using Alloy.Testing;

namespace Alloy.Calibration.Tests;

/// <summary>Shared steps of the INT8 tests: corpus paths, calibration into a temporary cache, the INT8 pipelines, runs and metrics.</summary>
internal static class Int8TestKit
{
    public static readonly string[] TrainedNames = ["digits_cnn", "digits_gru", "digits_mlp", "digits_transformer"];

    public static string TrainedDir(string name) => Path.Combine(RepoPaths.CorpusModels, "trained", name);
    public static string ModelPath(string name, int opset) => Path.Combine(TrainedDir(name), $"{name}.opset{opset}.onnx");

    public static string TempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "alloy-int8-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Calibrates, runs the INT8 pipeline (with <paramref name="low"/> on the rest) and returns the compiled model and the report.</summary>
    public static (Model Model, PipelineReport Report, CalibrationResult Calibration) Compile(string modelPath, string cacheDir, CalibrationMethod method,
        string? low = null, IReadOnlyDictionary<string, string>? extra = null)
    {
        var calib = Calibrator.Run(modelPath, Path.Combine(Path.GetDirectoryName(modelPath)!, "calib_input.npy"),
            new CalibrationOptions { Method = method, CacheDirectory = cacheDir });
        var options = new Dictionary<string, string> { ["ranges"] = calib.CachePath! };
        if (extra is not null) foreach (var (k, v) in extra) options[k] = v;
        var model = OnnxImporter.Load(modelPath);
        var report = StandardPasses.CreateRegistry().Build(Int8Pipeline.Specs(options, low)).Run(model);
        return (model, report, calib);
    }

    public static float[] RunAlloy(Model model, Tensor input)
    {
        var plan = PlanCompiler.Compile(model, ManagedKernels.CreateRegistry());
        var outputs = new PlanExecutor(1).Run(plan, new Dictionary<string, Tensor> { [plan.Inputs[0].Name] = input });
        try
        {
            return ToFloats(outputs[0]!);
        }
        finally
        {
            foreach (var o in outputs) o?.Dispose();
        }
    }

    public static float[] ToFloats(Tensor t) => t.Type == ElementType.Float ? t.ToArray<float>()
        : Enumerable.Range(0, (int)t.Length).Select(i => (float)Alloy.Runtime.Numerics.ElementConvert.GetDouble(t, i)).ToArray();

    public static Tensor EvalInput(string name) => NpyFile.Read(Path.Combine(TrainedDir(name), "eval_input.npy"));
    public static long[] EvalLabels(string name)
    {
        using var t = NpyFile.Read(Path.Combine(TrainedDir(name), "eval_labels.npy"));
        return t.ToArray<long>();
    }
}
