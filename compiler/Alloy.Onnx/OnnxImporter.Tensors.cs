using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using Alloy.IR;
using Alloy.Onnx.Proto;

namespace Alloy.Onnx;

/// <summary>Tensors, sparse tensors and external data.</summary>
public sealed partial class OnnxImporter
{
    private readonly List<long> _tensorDims = [];

    /// <summary>
    /// Decodes a TensorProto. <paramref name="what"/> names it in messages; when <paramref name="named"/> is false
    /// (initializers, whose name is their value's) the message adds the tensor's name and the constant keeps none.
    /// </summary>
    private (string Name, TensorConstant Constant) ImportTensor(Slice s, string what, string? scope, bool named)
    {
        var r = Reader(s);
        // One list for every tensor's dims (tensors do not nest); the constant gets its own copy below.
        var dims = _tensorDims;
        dims.Clear();
        int dataType = 0;
        bool segment = false, external = false;
        string? name = null, doc = null;
        Slice? raw = null;
        ArrayBufferWriter<byte>? fixed32 = null, fixed64 = null;
        List<long>? int32 = null, int64 = null, uint64 = null;
        List<byte[]>? strings = null;
        List<KeyValuePair<string, string>>? externalData = null, metadata = null;
        while (r.Next())
        {
            switch (r.Field)
            {
                case TensorProto.DimsFieldNumber: r.ReadRepeatedVarint(dims); break;
                case TensorProto.DataTypeFieldNumber: dataType = r.ReadInt32(); break;
                case TensorProto.SegmentFieldNumber: segment = true; r.Skip(); break;
                case TensorProto.FloatDataFieldNumber: r.ReadRepeatedFixed(WireType.Fixed32, fixed32 ??= new()); break;
                case TensorProto.Int32DataFieldNumber: r.ReadRepeatedVarint(int32 ??= []); break;
                case TensorProto.StringDataFieldNumber: (strings ??= []).Add(r.ReadBytes().ToArray()); break;
                case TensorProto.Int64DataFieldNumber: r.ReadRepeatedVarint(int64 ??= []); break;
                case TensorProto.NameFieldNumber: name = r.ReadString(); break;
                case TensorProto.RawDataFieldNumber: raw = r.ReadSlice(); break;
                case TensorProto.DoubleDataFieldNumber: r.ReadRepeatedFixed(WireType.Fixed64, fixed64 ??= new()); break;
                case TensorProto.Uint64DataFieldNumber: r.ReadRepeatedVarint(uint64 ??= []); break;
                case TensorProto.DocStringFieldNumber: doc = r.ReadString(); break;
                case TensorProto.ExternalDataFieldNumber: (externalData ??= []).Add(ReadEntry(r.ReadSlice())); break;
                case TensorProto.DataLocationFieldNumber: external = r.ReadInt32() == (int)TensorProto.Types.DataLocation.External; break;
                case TensorProto.MetadataPropsFieldNumber: (metadata ??= []).Add(ReadEntry(r.ReadSlice())); break;
                default: r.Skip(); break;
            }
        }
        var site = new TensorSite(this, what, name, named, scope);
        if (!DataTypes.IsKnown(dataType) || dataType == 0) throw site.Fail($"has unknown element type {dataType}");
        if (segment) throw site.Fail("is a segment of a split tensor, which is not supported");
        var type = (DataType)dataType;
        long count = 1;
        foreach (var d in dims)
        {
            if (d < 0) throw site.Fail($"has a negative dimension {d}");
            try
            {
                count = checked(count * d);
            }
            catch (OverflowException)
            {
                throw site.Fail("has more elements than can be counted");
            }
        }
        TensorData data;
        if (external)
        {
            data = ReadExternal(externalData ?? [], type, count, site);
        }
        else if (type == DataType.String)
        {
            strings ??= [];
            if (strings.Count != count) throw site.Fail($"holds {strings.Count} strings, its dims need {count}");
            data = new StringTensorData(strings);
        }
        else
        {
            data = ReadEmbedded(type, count, raw, fixed32, fixed64, int32, int64, uint64, site);
        }
        var constant = new TensorConstant(type, [.. dims], data)
        {
            Name = named ? name : null,
            DocString = doc,
            Metadata = metadata ?? (IReadOnlyList<KeyValuePair<string, string>>)[],
        };
        return (name ?? "", constant);
    }

    /// <summary>Raw little-endian bytes from raw_data or from whichever typed field holds the values.</summary>
    private ArrayTensorData ReadEmbedded(DataType type, long count, Slice? raw, ArrayBufferWriter<byte>? fixed32, ArrayBufferWriter<byte>? fixed64,
        List<long>? int32, List<long>? int64, List<long>? uint64, TensorSite site)
    {
        long expected = type.RawByteCount(count);
        if (raw is { } rs)
        {
            if (rs.Length != expected) throw site.Fail($"raw_data has {rs.Length} bytes, its dims need {expected}");
            return new ArrayTensorData(Bytes(rs).ToArray());
        }
        if (expected > Array.MaxLength) throw site.Fail($"needs {expected} bytes, more than an embedded tensor can hold");
        var bytes = new byte[expected];
        var span = bytes.AsSpan();
        switch (type)
        {
            case DataType.Float:
            case DataType.Complex64:
                Check(fixed32?.WrittenCount / 4 ?? 0, expected / 4);
                fixed32?.WrittenSpan.CopyTo(span);
                break;
            case DataType.Double:
            case DataType.Complex128:
                Check(fixed64?.WrittenCount / 8 ?? 0, expected / 8);
                fixed64?.WrittenSpan.CopyTo(span);
                break;
            case DataType.Int64:
                Check(int64?.Count ?? 0, count);
                for (int i = 0; i < count; i++) BinaryPrimitives.WriteInt64LittleEndian(span[(i * 8)..], int64![i]);
                break;
            case DataType.UInt32:
                Check(uint64?.Count ?? 0, count);
                for (int i = 0; i < count; i++) BinaryPrimitives.WriteUInt32LittleEndian(span[(i * 4)..], (uint)uint64![i]);
                break;
            case DataType.UInt64:
                Check(uint64?.Count ?? 0, count);
                for (int i = 0; i < count; i++) BinaryPrimitives.WriteUInt64LittleEndian(span[(i * 8)..], (ulong)uint64![i]);
                break;
            case DataType.Int32:
                Check(int32?.Count ?? 0, count);
                for (int i = 0; i < count; i++) BinaryPrimitives.WriteInt32LittleEndian(span[(i * 4)..], (int)int32![i]);
                break;
            case DataType.Int16:
            case DataType.UInt16:
            case DataType.Float16:
            case DataType.BFloat16:
                Check(int32?.Count ?? 0, count);
                for (int i = 0; i < count; i++) BinaryPrimitives.WriteUInt16LittleEndian(span[(i * 2)..], (ushort)int32![i]);
                break;
            default:
                // One byte per int32 entry: 8-bit types one element each; 4-bit types a packed pair each.
                Check(int32?.Count ?? 0, expected);
                for (int i = 0; i < expected; i++) bytes[i] = (byte)int32![i];
                break;
        }
        return new ArrayTensorData(bytes);

        void Check(long have, long need)
        {
            if (have != need) throw site.Fail($"holds {have} typed values, its dims need {need}");
        }
    }

    private (string Name, SparseTensorConstant Constant) ImportSparse(Slice s, string what, string? scope)
    {
        var r = Reader(s);
        Slice? values = null, indices = null;
        var dims = new List<long>();
        while (r.Next())
        {
            switch (r.Field)
            {
                case SparseTensorProto.ValuesFieldNumber: values = r.ReadSlice(); break;
                case SparseTensorProto.IndicesFieldNumber: indices = r.ReadSlice(); break;
                case SparseTensorProto.DimsFieldNumber: r.ReadRepeatedVarint(dims); break;
                default: r.Skip(); break;
            }
        }
        if (values is null) throw Fail($"{what} has no values", scope);
        if (indices is null) throw Fail($"{what} has no indices", scope);
        var (name, v) = ImportTensor(values.Value, what + " values", scope, named: true);
        var (_, i) = ImportTensor(indices.Value, what + " indices", scope, named: true);
        return (name, new SparseTensorConstant(v, i, [.. dims]));
    }

    private TensorData ReadExternal(List<KeyValuePair<string, string>> entries, DataType type, long count, TensorSite site)
    {
        string? location = null;
        long offset = 0;
        long? length = null;
        foreach (var e in entries)
        {
            switch (e.Key)
            {
                case "location": location = e.Value; break;
                case "offset": offset = ParseLong(e.Value, "offset"); break;
                case "length": length = ParseLong(e.Value, "length"); break;
            }
        }
        if (string.IsNullOrEmpty(location)) throw site.Fail("is stored externally but names no location");
        if (Path.IsPathRooted(location)) throw site.Fail($"names external data by the absolute path '{location}'; locations must be relative to the model's folder");
        var path = Path.GetFullPath(Path.Combine(_baseDir, location));
        var root = Path.GetFullPath(_baseDir).TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
        if (!path.StartsWith(root, StringComparison.Ordinal)) throw site.Fail($"names external data '{location}' outside the model's folder");
        if (!_mapped.TryGetValue(path, out var file))
        {
            if (!File.Exists(path)) throw site.Fail($"needs the external-data file '{location}', which does not exist (looked in {_baseDir})");
            try
            {
                file = new MappedFile(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw site.Fail($"cannot map the external-data file '{location}': {e.Message}");
            }
            _mapped[path] = file;
        }
        long need = type == DataType.String ? throw site.Fail("is a string tensor stored externally, which ONNX does not allow") : type.RawByteCount(count);
        long len = length ?? need;
        if (offset < 0 || offset > file.Length) throw site.Fail($"external data offset {offset} lies past the end of '{location}' ({file.Length} bytes)");
        if (len < 0 || offset + len > file.Length) throw site.Fail($"external data [{offset}, {offset + len}) runs past the end of '{location}' ({file.Length} bytes)");
        if (len != need) throw site.Fail($"external data length {len} does not match the {need} bytes its dims need");
        return new MappedTensorData(file, offset, len);

        long ParseLong(string s, string key) =>
            long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v)
                ? v : throw site.Fail($"has external_data {key} '{s}', which is not an integer");
    }

    /// <summary>Names a tensor in error messages; the message is only built when an error is raised.</summary>
    private readonly record struct TensorSite(OnnxImporter Importer, string What, string? Name, bool Named, string? Scope)
    {
        public OnnxImportException Fail(string reason) => Importer.Fail($"{(Named ? What : $"{What} '{Name}'")} {reason}", Scope);
    }
}
