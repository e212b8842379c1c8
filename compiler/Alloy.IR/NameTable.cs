namespace Alloy.IR;

/// <summary>
/// A graph's names → values table. Values are chained through <see cref="Value.NextInScope"/> (no entry objects),
/// and the bucket array is split into chunks small enough to stay off the large-object heap: a graph of 100k
/// values allocates no array the garbage collector must treat as large. Hash codes are the runtime's randomized
/// string hash, so crafted names cannot force long chains. Names still held as UTF-8 bytes (<see cref="LazyName"/>)
/// are hashed and compared without being decoded into strings. Each value keeps the hash it was filed under
/// (<see cref="Value.NameHash"/>), so a walk along a bucket compares hash codes and reads another value's name bytes
/// only when the codes are equal, and growing the table hashes no name again.
/// </summary>
internal sealed class NameTable
{
    private const int ChunkBits = 12;
    private const int ChunkSize = 1 << ChunkBits;
    private const int MinBuckets = 8;

    private Value?[][] _chunks = [];
    private int _buckets;
    private int _count;

    public int Count => _count;

    public Value? Find(string name) => Find(name.AsSpan());

    public Value? Find(ReadOnlySpan<char> name)
    {
        if (_count == 0) return null;
        int hash = string.GetHashCode(name);
        for (var v = Bucket(hash); v is not null; v = v.NextInScope)
            if (v.NameHash == hash && v.NameText.Equals(name)) return v;
        return null;
    }

    /// <summary>The value whose name is <paramref name="name"/>, which may still be UTF-8 bytes.</summary>
    public Value? Find(in LazyName name)
    {
        if (_count == 0) return null;
        int hash = name.Hash();
        for (var v = Bucket(hash); v is not null; v = v.NextInScope)
            if (v.NameHash == hash && v.NameText.Equals(in name)) return v;
        return null;
    }

    /// <summary>Adds <paramref name="value"/> under its name; false when the name is taken.</summary>
    public bool TryAdd(Value value)
    {
        ref readonly var name = ref value.NameText;
        int hash = name.Hash();
        if (_count > 0)
        {
            for (var v = Bucket(hash); v is not null; v = v.NextInScope)
                if (v.NameHash == hash && v.NameText.Equals(in name)) return false;
        }
        if (_count >= _buckets) Resize(Math.Max(MinBuckets, _buckets * 2));
        ref var head = ref Bucket(hash);
        value.NameHash = hash;
        value.NextInScope = head;
        head = value;
        _count++;
        return true;
    }

    /// <summary>Removes <paramref name="value"/> (found by its name); false when the table does not hold it.</summary>
    public bool Remove(Value value)
    {
        if (_count == 0) return false;
        ref var link = ref Bucket(value.NameHash);
        while (link is { } v)
        {
            if (ReferenceEquals(v, value))
            {
                link = v.NextInScope;
                v.NextInScope = null;
                _count--;
                return true;
            }
            link = ref v.NextInScope;
        }
        return false;
    }

    /// <summary>Makes room for <paramref name="count"/> values in all without growing again.</summary>
    public void EnsureCapacity(int count)
    {
        if (count <= _buckets) return;
        int buckets = MinBuckets;
        while (buckets < count && buckets < 1 << 30) buckets <<= 1;
        Resize(buckets);
    }

    private ref Value? Bucket(int hash)
    {
        int b = hash & (_buckets - 1);
        return ref _chunks[b >> ChunkBits][b & (ChunkSize - 1)];
    }

    private void Resize(int buckets)
    {
        var old = _chunks;
        int chunk = Math.Min(buckets, ChunkSize);
        var chunks = new Value?[buckets / chunk][];
        for (int i = 0; i < chunks.Length; i++) chunks[i] = new Value?[chunk];
        _chunks = chunks;
        _buckets = buckets;
        foreach (var c in old)
        {
            foreach (var first in c)
            {
                for (var v = first; v is not null;)
                {
                    var next = v.NextInScope;
                    ref var head = ref Bucket(v.NameHash);
                    v.NextInScope = head;
                    head = v;
                    v = next;
                }
            }
        }
    }
}
