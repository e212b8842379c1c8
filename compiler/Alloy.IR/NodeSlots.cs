using System.Collections;

namespace Alloy.IR;

/// <summary>
/// A node's operands: a view of the first <see cref="Count"/> entries of the one array that holds a node's operands
/// and then its results (one array a node instead of two). Null is an omitted optional operand. Like an array handed
/// out before, the view does not follow an operand added later.
/// </summary>
public readonly struct OperandList : IReadOnlyList<Value?>
{
    private readonly Value?[] _slots;

    internal OperandList(Value?[] slots, int count)
    {
        _slots = slots;
        Count = count;
    }

    public int Count { get; }

    public Value? this[int index] => (uint)index < (uint)Count ? _slots[index] : throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>The operands as a span (no copy).</summary>
    public ReadOnlySpan<Value?> AsSpan() => _slots.AsSpan(0, Count);

    /// <summary>Operand <paramref name="index"/>, or null past the last one (without enumerating, unlike LINQ's).</summary>
    public Value? ElementAtOrDefault(int index) => (uint)index < (uint)Count ? _slots[index] : null;

    /// <summary>Whether an operand satisfies <paramref name="predicate"/> (without boxing this view).</summary>
    public bool Any(Func<Value?, bool> predicate)
    {
        foreach (var v in AsSpan())
            if (predicate(v)) return true;
        return false;
    }

    public SlotEnumerator<Value?> GetEnumerator() => new(_slots, 0, Count);
    IEnumerator<Value?> IEnumerable<Value?>.GetEnumerator() => GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>A node's results: the entries after the operands in the node's one slot array (see <see cref="OperandList"/>).</summary>
public readonly struct ResultList : IReadOnlyList<Value>
{
    private readonly Value?[] _slots;
    private readonly int _start;

    internal ResultList(Value?[] slots, int start)
    {
        _slots = slots;
        _start = start;
    }

    public int Count => _slots.Length - _start;

    public Value this[int index] => (uint)index < (uint)Count ? _slots[_start + index]! : throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>Result <paramref name="index"/>, or null past the last one (without enumerating, unlike LINQ's).</summary>
    public Value? ElementAtOrDefault(int index) => (uint)index < (uint)Count ? _slots[_start + index] : null;

    /// <summary>Whether a result satisfies <paramref name="predicate"/> (without boxing this view).</summary>
    public bool Any(Func<Value, bool> predicate)
    {
        for (int i = _start; i < _slots.Length; i++)
            if (predicate(_slots[i]!)) return true;
        return false;
    }

    public SlotEnumerator<Value> GetEnumerator() => new(_slots, _start, Count);
    IEnumerator<Value> IEnumerable<Value>.GetEnumerator() => GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>Enumerates a range of a node's slot array without allocating.</summary>
public struct SlotEnumerator<T> : IEnumerator<T> where T : class?
{
    private readonly Value?[] _slots;
    private readonly int _end;
    private int _index;

    internal SlotEnumerator(Value?[] slots, int start, int count)
    {
        _slots = slots;
        _index = start - 1;
        _end = start + count;
    }

    public readonly T Current => (T)(object?)_slots[_index]!;
    readonly object? IEnumerator.Current => Current;

    public bool MoveNext() => ++_index < _end;

    public void Reset() => throw new NotSupportedException();

    public readonly void Dispose()
    {
    }
}
