using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace Alloy.IR;

/// <summary>
/// A node's annotations: a handful of string pairs kept in ordinal key order (a node carries a few, so a linear scan
/// beats hashing or a tree). Up to <see cref="InlinePairs"/> pairs live inside the map itself, so an annotated node
/// costs one object; more move to an array. The pairs are interleaved: key 2i, value 2i+1.
/// </summary>
internal sealed class AnnotationMap : IReadOnlyDictionary<string, string>
{
    public static readonly AnnotationMap Empty = new();

    /// <summary>The pairs stored without an array: the precision passes write four (color, why, prec, acc).</summary>
    private const int InlinePairs = 4;

    [InlineArray(InlinePairs * 2)]
    private struct InlineSlots
    {
        private string? _element;
    }

    private InlineSlots _inline;
    /// <summary>Every pair once there are more than <see cref="InlinePairs"/>; null while they fit inline.</summary>
    private string?[]? _spilled;
    private int _count;

    public int Count => _count;

    /// <summary>The slots in use or free (keys and values interleaved).</summary>
    private Span<string?> Slots => _spilled is { } spilled ? spilled : _inline;

    public string this[string key] => TryGetValue(key, out var v) ? v : throw new KeyNotFoundException($"no annotation '{key}'");

    public IEnumerable<string> Keys => this.Select(p => p.Key);
    public IEnumerable<string> Values => this.Select(p => p.Value);

    public bool ContainsKey(string key) => IndexOf(key) >= 0;

    public bool TryGetValue(string key, [MaybeNullWhen(false)] out string value)
    {
        int i = IndexOf(key);
        if (i < 0)
        {
            value = null;
            return false;
        }
        value = Slots[2 * i + 1]!;
        return true;
    }

    public void Set(string key, string value)
    {
        int i = IndexOf(key);
        if (i >= 0)
        {
            Slots[2 * i + 1] = value;
            return;
        }
        var slots = Slots;
        if (2 * _count == slots.Length)
        {
            var grown = new string?[slots.Length * 2];
            slots.CopyTo(grown);
            _spilled = grown;
            slots = grown;
        }
        int at = _count;
        while (at > 0 && string.CompareOrdinal(slots[2 * (at - 1)], key) > 0)
        {
            slots[2 * at] = slots[2 * (at - 1)];
            slots[2 * at + 1] = slots[2 * (at - 1) + 1];
            at--;
        }
        slots[2 * at] = key;
        slots[2 * at + 1] = value;
        _count++;
    }

    public bool Remove(string key)
    {
        int i = IndexOf(key);
        if (i < 0) return false;
        var slots = Slots;
        _count--;
        slots[(2 * i + 2)..(2 * _count + 2)].CopyTo(slots[(2 * i)..]);
        slots[2 * _count] = null;
        slots[2 * _count + 1] = null;
        return true;
    }

    private int IndexOf(string key)
    {
        var slots = Slots;
        for (int i = 0; i < _count; i++)
        {
            var k = slots[2 * i];
            if (ReferenceEquals(k, key) || string.Equals(k, key, StringComparison.Ordinal)) return i;
        }
        return -1;
    }

    public IEnumerator<KeyValuePair<string, string>> GetEnumerator()
    {
        for (int i = 0; i < _count; i++) yield return Pair(i);
    }

    private KeyValuePair<string, string> Pair(int i)
    {
        var slots = Slots;
        return new(slots[2 * i]!, slots[2 * i + 1]!);
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
