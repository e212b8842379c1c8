using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Runtime.InteropServices;
using Alloy.IR;
using Alloy.Onnx.Proto;
using Google.Protobuf;

namespace Alloy.Onnx;

/// <summary>Converts between ONNX <c>TensorProto</c> and <see cref="TensorConstant"/> (raw little-endian bytes).</summary>
internal static class TensorProtoCodec
{
    /// <summary>Reads the element data of an embedded (non-external) tensor as raw bytes.</summary>
    public static TensorData ReadEmbedded(TensorProto t, DataType type, long count, Func<string, Exception> fail)
    {
        var f = type.Facts();
        if (f.Kind == NumberKind.String)
        {
            if (t.StringData.Count != count) throw fail($"holds {t.StringData.Count} strings, its dims need {count}");
            return new StringTensorData(t.StringData.Select(s => s.ToByteArray()).ToArray());
        }
        long expected = type.RawByteCount(count);
        if (t.HasRawData)
        {
            if (t.RawData.Length != expected) throw fail($"raw_data has {t.RawData.Length} bytes, its dims need {expected}");
            return new ArrayTensorData(t.RawData.ToByteArray());
        }
        var bytes = new byte[expected];
        var span = bytes.AsSpan();
        switch (type)
        {
            case DataType.Float:
            case DataType.Complex64:
                CheckCount(t.FloatData.Count, expected / 4);
                MemoryMarshal.AsBytes(ToArray(t.FloatData).AsSpan()).CopyTo(span);
                break;
            case DataType.Double:
            case DataType.Complex128:
                CheckCount(t.DoubleData.Count, expected / 8);
                MemoryMarshal.AsBytes(ToArray(t.DoubleData).AsSpan()).CopyTo(span);
                break;
            case DataType.Int64:
                CheckCount(t.Int64Data.Count, count);
                MemoryMarshal.AsBytes(ToArray(t.Int64Data).AsSpan()).CopyTo(span);
                break;
            case DataType.UInt32:
                CheckCount(t.Uint64Data.Count, count);
                for (int i = 0; i < count; i++) BinaryPrimitives.WriteUInt32LittleEndian(span[(i * 4)..], (uint)t.Uint64Data[i]);
                break;
            case DataType.UInt64:
                CheckCount(t.Uint64Data.Count, count);
                MemoryMarshal.AsBytes(ToArray(t.Uint64Data).AsSpan()).CopyTo(span);
                break;
            case DataType.Int32:
                CheckCount(t.Int32Data.Count, count);
                MemoryMarshal.AsBytes(ToArray(t.Int32Data).AsSpan()).CopyTo(span);
                break;
            case DataType.Int16:
            case DataType.UInt16:
            case DataType.Float16:
            case DataType.BFloat16:
                CheckCount(t.Int32Data.Count, count);
                for (int i = 0; i < count; i++) BinaryPrimitives.WriteUInt16LittleEndian(span[(i * 2)..], (ushort)t.Int32Data[i]);
                break;
            default:
                // One byte per int32 entry: 8-bit types one element each; 4-bit types a packed pair each.
                CheckCount(t.Int32Data.Count, expected);
                for (int i = 0; i < expected; i++) bytes[i] = (byte)t.Int32Data[i];
                break;
        }
        return new ArrayTensorData(bytes);

        void CheckCount(int have, long need)
        {
            if (have != need) throw fail($"holds {have} typed values, its dims need {need}");
        }
    }

    private static T[] ToArray<T>(Google.Protobuf.Collections.RepeatedField<T> field)
    {
        var a = new T[field.Count];
        field.CopyTo(a, 0);
        return a;
    }

    /// <summary>Fills the type, dims and data fields of <paramref name="t"/>; data goes to raw_data (or string_data).</summary>
    public static void WriteEmbedded(TensorProto t, TensorConstant c)
    {
        t.DataType = (int)c.ElementType;
        t.Dims.AddRange(c.Dims);
        if (c.Data is StringTensorData s)
        {
            foreach (var b in s.Strings) t.StringData.Add(ByteString.CopyFrom(b));
            return;
        }
        if (!c.Data.HasBytes)
            throw new InvalidOperationException($"constant '{c.Name}' has no bytes (it was read from IR text holding only its digest)");
        t.RawData = UnsafeByteOperations.UnsafeWrap(c.Data is ArrayTensorData a ? a.Bytes : c.Data.AsSpan().ToArray());
    }

    public static ImmutableArray<long> Dims(Google.Protobuf.Collections.RepeatedField<long> dims) => [.. dims];
}
