using Alloy.IR;

namespace Alloy.Onnx;

/// <summary>
/// Copies of the names an import keeps as UTF-8 (<see cref="LazyName"/>), packed into shared 32 KiB chunks: a
/// model's names cost a few bytes each and one array per thousands of names, and the imported model does not keep
/// the file's byte array (with its embedded weights) alive. Chunks stay below the large-object threshold.
/// </summary>
internal sealed class NameArena
{
    private const int ChunkSize = 1 << 15;
    /// <summary>Longer names get an array of their own instead of wasting the rest of a chunk.</summary>
    private const int OwnArrayAbove = ChunkSize / 8;

    private byte[] _chunk = [];
    private int _used;

    /// <summary>A name holding a copy of <paramref name="utf8"/>, which must be valid UTF-8.</summary>
    public LazyName Add(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length > OwnArrayAbove)
        {
            var own = utf8.ToArray();
            return new LazyName(own, 0, own.Length);
        }
        if (utf8.Length > _chunk.Length - _used)
        {
            _chunk = new byte[ChunkSize];
            _used = 0;
        }
        utf8.CopyTo(_chunk.AsSpan(_used));
        var name = new LazyName(_chunk, _used, utf8.Length);
        _used += utf8.Length;
        return name;
    }
}
