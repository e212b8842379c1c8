using Alloy.IR;
using Alloy.Onnx;
using Alloy.Onnx.Proto;
using BenchmarkDotNet.Attributes;

namespace Alloy.Benchmarks;

/// <summary>Import (protobuf bytes → IR) and export (IR → protobuf bytes) of synthetic chains; divide Nodes by the mean for nodes/s.</summary>
[MemoryDiagnoser]
[Config(typeof(CliRuntimeConfig))]
public class ImportExportBenchmark
{
    private byte[] _bytes = [];
    private Model? _model;

    [Params(50_000, 100_000)]
    public int Nodes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _model = SyntheticModels.Chain(Nodes);
        _bytes = OnnxWireWriter.ToBytes(_model);
    }

    [GlobalCleanup]
    public void Cleanup() => _model?.Dispose();

    [Benchmark]
    public int ImportExport()
    {
        using var model = OnnxImporter.FromBytes(_bytes, "chain.onnx", ".");
        return OnnxWireWriter.ToBytes(model).Length;
    }

    [Benchmark]
    public int Export() => OnnxWireWriter.ToBytes(_model!).Length;

    [Benchmark]
    public int Import()
    {
        using var model = OnnxImporter.FromBytes(_bytes, "chain.onnx", ".");
        return model.Graph.NodeCount;
    }
}
