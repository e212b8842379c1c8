namespace Alloy.TorchScript.Script;

public enum TokenKind { Name, Int, Float, String, Op, Newline, Indent, Dedent, End }

/// <summary>A token of TorchScript code with its 1-based line.</summary>
public readonly record struct Token(TokenKind Kind, string Text, int Line)
{
    public bool Is(string op) => Kind == TokenKind.Op && Text == op;
    public bool IsName(string name) => Kind == TokenKind.Name && Text == name;
    public override string ToString() => Kind switch
    {
        TokenKind.Newline => "end of line",
        TokenKind.Indent => "indent",
        TokenKind.Dedent => "dedent",
        TokenKind.End => "end of file",
        _ => $"'{Text}'",
    };
}
