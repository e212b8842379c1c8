using System.Diagnostics;
using Alloy.Backend;
using Alloy.IR;
using Alloy.Onnx;
using Alloy.OnnxRuntime;
using Alloy.Runtime;
using Alloy.Runtime.Execution;
using Alloy.Runtime.IO;
using Alloy.Runtime.Kernels;
using Alloy.Runtime.Kernels.Managed;
using Alloy.Runtime.OneDnn;
using Alloy.Testing;
using BenchmarkDotNet.Attributes;

namespace Alloy.Benchmarks;

/// <summary>
/// INT8 inference: Alloy's plan for a QDQ model (the QDQ groups lowered to the managed integer kernels) against
/// Alloy's FP32 plan of the original model (the baseline: the Ratio column is time / Alloy FP32 time, below 1 is
/// faster), and ONNX Runtime (default graph optimizations) on the same QDQ file and on the FP32 file, on 1 and 2
/// threads. The QDQ models come from <c>tests/tools/make_qdq_model.py</c> (per-channel symmetric int8 weights, uint8
/// activations calibrated by min-max on the model's <c>ref_input.npy</c>, or on 4 seeded random inputs for the
/// full-width resnet18) and are cached under the temp directory. Models: resnet18_w32, mobilenet_v2_w050 and, when
/// <c>.deps/models/resnet18.onnx</c> exists (<c>tests/tools/make_resnet18.py</c>), the full-width resnet18; input
/// batch 1, 224×224. The global cleanup prints CPU time per operation, which holds on a loaded machine.
/// <para>The <see cref="Kernels"/> dimension picks Alloy's kernel set for both of its plans: <c>managed</c> (the
/// managed AVX-512 kernels) or <c>onednn</c> (<see cref="OneDnnKernels"/>: the fused integer convolutions and the
/// float32 Conv on oneDNN, the rest managed), so each kernel set's INT8 / FP32 ratio comes from one run.</para>
/// </summary>
[Config(typeof(CliRuntimeConfig))]
public class Int8ModelBenchmark
{
    private Model? _fp32Model, _int8Model;
    private ExecutionPlan _fp32 = null!, _int8 = null!;
    private PlanExecutor _executor = null!;
    private OrtSession _ortFp32 = null!, _ortInt8 = null!;
    private Dictionary<string, Tensor> _inputs = [];
    private readonly CpuTimeMeter _meter = new();

    [ParamsSource(nameof(Models))]
    public string Model { get; set; } = "";

    [Params(1, 2)]
    public int Threads { get; set; }

    [Params("managed", "onednn")]
    public string Kernels { get; set; } = "managed";

    public static IEnumerable<string> Models()
    {
        yield return "resnet18_w32";
        yield return "mobilenet_v2_w050";
        if (File.Exists(ModelBenchmark.Resnet18Path)) yield return "resnet18";
    }

    private static string Fp32Path(string name) => name == "resnet18"
        ? ModelBenchmark.Resnet18Path
        : Path.Combine(RepoPaths.CorpusModels, "untrained", name, $"{name}.opset13.onnx");

    private static string? CalibrationPath(string name) => name == "resnet18" ? null : Path.Combine(RepoPaths.CorpusModels, "untrained", name, "ref_input.npy");

    /// <summary>The QDQ model of <paramref name="name"/>, written by make_qdq_model.py on first use.</summary>
    public static string QdqPath(string name)
    {
        var dir = Path.Combine(Path.GetTempPath(), "alloy-int8-benchmark");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, $"{name}.qdq.onnx");
        if (File.Exists(path)) return path;
        var temp = path + $".{Environment.ProcessId}.tmp";
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Path.Combine(RepoPaths.Root, "tests", "tools", "make_qdq_model.py"), Fp32Path(name), temp })
            psi.ArgumentList.Add(a);
        if (CalibrationPath(name) is { } calib) { psi.ArgumentList.Add("--calib"); psi.ArgumentList.Add(calib); }
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start /usr/bin/python3");
        string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"make_qdq_model.py failed for {name}: {output}");
        File.Move(temp, path, overwrite: true);
        return path;
    }

    [GlobalSetup]
    public void Setup()
    {
        var fp32Path = Fp32Path(Model);
        var int8Path = QdqPath(Model);
        _inputs = Inputs(Model);
        var registry = Registry(Kernels);
        _fp32Model = OnnxImporter.Load(fp32Path);
        _fp32 = PlanCompiler.Compile(_fp32Model, registry);
        _int8Model = OnnxImporter.Load(int8Path);
        _int8 = PlanCompiler.Compile(_int8Model, registry);
        if (_int8.Steps.Any(s => s.Node.OpType is "Conv" or "Gemm" or "MatMul"))
            throw new InvalidOperationException($"{Model}: the INT8 plan still has float Conv/Gemm/MatMul steps");
        _executor = new PlanExecutor(Threads);
        _ortFp32 = new OrtSession(fp32Path, Threads, OrtGraphOptimization.All);
        _ortInt8 = new OrtSession(int8Path, Threads, OrtGraphOptimization.All);
        _meter.Start();
    }

    [Benchmark(Baseline = true)]
    public void AlloyFp32()
    {
        Dispose(_executor.Run(_fp32, _inputs));
        _meter.Count(nameof(AlloyFp32));
    }

    [Benchmark]
    public void AlloyInt8()
    {
        Dispose(_executor.Run(_int8, _inputs));
        _meter.Count(nameof(AlloyInt8));
    }

    [Benchmark]
    public void OnnxRuntimeFp32()
    {
        Dispose(_ortFp32.Run(_inputs));
        _meter.Count(nameof(OnnxRuntimeFp32));
    }

    [Benchmark]
    public void OnnxRuntimeInt8()
    {
        Dispose(_ortInt8.Run(_inputs));
        _meter.Count(nameof(OnnxRuntimeInt8));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        var (cpu, wall) = _meter.PerOperation();
        Console.WriteLine($"// {_meter.Label} {Model} Threads={Threads} Kernels={Kernels}: {cpu * 1e3:F2} ms CPU, {wall * 1e3:F2} ms wall per operation");
        _ortFp32.Dispose();
        _ortInt8.Dispose();
        _fp32Model?.Dispose();
        _int8Model?.Dispose();
        foreach (var t in _inputs.Values) t.Dispose();
    }

    /// <summary>Alloy's kernels for <paramref name="kernels"/> (<c>onednn</c> requires oneDNN to load).</summary>
    public static KernelRegistry Registry(string kernels) => kernels switch
    {
        "managed" => ManagedKernels.CreateRegistry(),
        "onednn" when OneDnnLibrary.IsAvailable => OneDnnKernels.CreateRegistry(),
        "onednn" => throw new InvalidOperationException($"oneDNN is not available: {OneDnnLibrary.UnavailableReason}"),
        _ => throw new ArgumentException($"unknown kernel set '{kernels}'"),
    };

    private static void Dispose(IEnumerable<Tensor?> tensors)
    {
        foreach (var t in tensors) t?.Dispose();
    }

    /// <summary>The corpus model's reference input, or a seeded random [1,3,224,224] image for resnet18.</summary>
    private static Dictionary<string, Tensor> Inputs(string name)
    {
        if (CalibrationPath(name) is { } path) return new() { ["input"] = NpyFile.Read(path) };
        var random = new Random(18);
        var values = new float[3 * 224 * 224];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        return new() { ["input"] = Tensor.FromFloats([1, 3, 224, 224], values) };
    }
}
