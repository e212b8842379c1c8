using Alloy.Backend;
using Alloy.IR;
using Alloy.Onnx;
using Alloy.OnnxRuntime;
using Alloy.Runtime;
using Alloy.Runtime.Execution;
using Alloy.Runtime.Kernels.Managed;
using Alloy.Testing;
using BenchmarkDotNet.Attributes;

namespace Alloy.Benchmarks;

/// <summary>
/// End-to-end inference of corpus models on Alloy (managed kernel registry, <see cref="PlanCompiler"/> +
/// <see cref="PlanExecutor"/>) and on ONNX Runtime side by side, on 1 and 2 threads, fed with each model's shipped
/// reference input (<c>test_data_set_0/input_*.pb</c>). Alloy is the baseline, so the Ratio column of an ONNX Runtime
/// row is ORT time / Alloy time (above 1: Alloy is faster). ONNX Runtime runs twice: with its default graph
/// optimizations (<c>OnnxRuntime</c>, what its users get) and with none (<c>OnnxRuntimeUnoptimized</c>, the graph as
/// written, which is what Alloy runs). The full-width torchvision <c>resnet18</c> joins when
/// <c>.deps/models/resnet18.onnx</c> exists (<c>tests/tools/make_resnet18.py</c> writes it), with a seeded random
/// input. The global cleanup prints CPU time per operation (all threads of the process), a figure that holds on a
/// loaded machine where the wall-clock mean does not.
/// </summary>
[Config(typeof(ShortRunConfig))]
public class ModelBenchmark
{
    public static readonly string[] CorpusModels = ["resnet18_w32", "mobilenet_v2_w050", "squeezenet1_1", "transformer_encoder"];

    private Model? _model;
    private ExecutionPlan _plan = null!;
    private PlanExecutor _executor = null!;
    private OrtSession _ort = null!, _ortUnoptimized = null!;
    private Dictionary<string, Tensor> _inputs = [];
    private readonly CpuTimeMeter _meter = new();

    [ParamsSource(nameof(Models))]
    public string Model { get; set; } = "";

    [Params(1, 2)]
    public int Threads { get; set; }

    public static IEnumerable<string> Models()
    {
        foreach (var m in CorpusModels) yield return m;
        if (File.Exists(Resnet18Path)) yield return "resnet18";
    }

    public static string Resnet18Path => Path.Combine(RepoPaths.Root, ".deps", "models", "resnet18.onnx");

    private static string ModelPath(string name) =>
        name == "resnet18" ? Resnet18Path : Path.Combine(RepoPaths.CorpusModels, "untrained", name, $"{name}.opset13.onnx");

    [GlobalSetup]
    public void Setup()
    {
        var path = ModelPath(Model);
        _inputs = LoadInputs(path);
        _model = OnnxImporter.Load(path);
        _plan = PlanCompiler.Compile(_model, ManagedKernels.CreateRegistry());
        _executor = new PlanExecutor(Threads);
        _ort = new OrtSession(path, Threads, OrtGraphOptimization.All);
        _ortUnoptimized = new OrtSession(path, Threads, OrtGraphOptimization.None);
        _meter.Start();
    }

    [Benchmark(Baseline = true)]
    public void Alloy()
    {
        Dispose(_executor.Run(_plan, _inputs));
        _meter.Count(nameof(Alloy));
    }

    [Benchmark]
    public void OnnxRuntime()
    {
        Dispose(_ort.Run(_inputs));
        _meter.Count(nameof(OnnxRuntime));
    }

    [Benchmark]
    public void OnnxRuntimeUnoptimized()
    {
        Dispose(_ortUnoptimized.Run(_inputs));
        _meter.Count(nameof(OnnxRuntimeUnoptimized));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        var (cpu, wall) = _meter.PerOperation();
        Console.WriteLine($"// {_meter.Label} {Model} Threads={Threads}: {cpu * 1e3:F2} ms CPU, {wall * 1e3:F2} ms wall per operation");
        _ort.Dispose();
        _ortUnoptimized.Dispose();
        _model?.Dispose();
        foreach (var t in _inputs.Values) t.Dispose();
    }

    private static void Dispose(IEnumerable<Tensor?> tensors)
    {
        foreach (var t in tensors) t?.Dispose();
    }

    /// <summary>The model's shipped inputs (<c>test_data_set_0/input_*.pb</c>), or a seeded random [1,3,224,224] image for resnet18.</summary>
    private static Dictionary<string, Tensor> LoadInputs(string modelPath)
    {
        var inputs = new Dictionary<string, Tensor>();
        var dataSet = Path.Combine(Path.GetDirectoryName(modelPath)!, "test_data_set_0");
        if (Path.GetFileName(modelPath) == "resnet18.onnx")
        {
            var random = new Random(18);
            var values = new float[3 * 224 * 224];
            for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
            inputs["input"] = Tensor.FromFloats([1, 3, 224, 224], values);
            return inputs;
        }
        for (int i = 0; File.Exists(Path.Combine(dataSet, $"input_{i}.pb")); i++)
        {
            var (name, value) = OnnxTensorFile.Read(Path.Combine(dataSet, $"input_{i}.pb"));
            inputs[name] = ConstantTensors.ToTensor(value);
        }
        if (inputs.Count == 0) throw new InvalidOperationException($"{dataSet} holds no input_0.pb");
        return inputs;
    }
}
