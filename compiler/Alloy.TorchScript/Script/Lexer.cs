using System.Text;

namespace Alloy.TorchScript.Script;

/// <summary>
/// Splits TorchScript code (the Python subset torch writes under <c>code/</c>) into tokens, with Python's
/// indentation rules: INDENT / DEDENT at changes of leading whitespace, line breaks ignored inside brackets.
/// </summary>
public static class Lexer
{
    private static readonly string[] Operators =
        ["->", "**", "//", "==", "!=", "<=", ">=", "<<", ">>", "+=", "-=", "*=", "/=",
         "(", ")", "[", "]", "{", "}", ",", ":", ".", "=", "+", "-", "*", "/", "%", "<", ">", "&", "|", "^", "~", "@"];

    public static List<Token> Tokenize(string text, Func<int, string, Exception> fail)
    {
        var tokens = new List<Token>();
        var indents = new Stack<int>();
        indents.Push(0);
        int depth = 0, line = 1, i = 0;
        bool lineStart = true;
        while (i < text.Length)
        {
            if (lineStart && depth == 0)
            {
                int col = 0, j = i;
                while (j < text.Length && (text[j] == ' ' || text[j] == '\t')) { col += text[j] == '\t' ? 8 - col % 8 : 1; j++; }
                if (j >= text.Length) { i = j; break; }
                if (text[j] is '\n' or '\r' or '#') { i = j; lineStart = false; goto scan; }
                if (col > indents.Peek()) { indents.Push(col); tokens.Add(new(TokenKind.Indent, "", line)); }
                while (col < indents.Peek())
                {
                    indents.Pop();
                    tokens.Add(new(TokenKind.Dedent, "", line));
                    if (col > indents.Peek()) throw fail(line, "inconsistent indentation");
                }
                i = j;
                lineStart = false;
            }
            lineStart = false;
        scan:
            if (i >= text.Length) break;
            char c = text[i];
            if (c == '\n')
            {
                if (depth == 0 && tokens.Count > 0 && tokens[^1].Kind is not (TokenKind.Newline or TokenKind.Indent or TokenKind.Dedent))
                    tokens.Add(new(TokenKind.Newline, "", line));
                line++;
                i++;
                lineStart = true;
                continue;
            }
            if (c is ' ' or '\t' or '\r') { i++; continue; }
            if (c == '\\' && i + 1 < text.Length && text[i + 1] == '\n') { i += 2; line++; continue; }
            if (c == '#') { while (i < text.Length && text[i] != '\n') i++; continue; }
            if (char.IsLetter(c) || c == '_')
            {
                int s = i;
                while (i < text.Length && (char.IsLetterOrDigit(text[i]) || text[i] == '_')) i++;
                tokens.Add(new(TokenKind.Name, text[s..i], line));
                continue;
            }
            if (char.IsDigit(c) || (c == '.' && i + 1 < text.Length && char.IsDigit(text[i + 1])))
            {
                int s = i;
                bool isFloat = false;
                while (i < text.Length && char.IsDigit(text[i])) i++;
                if (i < text.Length && text[i] == '.') { isFloat = true; i++; while (i < text.Length && char.IsDigit(text[i])) i++; }
                if (i < text.Length && text[i] is 'e' or 'E')
                {
                    isFloat = true;
                    i++;
                    if (i < text.Length && text[i] is '+' or '-') i++;
                    while (i < text.Length && char.IsDigit(text[i])) i++;
                }
                tokens.Add(new(isFloat ? TokenKind.Float : TokenKind.Int, text[s..i], line));
                continue;
            }
            if (c is '"' or '\'')
            {
                tokens.Add(new(TokenKind.String, ReadString(text, ref i, line, fail), line));
                continue;
            }
            string? op = null;
            foreach (var o in Operators)
                if (string.CompareOrdinal(text, i, o, 0, o.Length) == 0) { op = o; break; }
            if (op is null) throw fail(line, $"unexpected character '{c}'");
            if (op is "(" or "[" or "{") depth++;
            if (op is ")" or "]" or "}") depth = Math.Max(0, depth - 1);
            tokens.Add(new(TokenKind.Op, op, line));
            i += op.Length;
        }
        if (tokens.Count > 0 && tokens[^1].Kind != TokenKind.Newline) tokens.Add(new(TokenKind.Newline, "", line));
        while (indents.Count > 1) { indents.Pop(); tokens.Add(new(TokenKind.Dedent, "", line)); }
        tokens.Add(new(TokenKind.End, "", line));
        return tokens;
    }

    private static string ReadString(string text, ref int i, int line, Func<int, string, Exception> fail)
    {
        char quote = text[i++];
        var sb = new StringBuilder();
        while (true)
        {
            if (i >= text.Length || text[i] == '\n') throw fail(line, "unterminated string");
            char c = text[i++];
            if (c == quote) break;
            if (c != '\\') { sb.Append(c); continue; }
            if (i >= text.Length) throw fail(line, "unterminated string");
            char e = text[i++];
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case '0': sb.Append('\0'); break;
                case 'x':
                    sb.Append((char)Convert.ToInt32(text.Substring(i, 2), 16));
                    i += 2;
                    break;
                case 'u':
                    sb.Append((char)Convert.ToInt32(text.Substring(i, 4), 16));
                    i += 4;
                    break;
                default: sb.Append(e); break;
            }
        }
        return sb.ToString();
    }
}
