using Alloy.IR;
using Alloy.Onnx;
using Alloy.Onnx.Proto;
using BenchmarkDotNet.Attributes;
using Google.Protobuf;

namespace Alloy.Benchmarks;

/// <summary>
/// Import (protobuf bytes → IR) and export (IR → protobuf bytes) of synthetic chains; divide Nodes by the mean for
/// nodes/s. The peer is Google.Protobuf's generated ONNX classes parsing and re-serializing the same bytes (what a
/// .NET tool reading ONNX without an IR of its own does), in the same run.
/// </summary>
[MemoryDiagnoser]
[MinColumn, MedianColumn]
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

    [Benchmark(Baseline = true)]
    public int ImportExport()
    {
        using var model = OnnxImporter.FromBytes(_bytes, "chain.onnx", ".");
        return OnnxWireWriter.ToBytes(model).Length;
    }

    /// <summary>The peer: parse into Google.Protobuf's ModelProto and serialize it again.</summary>
    [Benchmark]
    public int ProtobufParseAndWrite() => ModelProto.Parser.ParseFrom(_bytes).ToByteArray().Length;

    [Benchmark]
    public int Export() => OnnxWireWriter.ToBytes(_model!).Length;

    [Benchmark]
    public int Import()
    {
        using var model = OnnxImporter.FromBytes(_bytes, "chain.onnx", ".");
        return model.Graph.NodeCount;
    }
}
