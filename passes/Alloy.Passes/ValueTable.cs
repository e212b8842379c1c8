using Alloy.IR;

namespace Alloy.Passes;

/// <summary>
/// A value-keyed side table for one pass run, without hashing: each value's slot is kept in its
/// <see cref="Value.Scratch"/>, and a slot counts only when the table's value at that slot is the value itself, so
/// numbers left in <see cref="Value.Scratch"/> by earlier passes are harmless. Entries are stored densely in
/// insertion order. A value may be in only one live table (or other <see cref="Value.Scratch"/> user) at a time.
/// </summary>
internal sealed class ValueTable<T>
{
    private readonly List<Value> _keys = [];
    private readonly List<T> _items = [];

    public int Count => _keys.Count;

    private int SlotOf(Value v)
    {
        int slot = v.Scratch;
        return (uint)slot < (uint)_keys.Count && ReferenceEquals(_keys[slot], v) ? slot : -1;
    }

    public bool TryGetValue(Value v, out T item)
    {
        int slot = SlotOf(v);
        if (slot < 0)
        {
            item = default!;
            return false;
        }
        item = _items[slot];
        return true;
    }

    /// <summary>Adds the entry unless the value has one; false when it had.</summary>
    public bool TryAdd(Value v, T item)
    {
        if (SlotOf(v) >= 0) return false;
        v.Scratch = _keys.Count;
        _keys.Add(v);
        _items.Add(item);
        return true;
    }
}
