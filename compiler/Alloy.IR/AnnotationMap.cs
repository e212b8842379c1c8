using System.Collections;
using System.Diagnostics.CodeAnalysis;

namespace Alloy.IR;

/// <summary>
/// A node's annotations: a handful of string pairs kept in ordinal key order in two small arrays (a node carries a
/// few, so a linear scan beats hashing or a tree, and one map costs three objects however many keys it holds).
/// </summary>
internal sealed class AnnotationMap : IReadOnlyDictionary<string, string>
{
    public static readonly AnnotationMap Empty = new();

    private string[] _keys = [];
    private string[] _values = [];
    private int _count;

    public int Count => _count;

    public string this[string key] => TryGetValue(key, out var v) ? v : throw new KeyNotFoundException($"no annotation '{key}'");

    public IEnumerable<string> Keys => _keys.Take(_count);
    public IEnumerable<string> Values => _values.Take(_count);

    public bool ContainsKey(string key) => IndexOf(key) >= 0;

    public bool TryGetValue(string key, [MaybeNullWhen(false)] out string value)
    {
        int i = IndexOf(key);
        if (i < 0)
        {
            value = null;
            return false;
        }
        value = _values[i];
        return true;
    }

    public void Set(string key, string value)
    {
        int i = IndexOf(key);
        if (i >= 0)
        {
            _values[i] = value;
            return;
        }
        if (_count == _keys.Length)
        {
            int capacity = Math.Max(4, _count * 2);
            Array.Resize(ref _keys, capacity);
            Array.Resize(ref _values, capacity);
        }
        int at = _count;
        while (at > 0 && string.CompareOrdinal(_keys[at - 1], key) > 0)
        {
            _keys[at] = _keys[at - 1];
            _values[at] = _values[at - 1];
            at--;
        }
        _keys[at] = key;
        _values[at] = value;
        _count++;
    }

    public bool Remove(string key)
    {
        int i = IndexOf(key);
        if (i < 0) return false;
        _count--;
        Array.Copy(_keys, i + 1, _keys, i, _count - i);
        Array.Copy(_values, i + 1, _values, i, _count - i);
        _keys[_count] = null!;
        _values[_count] = null!;
        return true;
    }

    private int IndexOf(string key)
    {
        var keys = _keys;
        for (int i = 0; i < _count; i++)
            if (ReferenceEquals(keys[i], key) || string.Equals(keys[i], key, StringComparison.Ordinal)) return i;
        return -1;
    }

    public IEnumerator<KeyValuePair<string, string>> GetEnumerator()
    {
        for (int i = 0; i < _count; i++) yield return new(_keys[i], _values[i]);
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
