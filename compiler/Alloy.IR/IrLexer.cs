using System.Globalization;
using System.Text;

namespace Alloy.IR;

/// <summary>A malformed IR text. The message starts with the position: <c>line 3, col 14: expected ']'</c>.</summary>
public sealed class IrParseException : Exception
{
    public IrParseException(int line, int column, string message)
        : base($"line {line}, col {column}: {message}")
    {
        Line = line;
        Column = column;
        Reason = message;
    }

    /// <summary>1-based line of the offending token.</summary>
    public int Line { get; }
    /// <summary>1-based column (UTF-16 code units) of the offending token.</summary>
    public int Column { get; }
    /// <summary>The message without the position.</summary>
    public string Reason { get; }
}

internal enum TokenKind : byte
{
    Eof,
    /// <summary><c>[A-Za-z_][A-Za-z0-9_.]*</c>, and the words <c>-inf</c>, <c>-nan</c>.</summary>
    Ident,
    /// <summary>Decimal number; <see cref="Token.IsFloat"/> when it has a fraction or exponent.</summary>
    Number,
    /// <summary><c>0x</c> followed by hex digits (Text holds the digits).</summary>
    Hex,
    /// <summary><c>sha256:</c> followed by hex digits (Text holds the digits).</summary>
    Digest,
    /// <summary>A quoted string (Text holds the decoded text).</summary>
    String,
    /// <summary><c>%name</c> or <c>%"name"</c> (Text holds the name).</summary>
    ValueName,
    /// <summary><c>@name</c> or <c>@"name"</c> (Text holds the name).</summary>
    GraphName,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Less,
    Greater,
    Comma,
    Equals,
    Colon,
    ColonColon,
    Arrow,
    Star,
    Question,
    Bang,
}

internal readonly record struct Token(
    TokenKind Kind,
    int Pos,
    int End,
    int Line,
    int Col,
    bool NewLine,
    bool SpaceBefore,
    string Text,
    bool IsFloat = false)
{
    public bool Is(TokenKind k) => Kind == k;
    public bool IsWord(string w) => Kind == TokenKind.Ident && Text == w;
}

/// <summary>Splits IR text into tokens on demand. Tracks line/column and whether a token starts a line.</summary>
internal sealed class IrLexer(string text)
{
    private readonly string _s = text;
    private readonly Dictionary<string, string> _words = new(StringComparer.Ordinal);
    private int _pos;
    private int _line = 1;
    private int _lineStart;

    public string Source => _s;

    public Token Next()
    {
        bool newLine = _pos == 0, space = _pos == 0;
        var s = _s;
        while (_pos < s.Length)
        {
            char c = s[_pos];
            if (c == '\n')
            {
                newLine = space = true;
                _pos++;
                _line++;
                _lineStart = _pos;
            }
            else if (c is ' ' or '\t' or '\r')
            {
                space = true;
                _pos++;
            }
            else if (c == '/' && _pos + 1 < s.Length && s[_pos + 1] == '/')
            {
                space = true;
                while (_pos < s.Length && s[_pos] != '\n') _pos++;
            }
            else break;
        }

        int start = _pos, line = _line, col = _pos - _lineStart + 1;
        Token Make(TokenKind k, int end, string text, bool isFloat = false)
        {
            _pos = end;
            return new Token(k, start, end, line, col, newLine, space, text, isFloat);
        }

        if (_pos >= s.Length) return new Token(TokenKind.Eof, start, start, line, col, true, space, "");
        char ch = s[_pos];
        switch (ch)
        {
            case '(': return Make(TokenKind.LParen, _pos + 1, "(");
            case ')': return Make(TokenKind.RParen, _pos + 1, ")");
            case '[': return Make(TokenKind.LBracket, _pos + 1, "[");
            case ']': return Make(TokenKind.RBracket, _pos + 1, "]");
            case '{': return Make(TokenKind.LBrace, _pos + 1, "{");
            case '}': return Make(TokenKind.RBrace, _pos + 1, "}");
            case '<': return Make(TokenKind.Less, _pos + 1, "<");
            case '>': return Make(TokenKind.Greater, _pos + 1, ">");
            case ',': return Make(TokenKind.Comma, _pos + 1, ",");
            case '=': return Make(TokenKind.Equals, _pos + 1, "=");
            case '*': return Make(TokenKind.Star, _pos + 1, "*");
            case '?': return Make(TokenKind.Question, _pos + 1, "?");
            case '!': return Make(TokenKind.Bang, _pos + 1, "!");
            case ':':
                return _pos + 1 < s.Length && s[_pos + 1] == ':'
                    ? Make(TokenKind.ColonColon, _pos + 2, "::")
                    : Make(TokenKind.Colon, _pos + 1, ":");
            case '"':
            {
                int end = ScanString(_pos, line, col);
                return Make(TokenKind.String, end, DecodeString(s.AsSpan(_pos + 1, end - _pos - 2)));
            }
            case '%':
            case '@':
            {
                var kind = ch == '%' ? TokenKind.ValueName : TokenKind.GraphName;
                int p = _pos + 1;
                if (p < s.Length && s[p] == '"')
                {
                    int end = ScanString(p, line, col + 1);
                    return Make(kind, end, DecodeString(s.AsSpan(p + 1, end - p - 2)));
                }
                int q = p;
                while (q < s.Length && IrSyntax.IsIdentChar(s[q])) q++;
                if (q == p) throw new IrParseException(line, col, $"expected a name after '{ch}'");
                return Make(kind, q, s[p..q]);
            }
        }

        if (ch == '-')
        {
            int p = _pos + 1;
            if (p < s.Length && s[p] == '>') return Make(TokenKind.Arrow, p + 1, "->");
            if (p < s.Length && char.IsAsciiDigit(s[p]))
            {
                var (k, end, isFloat) = ScanNumber();
                return Make(k, end, k == TokenKind.Hex ? s[(_pos + 2)..end] : s[_pos..end], isFloat);
            }
            int q = p;
            while (q < s.Length && IrSyntax.IsIdentChar(s[q])) q++;
            var word = s[p..q];
            if (word is "inf" or "nan") return Make(TokenKind.Ident, q, "-" + word);
            throw new IrParseException(line, col, "unexpected '-'");
        }
        if (char.IsAsciiDigit(ch))
        {
            var (k, end, isFloat) = ScanNumber();
            return Make(k, end, k == TokenKind.Hex ? s[(_pos + 2)..end] : s[_pos..end], isFloat);
        }
        if (IrSyntax.IsIdentStart(ch))
        {
            int q = _pos + 1;
            while (q < s.Length && IrSyntax.IsIdentChar(s[q])) q++;
            // sha256:<hex> is one token so that a digest starting with a digit stays whole.
            if (q - _pos == 6 && string.CompareOrdinal(s, _pos, "sha256", 0, 6) == 0
                && q + 1 < s.Length && s[q] == ':' && char.IsAsciiHexDigit(s[q + 1]))
            {
                int h = q + 1;
                while (h < s.Length && char.IsAsciiHexDigit(s[h])) h++;
                return Make(TokenKind.Digest, h, s[(q + 1)..h]);
            }
            return Make(TokenKind.Ident, q, Intern(s.AsSpan(_pos, q - _pos)));
        }
        throw new IrParseException(line, col, $"unexpected character '{IrSyntax.Escape(ch.ToString())}'");
    }

    /// <summary>One string per distinct identifier: operator names, attribute names and types repeat on every line.</summary>
    private string Intern(ReadOnlySpan<char> word)
    {
        var lookup = _words.GetAlternateLookup<ReadOnlySpan<char>>();
        if (lookup.TryGetValue(word, out var known)) return known;
        var w = word.ToString();
        _words.Add(w, w);
        return w;
    }

    private (TokenKind Kind, int End, bool IsFloat) ScanNumber()
    {
        var s = _s;
        int p = _pos;
        bool neg = s[p] == '-';
        if (neg) p++;
        if (!neg && s[p] == '0' && p + 1 < s.Length && s[p + 1] is 'x' or 'X')
        {
            int h = p + 2;
            while (h < s.Length && char.IsAsciiHexDigit(s[h])) h++;
            return (TokenKind.Hex, h, false);
        }
        while (p < s.Length && char.IsAsciiDigit(s[p])) p++;
        bool isFloat = false;
        if (p + 1 < s.Length && s[p] == '.' && char.IsAsciiDigit(s[p + 1]))
        {
            isFloat = true;
            p++;
            while (p < s.Length && char.IsAsciiDigit(s[p])) p++;
        }
        if (p < s.Length && s[p] is 'e' or 'E')
        {
            int q = p + 1;
            if (q < s.Length && s[q] is '+' or '-') q++;
            if (q < s.Length && char.IsAsciiDigit(s[q]))
            {
                isFloat = true;
                p = q;
                while (p < s.Length && char.IsAsciiDigit(s[p])) p++;
            }
        }
        return (TokenKind.Number, p, isFloat);
    }

    /// <summary>Returns the position after the closing quote of the string starting at <paramref name="open"/>.</summary>
    private int ScanString(int open, int line, int col)
    {
        var s = _s;
        int p = open + 1;
        while (true)
        {
            if (p >= s.Length || s[p] == '\n') throw new IrParseException(line, col, "unterminated string");
            char c = s[p];
            if (c == '"') return p + 1;
            if (c == '\\')
            {
                int ecol = col + (p - open);
                if (p + 1 >= s.Length) throw new IrParseException(line, col, "unterminated string");
                char e = s[p + 1];
                int digits = e switch
                {
                    'n' or 't' or 'r' or '\\' or '"' or '0' => 0,
                    'x' => 2,
                    'u' => 4,
                    _ => throw new IrParseException(line, ecol, $"invalid escape '\\{IrSyntax.Escape(e.ToString())}'"),
                };
                for (int i = 0; i < digits; i++)
                    if (p + 2 + i >= s.Length || !char.IsAsciiHexDigit(s[p + 2 + i]))
                        throw new IrParseException(line, ecol, $"escape '\\{e}' needs {digits} hex digits");
                p += 2 + digits;
                continue;
            }
            p++;
        }
    }

    /// <summary>Decodes the (already validated) content of a string literal as text.</summary>
    public static string DecodeString(ReadOnlySpan<char> raw)
    {
        if (raw.IndexOf('\\') < 0) return raw.ToString();
        var sb = new StringBuilder(raw.Length);
        for (int i = 0; i < raw.Length; i++)
        {
            char c = raw[i];
            if (c != '\\')
            {
                sb.Append(c);
                continue;
            }
            char e = raw[++i];
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case '0': sb.Append('\0'); break;
                case 'x': sb.Append((char)int.Parse(raw.Slice(i + 1, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture)); i += 2; break;
                case 'u': sb.Append((char)int.Parse(raw.Slice(i + 1, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture)); i += 4; break;
                default: sb.Append(e); break;
            }
        }
        return sb.ToString();
    }

    /// <summary>Decodes the content of a string literal as bytes: text as UTF-8, <c>\xHH</c> as one raw byte.</summary>
    public static byte[] DecodeBytes(ReadOnlySpan<char> raw)
    {
        if (raw.IndexOf('\\') < 0) return Encoding.UTF8.GetBytes(raw.ToString());
        var bytes = new List<byte>(raw.Length);
        var pending = new StringBuilder();
        void Flush()
        {
            if (pending.Length == 0) return;
            bytes.AddRange(Encoding.UTF8.GetBytes(pending.ToString()));
            pending.Clear();
        }
        for (int i = 0; i < raw.Length; i++)
        {
            char c = raw[i];
            if (c != '\\')
            {
                pending.Append(c);
                continue;
            }
            char e = raw[++i];
            switch (e)
            {
                case 'n': pending.Append('\n'); break;
                case 't': pending.Append('\t'); break;
                case 'r': pending.Append('\r'); break;
                case '0': pending.Append('\0'); break;
                case 'x':
                    Flush();
                    bytes.Add(byte.Parse(raw.Slice(i + 1, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                    i += 2;
                    break;
                case 'u': pending.Append((char)int.Parse(raw.Slice(i + 1, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture)); i += 4; break;
                default: pending.Append(e); break;
            }
        }
        Flush();
        return [.. bytes];
    }
}

/// <summary>Lexical rules shared by the printer and the parser.</summary>
internal static class IrSyntax
{
    public static bool IsIdentStart(char c) => char.IsAsciiLetter(c) || c == '_';
    public static bool IsIdentChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or '.';

    /// <summary><c>[A-Za-z_][A-Za-z0-9_.]*</c>: printed bare as an operator, domain, attribute name, symbol or word.</summary>
    public static bool IsIdent(string s)
    {
        if (s.Length == 0 || !IsIdentStart(s[0])) return false;
        for (int i = 1; i < s.Length; i++)
            if (!IsIdentChar(s[i])) return false;
        return true;
    }

    /// <summary><c>[A-Za-z0-9_.]+</c>: printed bare after <c>%</c> or <c>@</c>.</summary>
    public static bool IsBareName(string s)
    {
        if (s.Length == 0) return false;
        foreach (var c in s)
            if (!IsIdentChar(c)) return false;
        return true;
    }

    public static string Escape(string s)
    {
        var sb = new StringBuilder(s.Length);
        AppendEscaped(sb, s);
        return sb.ToString();
    }

    public static void AppendQuoted(StringBuilder sb, string s)
    {
        sb.Append('"');
        AppendEscaped(sb, s);
        sb.Append('"');
    }

    private static void AppendEscaped(StringBuilder sb, string s)
    {
        int clean = 0;
        while (clean < s.Length && !NeedsEscape(s, clean)) clean++;
        if (clean == s.Length)
        {
            sb.Append(s);
            return;
        }
        sb.Append(s, 0, clean);
        for (int i = clean; i < s.Length; i++)
        {
            char c = s[i];
            if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                sb.Append(c).Append(s[i + 1]);
                i++;
                continue;
            }
            AppendChar(sb, c);
        }
    }

    private static bool NeedsEscape(string s, int i)
    {
        char c = s[i];
        if (c is '"' or '\\' || c < 0x20 || c == 0x7F) return true;
        if (c < 0x80) return false;
        if (char.IsHighSurrogate(c)) return !(i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]));
        if (char.IsLowSurrogate(c)) return !(i > 0 && char.IsHighSurrogate(s[i - 1]));
        return char.IsControl(c) || c is '\u2028' or '\u2029';
    }

    private static void AppendChar(StringBuilder sb, char c)
    {
        switch (c)
        {
            case '"': sb.Append("\\\""); return;
            case '\\': sb.Append("\\\\"); return;
            case '\n': sb.Append("\\n"); return;
            case '\t': sb.Append("\\t"); return;
            case '\r': sb.Append("\\r"); return;
        }
        if (c < 0x20 || c == 0x7F) sb.Append("\\x").Append(((int)c).ToString("X2", CultureInfo.InvariantCulture));
        else if (c >= 0x80 && (char.IsControl(c) || char.IsSurrogate(c) || c is '\u2028' or '\u2029'))
            sb.Append("\\u").Append(((int)c).ToString("X4", CultureInfo.InvariantCulture));
        else sb.Append(c);
    }

    /// <summary>Quotes a byte string: valid UTF-8 as text, every other byte as <c>\xHH</c>.</summary>
    public static void AppendQuotedBytes(StringBuilder sb, ReadOnlySpan<byte> bytes)
    {
        sb.Append('"');
        while (bytes.Length > 0)
        {
            var status = Rune.DecodeFromUtf8(bytes, out var rune, out int used);
            if (status != System.Buffers.OperationStatus.Done)
            {
                sb.Append("\\x").Append(bytes[0].ToString("X2", CultureInfo.InvariantCulture));
                bytes = bytes[1..];
                continue;
            }
            if (rune.IsBmp) AppendChar(sb, (char)rune.Value);
            else sb.Append(rune.ToString());
            bytes = bytes[used..];
        }
        sb.Append('"');
    }
}
