using System.Buffers;

namespace Alloy.Onnx;

/// <summary>
/// A growable list of <typeparamref name="T"/> whose storage is rented from <see cref="ArrayPool{T}.Shared"/>: the
/// importer's per-graph scratch lists (a slice per node, per value_info record) would otherwise be large
/// short-lived arrays, and large arrays are what makes the garbage collector run full collections.
/// Dispose it to return the storage.
/// </summary>
internal struct PooledList<T> : IDisposable
{
    private T[] _items;
    private int _count;

    public PooledList()
    {
        _items = [];
        _count = 0;
    }

    public readonly int Count => _count;

    public readonly ReadOnlySpan<T> Span => _items.AsSpan(0, _count);

    public readonly T this[int index] => Span[index];

    public void Add(T item)
    {
        if (_count == _items.Length) Grow();
        _items[_count++] = item;
    }

    private void Grow()
    {
        var bigger = ArrayPool<T>.Shared.Rent(Math.Max(16, _items.Length * 2));
        Span.CopyTo(bigger);
        Release();
        _items = bigger;
    }

    private void Release()
    {
        if (_items.Length > 0) ArrayPool<T>.Shared.Return(_items, clearArray: System.Runtime.CompilerServices.RuntimeHelpers.IsReferenceOrContainsReferences<T>());
    }

    public void Dispose()
    {
        Release();
        _items = [];
        _count = 0;
    }
}
