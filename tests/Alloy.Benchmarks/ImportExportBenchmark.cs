using Alloy.IR;
using Alloy.Onnx;
using Alloy.Onnx.Proto;
using BenchmarkDotNet.Attributes;
using Google.Protobuf;

namespace Alloy.Benchmarks;

/// <summary>Import (protobuf bytes → IR) plus export (IR → protobuf bytes) of synthetic chains; divide Nodes by the mean for nodes/s.</summary>
[MemoryDiagnoser]
[Config(typeof(CliRuntimeConfig))]
public class ImportExportBenchmark
{
    private byte[] _bytes = [];

    [Params(50_000, 100_000)]
    public int Nodes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        using var model = SyntheticModels.Chain(Nodes);
        _bytes = OnnxExporter.ToProto(model).ToByteArray();
    }

    [Benchmark]
    public int ImportExport()
    {
        using var model = OnnxImporter.FromProto(ModelProto.Parser.ParseFrom(_bytes), "chain.onnx", ".");
        return OnnxExporter.ToProto(model).CalculateSize();
    }

    [Benchmark]
    public int Import()
    {
        using var model = OnnxImporter.FromProto(ModelProto.Parser.ParseFrom(_bytes), "chain.onnx", ".");
        return model.Graph.NodeCount;
    }
}
