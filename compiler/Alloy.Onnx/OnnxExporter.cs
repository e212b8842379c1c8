using Alloy.IR;
using Alloy.Onnx.Proto;

namespace Alloy.Onnx;

/// <summary>How <see cref="OnnxExporter"/> stores constants.</summary>
public sealed record ExportOptions
{
    /// <summary>
    /// Initializers of at least this many bytes go to an external-data file next to the model
    /// (<c>&lt;model file name&gt;.data</c>). Null: embed everything unless the embedded model would pass
    /// the 2 GiB protobuf limit, in which case initializers of 1 KiB and above go external.
    /// </summary>
    public long? ExternalDataThreshold { get; init; }

    public static ExportOptions Default { get; } = new();
}

/// <summary>Writes the IR as an ONNX model: the same nodes, attributes, initializers, I/O, opsets, metadata and functions the importer read.</summary>
public static class OnnxExporter
{
    private const long ProtobufLimit = int.MaxValue - (64L << 20);
    private const long AutoThreshold = 1024;
    private const int Alignment = 64;

    /// <summary>Writes <paramref name="model"/> to <paramref name="path"/> (and its external-data file) atomically.</summary>
    public static void Save(Model model, string path, ExportOptions? options = null)
    {
        options ??= ExportOptions.Default;
        long? threshold = options.ExternalDataThreshold;
        if (threshold is null && TotalConstantBytes(model) > ProtobufLimit) threshold = AutoThreshold;

        var dataName = Path.GetFileName(path) + ".data";
        var external = new List<TensorData>();
        long dataLength = 0;
        ExternalPlacement? placement = null;
        if (threshold is { } th)
        {
            placement = new ExternalPlacement(dataName, c =>
            {
                if (c.Data is StringTensorData || c.Data.ByteLength < th || c.Data.ByteLength == 0) return null;
                long offset = (dataLength + Alignment - 1) / Alignment * Alignment;
                external.Add(c.Data);
                dataLength = offset + c.Data.ByteLength;
                return offset;
            });
        }
        using var image = OnnxWireWriter.Prepare(model, placement);
        if (image.Length > int.MaxValue)
            throw new InvalidOperationException($"the model is above 2 GiB even with external data; lower --external-data-threshold");

        var dataPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".", dataName);
        var files = new List<(string, Action<Stream>)>();
        if (external.Count > 0)
            files.Add((dataPath, s => WriteExternalData(s, external)));
        files.Add((path, image.WriteTo));
        AtomicFile.WriteAll(files);
        // A data file left from an earlier save of this output would describe nothing now.
        if (external.Count == 0 && File.Exists(dataPath)) File.Delete(dataPath);
    }

    private static void WriteExternalData(Stream s, List<TensorData> external)
    {
        long pos = 0;
        foreach (var d in external)
        {
            long offset = (pos + Alignment - 1) / Alignment * Alignment;
            if (offset > pos) s.Write(new byte[offset - pos]);
            d.WriteTo(s);
            pos = offset + d.ByteLength;
        }
    }

    private static long TotalConstantBytes(Model model)
    {
        long total = 0;
        foreach (var g in model.Graph.SelfAndSubgraphs())
            foreach (var v in g.Constants)
                total += v.Constant?.Data.ByteLength ?? 0;
        return total;
    }

    /// <summary>Converts to a <see cref="ModelProto"/> with every constant embedded (parsed from <see cref="OnnxWireWriter"/>'s bytes).</summary>
    public static ModelProto ToProto(Model model) => ModelProto.Parser.ParseFrom(OnnxWireWriter.ToBytes(model));
}
