namespace Alloy.IR;

/// <summary>
/// A graph's names → values table. Values are chained through <see cref="Value.NextInScope"/> (no entry objects),
/// and the bucket array is split into chunks small enough to stay off the large-object heap: a graph of 100k
/// values allocates no array the garbage collector must treat as large. Hash codes are the runtime's randomized
/// string hash, so crafted names cannot force long chains.
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
        for (var v = Bucket(string.GetHashCode(name)); v is not null; v = v.NextInScope)
            if (name.SequenceEqual(v.Name)) return v;
        return null;
    }

    /// <summary>Adds <paramref name="value"/> under its name; false when the name is taken.</summary>
    public bool TryAdd(Value value)
    {
        var name = value.Name;
        int hash = string.GetHashCode(name.AsSpan());
        if (_count > 0)
        {
            for (var v = Bucket(hash); v is not null; v = v.NextInScope)
                if (string.Equals(v.Name, name, StringComparison.Ordinal)) return false;
        }
        if (_count >= _buckets) Resize(Math.Max(MinBuckets, _buckets * 2));
        ref var head = ref Bucket(hash);
        value.NextInScope = head;
        head = value;
        _count++;
        return true;
    }

    /// <summary>Removes the value named <paramref name="name"/>; false when there is none.</summary>
    public bool Remove(string name)
    {
        if (_count == 0) return false;
        ref var link = ref Bucket(string.GetHashCode(name.AsSpan()));
        while (link is { } v)
        {
            if (string.Equals(v.Name, name, StringComparison.Ordinal))
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
                    ref var head = ref Bucket(string.GetHashCode(v.Name.AsSpan()));
                    v.NextInScope = head;
                    head = v;
                    v = next;
                }
            }
        }
    }
}
