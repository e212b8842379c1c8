using Alloy.IR;

namespace Alloy.Onnx;

/// <summary>Reads a serialized ONNX <c>TensorProto</c> file (the <c>.pb</c> files of ONNX test data sets).</summary>
public static class OnnxTensorFile
{
    /// <summary>Writes a TensorProto file (raw_data, or string_data for strings) atomically.</summary>
    public static void Write(string path, string name, TensorConstant value)
    {
        var t = new Proto.TensorProto { Name = name, DataType = (int)value.ElementType };
        t.Dims.AddRange(value.Dims);
        if (value.Data is StringTensorData s)
            foreach (var b in s.Strings) t.StringData.Add(Google.Protobuf.ByteString.CopyFrom(b));
        else
            t.RawData = Google.Protobuf.ByteString.CopyFrom(value.Data.AsSpan());
        AtomicFile.Write(path, stream => Google.Protobuf.MessageExtensions.WriteTo(t, stream));
    }

    /// <summary>The tensor's name (empty when it has none) and its value. Embedded data only.</summary>
    public static (string Name, TensorConstant Value) Read(string path)
    {
        if (!File.Exists(path)) throw new OnnxImportException(path, null, "file not found");
        var bytes = File.ReadAllBytes(path);
        return OnnxImporter.ReadTensor(bytes, path);
    }
}
