using System.Buffers;
using Alloy.IR;
using Alloy.Onnx;
using Alloy.OnnxRuntime;
using Alloy.Passes;
using Alloy.Pipeline;
using BenchmarkDotNet.Attributes;

namespace Alloy.Benchmarks;

/// <summary>
/// What <c>alloy compile --dtype bf16</c> does to a model, bytes to bytes: import, verify, the BF16 pipeline
/// (<c>infer-shapes, mark-bf16(target=native), propagate-bf16, insert-casts, fold-casts</c>, verified after every
/// pass as the command does) and export (through one reused buffer, as the command writes its output file through
/// one buffer instead of building the serialized model in a new array), on synthetic transformer-like encoders
/// (<see cref="SyntheticModels.Transformer"/>). Divide Nodes by the mean for nodes/s. The peer is ONNX Runtime
/// creating a session on the same model with its basic graph optimizations (load, verify, constant folding and
/// redundant-node elimination, kernel assignment), measured in the same run.
/// </summary>
[MemoryDiagnoser]
[MinColumn, MedianColumn]
[Config(typeof(CliRuntimeConfig))]
public class PipelineBenchmark
{
    /// <summary>The pipeline <c>alloy compile --dtype bf16</c> builds with its default options.</summary>
    public const string Pipeline = "infer-shapes,mark-bf16(target=native),propagate-bf16,insert-casts(keep-io-types=false),fold-casts";

    private byte[] _bytes = [];
    private string _path = "";
    private PassManager _passes = null!;
    private readonly ArrayBufferWriter<byte> _output = new();

    [Params(10_000, 50_000, 100_000)]
    public int Nodes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        using (var model = SyntheticModels.Transformer(Nodes))
            _bytes = OnnxWireWriter.ToBytes(model);
        _path = Path.Combine(Path.GetTempPath(), $"alloy-pipeline-bench-{Environment.ProcessId}-{Nodes}.onnx");
        File.WriteAllBytes(_path, _bytes);
        _passes = StandardPasses.CreateRegistry().Build(Pipeline);
    }

    [GlobalCleanup]
    public void Cleanup() => File.Delete(_path);

    [Benchmark(Baseline = true)]
    public int CompileBf16()
    {
        using var model = OnnxImporter.FromBytes(_bytes, "encoder.onnx", ".");
        Verifier.Check(model);
        _passes.Run(model);
        _output.ResetWrittenCount();
        return OnnxWireWriter.WriteTo(model, _output);
    }

    /// <summary>The peer: an ONNX Runtime session on the FP32 model with basic graph optimizations, one thread.</summary>
    [Benchmark]
    public int OnnxRuntimeSession()
    {
        using var session = new OrtSession(_path, 1, OrtGraphOptimization.Basic);
        return session.Outputs.Count;
    }
}
