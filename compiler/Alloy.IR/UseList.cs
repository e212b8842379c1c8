namespace Alloy.IR;

/// <summary>
/// The use-list of one value, stored inside the value: the first use inline, later ones in an array. Most values
/// have exactly one use, so most values need no list object and no array. A value used very often (a weight shared
/// by thousands of nodes) keeps its uses in fixed-size chunks instead of one growing array, so no use-list reaches
/// the large-object heap, whose allocations trigger full garbage collections. Keep it in a field and mutate it in
/// place (it is a struct: a copy does not see later changes).
/// </summary>
internal struct UseList
{
    /// <summary>Uses per chunk: 4096 uses of 16 bytes stay below the large-object threshold (85,000 bytes).</summary>
    private const int ChunkBits = 12;
    private const int ChunkSize = 1 << ChunkBits;

    /// <summary>The first use, unpacked: its site (node or graph), and its kind and index in one number (kind in
    /// the low two bits), so the list takes 24 bytes of its value instead of 32.</summary>
    private object? _firstSite;
    private int _firstPacked;
    /// <summary>Uses 1 … Count-1: a <c>Use[]</c> of at most <see cref="ChunkSize"/> entries, or a <c>Use[][]</c> of
    /// chunks of exactly that many.</summary>
    private object? _rest;
    private int _count;

    public readonly int Count => _count;

    public Use this[int index]
    {
        readonly get
        {
            if ((uint)index >= (uint)_count) throw new ArgumentOutOfRangeException(nameof(index));
            return index == 0 ? First : RestSlot(index - 1);
        }
        set
        {
            if ((uint)index >= (uint)_count) throw new ArgumentOutOfRangeException(nameof(index));
            if (index == 0) First = value;
            else RestSlot(index - 1) = value;
        }
    }

    private Use First
    {
        readonly get => new((UseKind)(_firstPacked & 3), _firstSite as Node, _firstSite as Graph, (int)((uint)_firstPacked >> 2));
        set
        {
            if ((uint)value.Index >= 1u << 30) throw new IrException($"use index {value.Index} is beyond the IR's limit of 2^30");
            _firstSite = value.Site;
            _firstPacked = value.Index << 2 | (int)value.Kind;
        }
    }

    private readonly ref Use RestSlot(int slot)
    {
        if (_rest is Use[] flat) return ref flat[slot];
        var chunks = (Use[][])_rest!;
        return ref chunks[slot >> ChunkBits][slot & (ChunkSize - 1)];
    }

    public void Add(Use use)
    {
        if (_count == 0)
        {
            First = use;
            _count = 1;
            return;
        }
        int slot = _count - 1;
        switch (_rest)
        {
            case null:
                _rest = new Use[2] { use, default };
                break;
            case Use[] flat when slot < flat.Length:
                flat[slot] = use;
                break;
            case Use[] flat when flat.Length < ChunkSize:
                Array.Resize(ref flat, Math.Min(flat.Length * 2, ChunkSize));
                flat[slot] = use;
                _rest = flat;
                break;
            case Use[] full:
                // A full chunk: from here on, a list of chunks.
                var chunks = new Use[4][];
                chunks[0] = full;
                chunks[1] = new Use[ChunkSize];
                chunks[1][0] = use;
                _rest = chunks;
                break;
            default:
                var list = (Use[][])_rest;
                int chunk = slot >> ChunkBits;
                if (chunk == list.Length) Array.Resize(ref list, list.Length * 2);
                list[chunk] ??= new Use[ChunkSize];
                list[chunk][slot & (ChunkSize - 1)] = use;
                _rest = list;
                break;
        }
        _count++;
    }

    public readonly int IndexOf(Use use)
    {
        if (_count == 0) return -1;
        if (First == use) return 0;
        for (int i = 1; i < _count; i++)
            if (RestSlot(i - 1) == use) return i;
        return -1;
    }

    public readonly bool Contains(Use use) => IndexOf(use) >= 0;

    /// <summary>Removes the first occurrence of <paramref name="use"/>, keeping the order of the others.</summary>
    public bool Remove(Use use)
    {
        int index = IndexOf(use);
        if (index < 0) return false;
        for (int i = index; i < _count - 1; i++) this[i] = this[i + 1];
        if (_count > 1) RestSlot(_count - 2) = default;
        else First = default;
        _count--;
        return true;
    }

    public readonly Use[] ToArray()
    {
        var all = new Use[_count];
        for (int i = 0; i < _count; i++) all[i] = this[i];
        return all;
    }
}
