using System.Buffers;
using System.IO.MemoryMappedFiles;
using Microsoft.Win32.SafeHandles;
using System.Security.Cryptography;

namespace Alloy.IR;

/// <summary>
/// The bytes of a constant tensor in ONNX's little-endian raw layout (or its strings). Data may live in
/// managed memory or in a memory-mapped file region; it is read through spans of at most 1 GiB so tensors
/// above 2 GiB work.
/// </summary>
public abstract class TensorData
{
    private string? _digest;

    /// <summary>Length in bytes of the raw layout (0 for string data).</summary>
    public abstract long ByteLength { get; }

    /// <summary>True when the bytes are available (false for digest-only data parsed from text).</summary>
    public virtual bool HasBytes => true;

    /// <summary>A view of <paramref name="length"/> bytes starting at <paramref name="offset"/>.</summary>
    public abstract ReadOnlySpan<byte> Slice(long offset, int length);

    /// <summary>All bytes; only for data below 2 GiB.</summary>
    public ReadOnlySpan<byte> AsSpan() =>
        ByteLength <= int.MaxValue ? Slice(0, (int)ByteLength) : throw new InvalidOperationException($"tensor of {ByteLength} bytes does not fit one span");

    /// <summary>Writes every byte to <paramref name="stream"/> in chunks.</summary>
    public virtual void WriteTo(Stream stream)
    {
        const int chunk = 1 << 24;
        for (long off = 0; off < ByteLength; off += chunk)
            stream.Write(Slice(off, (int)Math.Min(chunk, ByteLength - off)));
    }

    /// <summary>Lower-case hex SHA-256 of the bytes (computed once, in chunks).</summary>
    public virtual string Sha256
    {
        get
        {
            if (_digest is not null) return _digest;
            using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            AppendHash(h);
            return _digest = Convert.ToHexStringLower(h.GetHashAndReset());
        }
    }

    protected virtual void AppendHash(IncrementalHash h)
    {
        const int chunk = 1 << 24;
        for (long off = 0; off < ByteLength; off += chunk)
            h.AppendData(Slice(off, (int)Math.Min(chunk, ByteLength - off)));
    }

    public bool ContentEquals(TensorData other)
    {
        if (ByteLength != other.ByteLength) return false;
        // Digest-only data carries a prefix of the SHA-256; compare as much as both sides have.
        if (!HasBytes || !other.HasBytes) return Sha256.StartsWith(other.Sha256, StringComparison.Ordinal) || other.Sha256.StartsWith(Sha256, StringComparison.Ordinal);
        const int chunk = 1 << 24;
        for (long off = 0; off < ByteLength; off += chunk)
        {
            int n = (int)Math.Min(chunk, ByteLength - off);
            if (!Slice(off, n).SequenceEqual(other.Slice(off, n))) return false;
        }
        return true;
    }
}

/// <summary>Raw bytes held in a managed array.</summary>
public sealed class ArrayTensorData(byte[] bytes) : TensorData
{
    public static readonly ArrayTensorData Empty = new([]);
    public byte[] Bytes { get; } = bytes;
    public override long ByteLength => Bytes.LongLength;
    public override ReadOnlySpan<byte> Slice(long offset, int length) => Bytes.AsSpan(checked((int)offset), length);
}

/// <summary>Raw bytes that live in a region of a memory-mapped file.</summary>
public sealed unsafe class MappedTensorData : TensorData
{
    private readonly MappedFile _file;

    public MappedTensorData(MappedFile file, long offset, long length)
    {
        if (offset < 0 || length < 0 || offset + length > file.Length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"region [{offset}, {offset + length}) lies outside '{file.Path}' ({file.Length} bytes)");
        _file = file;
        Offset = offset;
        ByteLength = length;
    }

    public MappedFile File => _file;
    public long Offset { get; }
    public override long ByteLength { get; }

    public override ReadOnlySpan<byte> Slice(long offset, int length)
    {
        if (offset < 0 || length < 0 || offset + length > ByteLength) throw new ArgumentOutOfRangeException(nameof(offset));
        return new ReadOnlySpan<byte>(_file.Pointer + Offset + offset, length);
    }

    /// <summary>Copies with ordinary file reads: copying through the mapping would make every page resident.</summary>
    public override void WriteTo(Stream stream) => _file.CopyTo(stream, Offset, ByteLength);

    protected override void AppendHash(IncrementalHash h) => _file.Read(Offset, ByteLength, chunk => h.AppendData(chunk));
}

/// <summary>String elements (ONNX strings are byte strings; Alloy keeps them as UTF-8 text).</summary>
public sealed class StringTensorData(IReadOnlyList<byte[]> strings) : TensorData
{
    public IReadOnlyList<byte[]> Strings { get; } = strings;
    public override long ByteLength => 0;
    public override ReadOnlySpan<byte> Slice(long offset, int length) =>
        length == 0 ? ReadOnlySpan<byte>.Empty : throw new InvalidOperationException("string tensors have no raw bytes");

    public override void WriteTo(Stream stream) => throw new InvalidOperationException("string tensors have no raw bytes");

    protected override void AppendHash(IncrementalHash h)
    {
        Span<byte> len = stackalloc byte[8];
        foreach (var s in Strings)
        {
            BitConverter.TryWriteBytes(len, (long)s.Length);
            h.AppendData(len);
            h.AppendData(s);
        }
    }
}

/// <summary>Data known only by its digest and length (from the IR text form of a large constant).</summary>
public sealed class DigestTensorData(string sha256Prefix, long byteLength) : TensorData
{
    public override long ByteLength { get; } = byteLength;
    public override bool HasBytes => false;
    public override string Sha256 { get; } = sha256Prefix;
    public override ReadOnlySpan<byte> Slice(long offset, int length) =>
        throw new InvalidOperationException("this constant was read from IR text that holds only its digest; its bytes are not available");
}

/// <summary>
/// A whole file mapped read-only into memory, plus a read handle for streaming copies; disposed with the model
/// that owns it. Both refer to the file that was opened even after its path is replaced (for example by saving
/// a model over its own data file).
/// </summary>
public sealed unsafe class MappedFile : IDisposable
{
    private const int CopyChunk = 1 << 20;
    private readonly SafeFileHandle _handle;
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private byte* _pointer;

    public MappedFile(string path)
    {
        Path = path;
        _handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        Length = RandomAccess.GetLength(_handle);
        if (Length == 0) return;
        _map = MemoryMappedFile.CreateFromFile(_handle, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: true);
        _view = _map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref _pointer);
        _pointer += _view.PointerOffset;
    }

    public string Path { get; }
    public long Length { get; }
    public byte* Pointer => _pointer;

    /// <summary>Reads [offset, offset + length) in chunks with ordinary reads, handing each chunk to <paramref name="sink"/>.</summary>
    public void Read(long offset, long length, Action<ReadOnlySpan<byte>> sink)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(CopyChunk);
        try
        {
            for (long pos = 0; pos < length;)
            {
                int n = RandomAccess.Read(_handle, buffer.AsSpan(0, (int)Math.Min(CopyChunk, length - pos)), offset + pos);
                if (n <= 0) throw new IOException($"'{Path}' ended before byte {offset + length}");
                sink(buffer.AsSpan(0, n));
                pos += n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public void CopyTo(Stream stream, long offset, long length) => Read(offset, length, stream.Write);

    public void Dispose()
    {
        if (_view is not null && _pointer != null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _pointer = null;
        }
        _view?.Dispose();
        _map?.Dispose();
        _handle.Dispose();
    }
}
