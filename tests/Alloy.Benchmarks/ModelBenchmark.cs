using Alloy.Backend;
using Alloy.IR;
using Alloy.Onnx;
using Alloy.OnnxRuntime;
using Alloy.Passes;
using Alloy.Runtime;
using Alloy.Runtime.Execution;
using Alloy.Runtime.Kernels.Managed;
using Alloy.Runtime.OneDnn;
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
/// loaded machine where the wall-clock mean does not. <c>Paired</c> runs Alloy and ONNX Runtime in alternating blocks
/// of runs a fraction of a second apart, and its cleanup line (<c>// Paired MODEL Threads=N: …</c>) gives the ratio over
/// block pairs, which holds when the machine's speed changes between the separate cases (<see cref="PairedTimes"/>).
/// <para><c>AlloyBf16</c> runs the same model compiled to BF16 in process with the pipeline of
/// <c>alloy compile --dtype bf16</c> (<see cref="PipelineBenchmark.Pipeline"/>) on the same managed registry; its
/// Ratio against <c>Alloy</c> is the BF16 / FP32 time on Alloy's runtime. Inputs the BF16 model takes as bf16 are the
/// shipped FP32 inputs rounded once (at setup).</para>
/// </summary>
[Config(typeof(ShortRunConfig))]
public class ModelBenchmark
{
    public static readonly string[] CorpusModels = ["resnet18_w32", "mobilenet_v2_w050", "squeezenet1_1", "transformer_encoder"];

    private Model? _model;
    private Model? _bf16Model;
    private ExecutionPlan _plan = null!, _bf16Plan = null!;
    private ExecutionPlan? _oneDnnPlan;
    private Dictionary<string, Tensor> _bf16Inputs = [];
    private PlanExecutor _executor = null!;
    private OrtSession _ort = null!, _ortUnoptimized = null!;
    private Dictionary<string, Tensor> _inputs = [];
    private readonly CpuTimeMeter _meter = new();
    private readonly PairedTimes _paired = new();

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

    [GlobalSetup(Targets = [nameof(Alloy), nameof(AlloyBf16), nameof(OnnxRuntime), nameof(OnnxRuntimeUnoptimized), nameof(Paired)])]
    public void Setup()
    {
        var path = ModelPath(Model);
        _inputs = LoadInputs(path);
        _model = OnnxImporter.Load(path);
        _plan = PlanCompiler.Compile(_model, ManagedKernels.CreateRegistry());
        _bf16Model = OnnxImporter.Load(path);
        StandardPasses.CreateRegistry().Build(PipelineBenchmark.Pipeline).Run(_bf16Model);
        _bf16Plan = PlanCompiler.Compile(_bf16Model, ManagedKernels.CreateRegistry());
        _bf16Inputs = _bf16Plan.Inputs.Where(i => _inputs.ContainsKey(i.Name))
            .ToDictionary(i => i.Name, i => i.Type == ElementType.BFloat16 ? ToBFloat16(_inputs[i.Name]) : _inputs[i.Name]);
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

    /// <summary>The common setup plus the oneDNN plan, which only <see cref="AlloyOneDnn"/> compiles (and so loads oneDNN).</summary>
    [GlobalSetup(Target = nameof(AlloyOneDnn))]
    public void SetupOneDnn()
    {
        Setup();
        if (OneDnnLibrary.IsAvailable) _oneDnnPlan = PlanCompiler.Compile(_model!, OneDnnKernels.CreateRegistry());
    }

    /// <summary>
    /// The same FP32 model on the <c>auto</c> kernel set when oneDNN loads (<see cref="OneDnnKernels"/>: float32 Conv on
    /// oneDNN over the managed kernels); without oneDNN it runs the managed plan, so its Ratio is 1.
    /// </summary>
    [Benchmark]
    public void AlloyOneDnn()
    {
        Dispose(_executor.Run(_oneDnnPlan ?? _plan, _inputs));
        _meter.Count(nameof(AlloyOneDnn));
    }

    [Benchmark]
    public void AlloyBf16()
    {
        Dispose(_executor.Run(_bf16Plan, _bf16Inputs));
        _meter.Count(nameof(AlloyBf16));
    }

    [Benchmark]
    public void OnnxRuntime()
    {
        Dispose(_ort.Run(_inputs));
        _meter.Count(nameof(OnnxRuntime));
    }

    /// <summary>
    /// Alloy and ONNX Runtime (default optimizations) in alternating blocks of runs (<see cref="PairedTimes"/>); the
    /// global cleanup prints the median time of each and the median ratio over block pairs, the ratio that holds when
    /// the machine's speed changes between the separate <c>Alloy</c> and <c>OnnxRuntime</c> cases.
    /// </summary>
    [Benchmark]
    public void Paired()
    {
        _paired.Run(() => Dispose(_executor.Run(_plan, _inputs)), () => Dispose(_ort.Run(_inputs)));
        _meter.Count(nameof(Paired));
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
        if (_paired.Count > 0)
        {
            var (alloy, ort, ratio) = _paired.Medians();
            Console.WriteLine($"// Paired {Model} Threads={Threads}: {_paired.Count} pairs, Alloy median {alloy * 1e3:F3} ms, ONNX Runtime median {ort * 1e3:F3} ms, ORT/Alloy median over block pairs {ratio:F2}");
        }
        _ort.Dispose();
        _ortUnoptimized.Dispose();
        _model?.Dispose();
        _bf16Model?.Dispose();
        foreach (var t in _bf16Inputs.Values)
            if (!_inputs.ContainsValue(t)) t.Dispose();
        foreach (var t in _inputs.Values) t.Dispose();
    }

    private static void Dispose(IEnumerable<Tensor?> tensors)
    {
        foreach (var t in tensors) t?.Dispose();
    }

    /// <summary>A float32 tensor rounded once to bf16 (other types unchanged).</summary>
    private static Tensor ToBFloat16(Tensor t)
    {
        if (t.Type != ElementType.Float) return t;
        var bits = t.Span<float>().ToArray().Select(v => global::Alloy.Runtime.Numerics.BFloat16.FromFloat(v).Bits).ToArray();
        return Tensor.FromArray<ushort>(ElementType.BFloat16, t.Shape, bits);
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
