using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Text;
using Alloy.IR;

namespace Alloy.Onnx;

/// <summary>
/// Protobuf wire-format primitives with two modes, driven by one walk over the data:
/// <list type="bullet">
/// <item><b>Sizing</b> adds up byte counts and records the length of every nested message in pre-order
/// (the order <see cref="BeginMessage"/> is called).</item>
/// <item><b>Writing</b> emits the bytes, taking each nested message's length prefix from that record, so no
/// length is computed twice and nothing is buffered per message.</item>
/// </list>
/// Encodings follow Google.Protobuf: varint tags, int32/enum values sign-extended to 64 bits, floats as
/// little-endian fixed32, strings as UTF-8 (<see cref="Encoding.UTF8"/>).
/// </summary>
internal sealed class ProtoEmitter : IDisposable
{
    private const int WireVarint = 0;
    private const int WireLengthDelimited = 2;
    private const int WireFixed32 = 5;
    /// <summary>Strings of fewer chars than this encode to under 128 bytes: a one-byte length prefix.</summary>
    private const int ShortStringChars = 128 / 3;
    /// <summary>Tensor data above this many bytes goes straight to the output stream instead of through the buffer.</summary>
    private const int DirectCopyThreshold = 1 << 16;
    private const int SliceChunk = 1 << 24;

    private static readonly Encoding Utf8 = Encoding.UTF8;

    private bool _sizing = true;

    // Sizing state.
    private long _size;
    private int[] _lengths = ArrayPool<int>.Shared.Rent(1024);
    private int _count;
    private long[] _openSize = new long[16];
    private int[] _openIndex = new int[16];
    private int _depth;

    // Writing state.
    private byte[] _buf = [];
    private int _pos;
    private Stream? _sink;
    private long _flushed;
    private int _cursor;

    /// <summary>True in the sizing pass.</summary>
    public bool IsSizing => _sizing;

    /// <summary>Bytes counted by the sizing pass.</summary>
    public long Size => _size;

    /// <summary>Bytes emitted so far by the writing pass.</summary>
    public long Written => _flushed + _pos;

    /// <summary>Ends the sizing pass (every message closed) and starts writing into <paramref name="buffer"/>; when it
    /// fills, its bytes go to <paramref name="sink"/> (without a sink the buffer must hold the whole output).</summary>
    public void StartWriting(byte[] buffer, Stream? sink)
    {
        if (!_sizing) throw new InvalidOperationException("the writing pass has already started");
        if (_depth != 0) throw new InvalidOperationException("the sizing pass left a message open");
        _sizing = false;
        _buf = buffer;
        _pos = 0;
        _sink = sink;
        _flushed = 0;
        _cursor = 0;
    }

    /// <summary>Passes the buffered bytes to the sink and checks the writing pass emitted exactly what the sizing pass counted.</summary>
    public void FinishWriting()
    {
        if (_sink is not null) Flush();
        if (_cursor != _count || Written != _size)
            throw new InvalidOperationException(
                $"the writing pass does not match the sizing pass: {Written} of {_size} bytes, {_cursor} of {_count} message lengths");
        _sink = null;
        _buf = [];
    }

    public void Dispose()
    {
        if (_lengths.Length > 0) ArrayPool<int>.Shared.Return(_lengths);
        _lengths = [];
    }

    // ---- messages ----

    /// <summary>Opens a nested message in field <paramref name="field"/>; close it with <see cref="EndMessage"/>.</summary>
    public void BeginMessage(int field)
    {
        if (_sizing)
        {
            _size += TagSize(field);
            if (_depth == _openSize.Length)
            {
                Array.Resize(ref _openSize, _depth * 2);
                Array.Resize(ref _openIndex, _depth * 2);
            }
            if (_count == _lengths.Length) GrowLengths();
            _openSize[_depth] = _size;
            _openIndex[_depth] = _count++;
            _depth++;
            _size = 0;
            return;
        }
        Ensure(15);
        WriteVarint(((uint)field << 3) | WireLengthDelimited);
        WriteVarint((uint)_lengths[_cursor++]);
    }

    public void EndMessage()
    {
        if (!_sizing) return;
        long length = _size;
        _depth--;
        // A message above 2 GiB makes the whole output too large; the caller rejects that before writing.
        _lengths[_openIndex[_depth]] = (int)Math.Min(length, int.MaxValue);
        _size = _openSize[_depth] + VarintSize((ulong)length) + length;
    }

    private void GrowLengths()
    {
        var bigger = ArrayPool<int>.Shared.Rent(_lengths.Length * 2);
        _lengths.AsSpan(0, _count).CopyTo(bigger);
        ArrayPool<int>.Shared.Return(_lengths);
        _lengths = bigger;
    }

    // ---- scalar fields ----

    public void Int64(int field, long value)
    {
        if (_sizing)
        {
            _size += TagSize(field) + VarintSize((ulong)value);
            return;
        }
        Ensure(15);
        WriteVarint(((uint)field << 3) | WireVarint);
        WriteVarint((ulong)value);
    }

    /// <summary>An int32 (or enum) field: negative values take ten bytes, as protobuf sign-extends them.</summary>
    public void Int32(int field, int value) => Int64(field, value);

    public void Float(int field, float value)
    {
        if (_sizing)
        {
            _size += TagSize(field) + 4;
            return;
        }
        Ensure(9);
        WriteVarint(((uint)field << 3) | WireFixed32);
        BinaryPrimitives.WriteSingleLittleEndian(_buf.AsSpan(_pos, 4), value);
        _pos += 4;
    }

    // ---- length-delimited fields ----

    /// <summary>A string field, UTF-8 encoded.</summary>
    public void String(int field, string value)
    {
        if (_sizing)
        {
            int n = Utf8Length(value);
            _size += TagSize(field) + VarintSize((uint)n) + n;
            return;
        }
        Ensure(5);
        WriteVarint(((uint)field << 3) | WireLengthDelimited);
        if (value.Length < ShortStringChars && _buf.Length - _pos > value.Length * 3)
        {
            // At most 3 bytes per UTF-16 unit, so the length fits one byte: encode first, then fill in the length.
            var buf = _buf;
            int start = _pos + 1, p = start;
            foreach (char c in value)
            {
                if (c >= 0x80)
                {
                    p = start + Utf8.GetBytes(value, buf.AsSpan(start));
                    break;
                }
                buf[p++] = (byte)c;
            }
            buf[_pos] = (byte)(p - start);
            _pos = p;
            return;
        }
        int length = Utf8.GetByteCount(value);
        Ensure(5);
        WriteVarint((uint)length);
        if (length <= _buf.Length - _pos)
        {
            _pos += Utf8.GetBytes(value, _buf.AsSpan(_pos));
            return;
        }
        Flush();
        if (length <= _buf.Length)
        {
            _pos += Utf8.GetBytes(value, _buf.AsSpan(_pos));
            return;
        }
        var temp = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            int n = Utf8.GetBytes(value, temp);
            WriteRaw(temp.AsSpan(0, n));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(temp);
        }
    }

    /// <summary>A string field holding the decimal digits of a non-negative number (no string is allocated).</summary>
    public void DecimalString(int field, long value)
    {
        if (value < 0) throw new ArgumentOutOfRangeException(nameof(value));
        int digits = 1;
        for (long v = value; v >= 10; v /= 10) digits++;
        if (_sizing)
        {
            _size += TagSize(field) + 1 + digits;
            return;
        }
        Ensure(6 + digits);
        WriteVarint(((uint)field << 3) | WireLengthDelimited);
        _buf[_pos++] = (byte)digits;
        for (int i = digits - 1; i >= 0; i--)
        {
            _buf[_pos + i] = (byte)('0' + value % 10);
            value /= 10;
        }
        _pos += digits;
    }

    /// <summary>A bytes field (also a serialized message written as a nested-message field).</summary>
    public void Bytes(int field, ReadOnlySpan<byte> value)
    {
        if (_sizing)
        {
            _size += TagSize(field) + VarintSize((uint)value.Length) + value.Length;
            return;
        }
        Ensure(10);
        WriteVarint(((uint)field << 3) | WireLengthDelimited);
        WriteVarint((uint)value.Length);
        WriteRaw(value);
    }

    /// <summary>A bytes field holding every byte of <paramref name="data"/>.</summary>
    public void Bytes(int field, TensorData data)
    {
        long length = data.ByteLength;
        if (_sizing)
        {
            _size += TagSize(field) + VarintSize((ulong)length) + length;
            return;
        }
        Ensure(15);
        WriteVarint(((uint)field << 3) | WireLengthDelimited);
        WriteVarint((ulong)length);
        if (data is ArrayTensorData a)
        {
            WriteRaw(a.Bytes);
            return;
        }
        if (_sink is not null && length > DirectCopyThreshold)
        {
            // Mapped data copies with ordinary file reads (TensorData.WriteTo), so the mapping's pages stay cold.
            Flush();
            data.WriteTo(_sink);
            _flushed += length;
            return;
        }
        for (long off = 0; off < length; off += SliceChunk)
            WriteRaw(data.Slice(off, (int)Math.Min(SliceChunk, length - off)));
    }

    /// <summary>Bytes copied to the output as they are (already-encoded fields).</summary>
    public void Raw(ReadOnlySpan<byte> bytes)
    {
        if (_sizing)
        {
            _size += bytes.Length;
            return;
        }
        WriteRaw(bytes);
    }

    // ---- sizes ----

    /// <summary>The UTF-8 byte count; short ASCII strings (most names) are counted without the encoder's overhead.</summary>
    private static int Utf8Length(string value)
    {
        if (value.Length < ShortStringChars)
        {
            foreach (char c in value)
                if (c >= 0x80) return Utf8.GetByteCount(value);
            return value.Length;
        }
        return Utf8.GetByteCount(value);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int VarintSize(ulong value) => (BitOperations.Log2(value | 1) * 9 + 73) >> 6;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int TagSize(int field) => VarintSize((uint)field << 3);

    // ---- output ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Ensure(int bytes)
    {
        if (_buf.Length - _pos < bytes) Flush();
    }

    private void Flush()
    {
        if (_sink is null)
        {
            // Writing into an exact-size buffer: only a sizing mismatch can run out of room.
            if (_pos < _buf.Length) return;
            throw new InvalidOperationException("the writing pass produced more bytes than the sizing pass counted");
        }
        _sink.Write(_buf, 0, _pos);
        _flushed += _pos;
        _pos = 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void WriteVarint(ulong value)
    {
        var buf = _buf;
        int pos = _pos;
        while (value >= 0x80)
        {
            buf[pos++] = (byte)(value | 0x80);
            value >>= 7;
        }
        buf[pos++] = (byte)value;
        _pos = pos;
    }

    private void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length <= _buf.Length - _pos)
        {
            bytes.CopyTo(_buf.AsSpan(_pos));
            _pos += bytes.Length;
            return;
        }
        if (_sink is null) throw new InvalidOperationException("the writing pass produced more bytes than the sizing pass counted");
        Flush();
        if (bytes.Length >= _buf.Length)
        {
            _sink.Write(bytes);
            _flushed += bytes.Length;
            return;
        }
        bytes.CopyTo(_buf);
        _pos = bytes.Length;
    }
}
