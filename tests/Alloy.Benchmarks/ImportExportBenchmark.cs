using System.Buffers;
using Alloy.IR;
using Alloy.Onnx;
using Alloy.Onnx.Proto;
using BenchmarkDotNet.Attributes;
using Google.Protobuf;

namespace Alloy.Benchmarks;

/// <summary>
/// Import (protobuf bytes → IR) and export (IR → protobuf bytes) of synthetic chains; divide Nodes by the mean for
/// nodes/s. Export writes into one reused output buffer, as <c>alloy convert</c> writes through one pooled
/// buffer into the output file (<see cref="ImportExportToArray"/> returns a fresh array instead). The peer is
/// Google.Protobuf's generated ONNX classes parsing and re-serializing the same bytes into the same kind of reused
/// buffer (what a .NET tool reading ONNX without an IR of its own does), in the same run.
/// </summary>
[MemoryDiagnoser]
[MinColumn, MedianColumn]
[Config(typeof(CliRuntimeConfig))]
public class ImportExportBenchmark
{
    private byte[] _bytes = [];
    private Model? _model;
    private readonly ArrayBufferWriter<byte> _output = new();

    [Params(50_000, 100_000)]
    public int Nodes { get; set; }

    /// <summary>
    /// The serialized chain only: the IR it was written from is released, so an operation runs with one IR alive,
    /// its own, as in an <c>alloy convert</c> process.
    /// </summary>
    [GlobalSetup]
    public void Setup()
    {
        using var source = SyntheticModels.Chain(Nodes);
        _bytes = OnnxWireWriter.ToBytes(source);
    }

    /// <summary>For <see cref="Export"/>: the IR to write stays alive for the whole run.</summary>
    [GlobalSetup(Target = nameof(Export))]
    public void SetupExport()
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
        _output.ResetWrittenCount();
        return OnnxWireWriter.WriteTo(model, _output);
    }

    /// <summary>Import, then export into a new array of the model's size (a large object each time).</summary>
    [Benchmark]
    public int ImportExportToArray()
    {
        using var model = OnnxImporter.FromBytes(_bytes, "chain.onnx", ".");
        return OnnxWireWriter.ToBytes(model).Length;
    }

    /// <summary>The peer: parse into Google.Protobuf's ModelProto and serialize it again.</summary>
    [Benchmark]
    public int ProtobufParseAndWrite()
    {
        _output.ResetWrittenCount();
        ModelProto.Parser.ParseFrom(_bytes).WriteTo(_output);
        return _output.WrittenCount;
    }

    [Benchmark]
    public int Export()
    {
        _output.ResetWrittenCount();
        return OnnxWireWriter.WriteTo(_model!, _output);
    }

    [Benchmark]
    public int Import()
    {
        using var model = OnnxImporter.FromBytes(_bytes, "chain.onnx", ".");
        return model.Graph.NodeCount;
    }
}
