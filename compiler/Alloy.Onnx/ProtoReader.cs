using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Alloy.Onnx;

/// <summary>The bytes are not valid protobuf wire format (truncated, malformed varint, bad wire type).</summary>
public sealed class ProtoFormatException(string message) : Exception(message);

/// <summary>A length-delimited payload: where it lies in the buffer being read.</summary>
internal readonly record struct Slice(int Offset, int Length);

/// <summary>Protobuf wire types.</summary>
internal enum WireType
{
    Varint = 0,
    Fixed64 = 1,
    LengthDelimited = 2,
    StartGroup = 3,
    EndGroup = 4,
    Fixed32 = 5,
}

/// <summary>
/// A forward-only protobuf wire-format reader over one message's bytes. Every read checks bounds and throws
/// <see cref="ProtoFormatException"/> on truncated or malformed input.
/// </summary>
internal ref struct ProtoReader
{
    private readonly ReadOnlySpan<byte> _data;
    private int _pos;
    private uint _tag;

    private readonly int _base;
    private int _tagStart;

    /// <summary>Reads the message <paramref name="buffer"/>[offset, offset + length); slices are reported as offsets into <paramref name="buffer"/>.</summary>
    public ProtoReader(ReadOnlySpan<byte> buffer, int offset, int length)
    {
        _data = buffer.Slice(offset, length);
        _base = offset;
        _pos = 0;
        _tag = 0;
        _tagStart = 0;
    }

    public ProtoReader(ReadOnlySpan<byte> data) : this(data, 0, data.Length) { }

    /// <summary>Offset (within this message) where the current field's tag starts.</summary>
    public readonly int TagStart => _tagStart;

    /// <summary>Offset of the next unread byte within this message.</summary>
    public readonly int Position => _pos;

    public readonly int Field => (int)(_tag >> 3);
    public readonly WireType WireType => (WireType)(_tag & 7);

    /// <summary>Advances to the next field; false at the end of the message.</summary>
    public bool Next()
    {
        if (_pos >= _data.Length) return false;
        _tagStart = _pos;
        _tag = (uint)ReadVarint();
        if ((_tag >> 3) == 0) throw new ProtoFormatException($"field number 0 at byte {_pos}");
        return true;
    }

    public ulong ReadVarint()
    {
        ulong result = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (_pos >= _data.Length) throw new ProtoFormatException("truncated varint");
            byte b = _data[_pos++];
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return result;
        }
        throw new ProtoFormatException("malformed varint (more than 10 bytes)");
    }

    public long ReadInt64() { Expect(WireType.Varint); return (long)ReadVarint(); }
    public int ReadInt32() { Expect(WireType.Varint); return (int)ReadVarint(); }

    public float ReadFloat()
    {
        Expect(WireType.Fixed32);
        return BinaryPrimitives.ReadSingleLittleEndian(Take(4));
    }

    /// <summary>The payload of a length-delimited field.</summary>
    public ReadOnlySpan<byte> ReadBytes()
    {
        Expect(WireType.LengthDelimited);
        ulong len = ReadVarint();
        if (len > (ulong)(_data.Length - _pos)) throw new ProtoFormatException($"truncated message: a field of {len} bytes runs past the end");
        return Take((int)len);
    }

    /// <summary>Where a length-delimited payload lies in the whole buffer; the field is consumed.</summary>
    public Slice ReadSlice()
    {
        Expect(WireType.LengthDelimited);
        ulong len = ReadVarint();
        if (len > (ulong)(_data.Length - _pos)) throw new ProtoFormatException($"truncated message: a field of {len} bytes runs past the end");
        int start = _pos;
        _pos += (int)len;
        return new Slice(_base + start, (int)len);
    }

    /// <summary>The bytes of this message from <paramref name="from"/> to the current position (for keeping fields verbatim).</summary>
    public readonly ReadOnlySpan<byte> Since(int from) => _data[from.._pos];

    public string ReadString() => Utf8.GetString(ReadBytes());

    private static readonly UTF8Encoding Utf8 = new(false, false);

    /// <summary>Skips the current field, whatever its wire type.</summary>
    public void Skip()
    {
        switch (WireType)
        {
            case WireType.Varint: ReadVarint(); break;
            case WireType.Fixed64: Take(8); break;
            case WireType.Fixed32: Take(4); break;
            case WireType.LengthDelimited:
                ulong len = ReadVarint();
                if (len > (ulong)(_data.Length - _pos)) throw new ProtoFormatException($"truncated message: a field of {len} bytes runs past the end");
                _pos += (int)len;
                break;
            case WireType.StartGroup:
                int field = Field;
                while (true)
                {
                    if (!Next()) throw new ProtoFormatException("truncated group");
                    if (WireType == WireType.EndGroup)
                    {
                        if (Field != field) throw new ProtoFormatException("mismatched end group");
                        break;
                    }
                    Skip();
                }
                break;
            default:
                throw new ProtoFormatException($"invalid wire type {(int)WireType}");
        }
    }

    /// <summary>Reads a repeated int64/int32 field given packed or unpacked, appending to <paramref name="into"/>.</summary>
    public void ReadRepeatedVarint(List<long> into)
    {
        if (WireType == WireType.LengthDelimited)
        {
            var inner = new ProtoReader(ReadBytes());
            while (inner._pos < inner._data.Length) into.Add((long)inner.ReadVarint());
        }
        else
        {
            into.Add(ReadInt64());
        }
    }

    /// <summary>Reads a repeated fixed-width field (packed or not), appending its little-endian bytes to <paramref name="into"/>.</summary>
    public void ReadRepeatedFixed(WireType elementType, ArrayBufferWriter<byte> into)
    {
        int size = elementType == WireType.Fixed32 ? 4 : 8;
        if (WireType == WireType.LengthDelimited)
        {
            var bytes = ReadBytes();
            if (bytes.Length % size != 0) throw new ProtoFormatException("packed fixed-width field has a partial element");
            into.Write(bytes);
        }
        else
        {
            Expect(elementType);
            into.Write(Take(size));
        }
    }

    private ReadOnlySpan<byte> Take(int n)
    {
        if (n > _data.Length - _pos) throw new ProtoFormatException("truncated message");
        var s = _data.Slice(_pos, n);
        _pos += n;
        return s;
    }

    private readonly void Expect(WireType wt)
    {
        if (WireType != wt) throw new ProtoFormatException($"field {Field} has wire type {(int)WireType}, expected {(int)wt}");
    }
}
