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
/// length is computed twice and no message is built in memory.</item>
/// </list>
/// The output is either one buffer of exactly the counted size or a window that drains into a stream. A
/// <i>deferred section</i> lets the walk produce records before their place in the output (they are kept in a
/// side buffer until placed).
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

    // Writing state: the output buffer (the whole output, or a window that drains into the sink).
    private byte[] _buf = [];
    private int _pos;
    private Stream? _sink;
    private long _flushed;
    private int _cursor;

    // Deferred sections (innermost last), and the main output saved while one is being filled.
    private long[] _sectionSize = new long[4];
    private byte[]?[] _sectionBuf = new byte[]?[4];
    private int[] _sectionLength = new int[4];
    private int _sections;
    private bool _inSection;
    private long _mainSize;
    private byte[] _mainBuf = [];
    private int _mainPos;

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
        if (_depth != 0 || _sections != 0 || _inSection) throw new InvalidOperationException("the sizing pass left a message or section open");
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
        if (_sections != 0 || _inSection) throw new InvalidOperationException("the writing pass left a deferred section open");
        if (_cursor != _count || Written != _size)
            throw new InvalidOperationException(
                $"the writing pass does not match the sizing pass: {Written} of {_size} bytes, {_cursor} of {_count} message lengths");
        _sink = null;
        _buf = [];
    }

    /// <summary>Forgets everything and starts a new sizing pass (for a scratch emitter used many times).</summary>
    public void Reset()
    {
        if (_inSection || _sections != 0) throw new InvalidOperationException("a deferred section is open");
        if (_lengths.Length == 0) _lengths = ArrayPool<int>.Shared.Rent(1024);
        _sizing = true;
        _size = 0;
        _count = 0;
        _depth = 0;
        _buf = [];
        _pos = 0;
        _sink = null;
        _flushed = 0;
        _cursor = 0;
    }

    public void Dispose()
    {
        if (_lengths.Length > 0) ArrayPool<int>.Shared.Return(_lengths);
        _lengths = [];
        if (_inSection) EndSection();
        while (_sections > 0)
        {
            if (_sectionBuf[--_sections] is { } b) ArrayPool<byte>.Shared.Return(b);
            _sectionBuf[_sections] = null;
        }
    }

    // ---- deferred sections ----
    // Bytes produced now but placed later, such as a graph's value_info records, which come after its nodes,
    // initializers, inputs and outputs but are best produced while each node's results are at hand. Both passes
    // make the same calls, so the message lengths recorded inside a section are consumed in the same order.

    /// <summary>Starts a section (nested in any open one); fill it between <see cref="BeginSection"/> and
    /// <see cref="EndSection"/>, place it with <see cref="CloseSection"/>.</summary>
    public void OpenSection()
    {
        if (_sections == _sectionSize.Length)
        {
            Array.Resize(ref _sectionSize, _sections * 2);
            Array.Resize(ref _sectionBuf, _sections * 2);
            Array.Resize(ref _sectionLength, _sections * 2);
        }
        _sectionSize[_sections] = 0;
        _sectionBuf[_sections] = null;
        _sectionLength[_sections] = 0;
        _sections++;
    }

    /// <summary>Sends what follows to the innermost open section.</summary>
    public void BeginSection()
    {
        if (_inSection || _sections == 0) throw new InvalidOperationException("no section to fill, or one is being filled");
        _inSection = true;
        int s = _sections - 1;
        if (_sizing)
        {
            _mainSize = _size;
            _size = _sectionSize[s];
            return;
        }
        _mainBuf = _buf;
        _mainPos = _pos;
        _buf = _sectionBuf[s] ??= ArrayPool<byte>.Shared.Rent(1 << 12);
        _pos = _sectionLength[s];
    }

    /// <summary>Returns to the main output.</summary>
    public void EndSection()
    {
        _inSection = false;
        int s = _sections - 1;
        if (_sizing)
        {
            _sectionSize[s] = _size;
            _size = _mainSize;
            return;
        }
        _sectionBuf[s] = _buf;
        _sectionLength[s] = _pos;
        _buf = _mainBuf;
        _pos = _mainPos;
        _mainBuf = [];
    }

    /// <summary>Places the innermost section's content here and discards the section.</summary>
    public void CloseSection()
    {
        if (_inSection || _sections == 0) throw new InvalidOperationException("no section to close, or one is being filled");
        int s = --_sections;
        if (_sizing)
        {
            _size += _sectionSize[s];
            return;
        }
        if (_sectionBuf[s] is { } b)
        {
            WriteRaw(b.AsSpan(0, _sectionLength[s]));
            ArrayPool<byte>.Shared.Return(b);
            _sectionBuf[s] = null;
        }
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
        Ensure(length);
        if (length <= _buf.Length - _pos)
        {
            _pos += Utf8.GetBytes(value, _buf.AsSpan(_pos));
            return;
        }
        // Larger than the streaming buffer.
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

    /// <summary>A string field holding an IR name: its original UTF-8 bytes when it still has them (no encoding).</summary>
    public void Name(int field, in LazyName name)
    {
        if (name.TryGetUtf8(out var utf8)) Bytes(field, utf8);
        else String(field, name.Text);
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
        if (_sink is not null && !_inSection && length > DirectCopyThreshold)
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

    /// <summary>Makes room for <paramref name="bytes"/> more bytes where the output allows: a section grows, a
    /// streaming window drains into the sink (a write larger than the window is handled by the caller).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Ensure(int bytes)
    {
        if (_buf.Length - _pos < bytes) MakeRoom(bytes);
    }

    private void MakeRoom(int bytes)
    {
        if (_inSection)
        {
            var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min(Array.MaxLength, Math.Max(2L * _buf.Length, (long)_pos + bytes)));
            _buf.AsSpan(0, _pos).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buf);
            _buf = bigger;
        }
        else if (_sink is not null)
        {
            Flush();
        }
        // Otherwise the buffer holds exactly the counted output: a write that does not fit means the passes
        // disagree, which the bounds checks or FinishWriting report.
    }

    private void Flush()
    {
        _sink!.Write(_buf, 0, _pos);
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
        Ensure(bytes.Length);
        if (bytes.Length <= _buf.Length - _pos)
        {
            bytes.CopyTo(_buf.AsSpan(_pos));
            _pos += bytes.Length;
            return;
        }
        if (_sink is null || _inSection) throw new InvalidOperationException("the writing pass produced more bytes than the sizing pass counted");
        // Larger than the streaming window (which MakeRoom has just drained).
        _sink.Write(bytes);
        _flushed += bytes.Length;
    }
}
