namespace Alloy.IR;

/// <summary>
/// The use-list of one value, stored inside the value: the first use inline, later ones in an array. Most values
/// have exactly one use, so most values need no list object and no array. Keep it in a field and mutate it in
/// place (it is a struct: a copy does not see later changes).
/// </summary>
internal struct UseList
{
    private Use _first;
    /// <summary>Uses 1 … Count-1.</summary>
    private Use[]? _rest;
    private int _count;

    public readonly int Count => _count;

    public Use this[int index]
    {
        readonly get
        {
            if ((uint)index >= (uint)_count) throw new ArgumentOutOfRangeException(nameof(index));
            return index == 0 ? _first : _rest![index - 1];
        }
        set
        {
            if ((uint)index >= (uint)_count) throw new ArgumentOutOfRangeException(nameof(index));
            if (index == 0) _first = value;
            else _rest![index - 1] = value;
        }
    }

    public void Add(Use use)
    {
        if (_count == 0)
        {
            _first = use;
            _count = 1;
            return;
        }
        int slot = _count - 1;
        if (_rest is null) _rest = new Use[2];
        else if (slot == _rest.Length) Array.Resize(ref _rest, slot * 2);
        _rest[slot] = use;
        _count++;
    }

    public readonly int IndexOf(Use use)
    {
        if (_count == 0) return -1;
        if (_first == use) return 0;
        for (int i = 1; i < _count; i++)
            if (_rest![i - 1] == use) return i;
        return -1;
    }

    public readonly bool Contains(Use use) => IndexOf(use) >= 0;

    /// <summary>Removes the first occurrence of <paramref name="use"/>, keeping the order of the others.</summary>
    public bool Remove(Use use)
    {
        int index = IndexOf(use);
        if (index < 0) return false;
        for (int i = index; i < _count - 1; i++) this[i] = this[i + 1];
        if (_count > 1) _rest![_count - 2] = default;
        else _first = default;
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
