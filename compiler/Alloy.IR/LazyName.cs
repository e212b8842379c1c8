using System.Buffers;
using System.Text;

namespace Alloy.IR;

/// <summary>
/// A name held either as a string or as valid UTF-8 bytes inside a buffer (such as the model file an importer
/// read), decoded into a string only when first asked for. Values and nodes are the IR's most numerous objects and
/// most of their names are never read as strings between import and export: keeping the bytes saves a string per
/// name and lets an exporter copy the bytes back unchanged. Comparisons and hashes work on either form without
/// decoding to a string, and agree with the string form (hash codes are those of the decoded text).
/// Keep it in a field and use it in place (it is a struct: decoding replaces the bytes with the string).
/// </summary>
internal struct LazyName
{
    private const int StackChars = 256;
    private static readonly UTF8Encoding Utf8 = new(false, false);

    /// <summary>A string, or a byte array holding the UTF-8 text at [<see cref="_start"/>, +<see cref="_length"/>).</summary>
    private object? _text;
    private int _start;
    private int _length;

    public LazyName(string text)
    {
        _text = text;
    }

    /// <summary>A name kept as the UTF-8 bytes <paramref name="source"/>[start, start + length), which must be valid
    /// UTF-8 (<see cref="IsValidUtf8"/>) and must not change afterwards.</summary>
    public LazyName(byte[] source, int start, int length)
    {
        _text = source;
        _start = start;
        _length = length;
    }

    /// <summary>True when <paramref name="utf8"/> can be kept as bytes: valid UTF-8 decodes to text that encodes back
    /// to the same bytes, so comparing bytes is comparing text.</summary>
    public static bool IsValidUtf8(ReadOnlySpan<byte> utf8) => Ascii.IsValid(utf8) || System.Text.Unicode.Utf8.IsValid(utf8);

    /// <summary>The name as a string (decoded, and then kept, on first request).</summary>
    public string Text
    {
        get
        {
            if (_text is string s) return s;
            if (_text is null) return "";
            var decoded = Utf8.GetString((byte[])_text, _start, _length);
            _text = decoded;
            return decoded;
        }
    }

    public readonly bool IsEmpty => _text is byte[] ? _length == 0 : _text is not string s || s.Length == 0;

    /// <summary>The UTF-8 bytes when the name is still held as bytes.</summary>
    public readonly bool TryGetUtf8(out ReadOnlySpan<byte> utf8)
    {
        if (_text is byte[] b)
        {
            utf8 = b.AsSpan(_start, _length);
            return true;
        }
        utf8 = default;
        return false;
    }

    public readonly bool Equals(ReadOnlySpan<char> text) =>
        _text is byte[] b ? Utf8Equals(b.AsSpan(_start, _length), text) : text.SequenceEqual(_text as string);

    public readonly bool Equals(ReadOnlySpan<byte> utf8) =>
        _text is byte[] b ? utf8.SequenceEqual(b.AsSpan(_start, _length)) : Utf8Equals(utf8, _text as string);

    public readonly bool Equals(in LazyName other) =>
        other._text is byte[] b ? Equals(b.AsSpan(other._start, other._length)) : Equals((other._text as string).AsSpan());

    /// <summary>The runtime's (randomized) string hash of the text, computed without allocating it.</summary>
    public readonly int Hash()
    {
        if (_text is not byte[] b) return string.GetHashCode((_text as string).AsSpan());
        var utf8 = b.AsSpan(_start, _length);
        if (utf8.Length <= StackChars)
        {
            // Valid UTF-8 never has more UTF-16 units than bytes; ASCII (nearly every name) widens without decoding.
            Span<char> chars = stackalloc char[utf8.Length];
            int n = Ascii.ToUtf16(utf8, chars, out int widened) == System.Buffers.OperationStatus.Done ? widened : Utf8.GetChars(utf8, chars);
            return string.GetHashCode(chars[..n]);
        }
        var rented = ArrayPool<char>.Shared.Rent(utf8.Length);
        try
        {
            int n = Utf8.GetChars(utf8, rented);
            return string.GetHashCode(rented.AsSpan(0, n));
        }
        finally
        {
            ArrayPool<char>.Shared.Return(rented);
        }
    }

    public override readonly string ToString() => _text is byte[] b ? Utf8.GetString(b, _start, _length) : _text as string ?? "";

    /// <summary>Whether valid UTF-8 <paramref name="utf8"/> spells <paramref name="text"/>; ASCII (nearly every
    /// name) is compared unit by unit, anything else after decoding.</summary>
    private static bool Utf8Equals(ReadOnlySpan<byte> utf8, ReadOnlySpan<char> text)
    {
        int n = Math.Min(utf8.Length, text.Length);
        for (int i = 0; i < n; i++)
        {
            byte b = utf8[i];
            if (b >= 0x80) return DecodedEquals(utf8, text);
            // The prefixes so far are the same ASCII text, so the decoded text differs here too.
            if (b != text[i]) return false;
        }
        // All ASCII so far: a longer byte string decodes to more characters, a shorter one to fewer.
        return utf8.Length == text.Length;
    }

    private static bool DecodedEquals(ReadOnlySpan<byte> utf8, ReadOnlySpan<char> text)
    {
        if (text.Length > utf8.Length) return false;
        if (utf8.Length <= StackChars)
        {
            Span<char> chars = stackalloc char[StackChars];
            int n = Utf8.GetChars(utf8, chars);
            return text.SequenceEqual(chars[..n]);
        }
        return text.SequenceEqual(Utf8.GetString(utf8));
    }
}
