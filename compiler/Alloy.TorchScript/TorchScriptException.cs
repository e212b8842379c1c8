namespace Alloy.TorchScript;

/// <summary>
/// A TorchScript archive Alloy cannot read or lower. The message names the archive and, where known, the code
/// file and line and the op; <see cref="Reason"/> is the bare cause.
/// </summary>
public sealed class TorchScriptException : Exception
{
    public TorchScriptException(string archive, string? codeFile, int line, string reason, Exception? inner = null)
        : base(Format(archive, codeFile, line, reason), inner)
    {
        Archive = archive;
        CodeFile = codeFile;
        Line = line;
        Reason = reason;
    }

    public string Archive { get; }
    /// <summary>The file under <c>code/</c> (e.g. <c>code/__torch__.py</c>), when the problem is in the model's code.</summary>
    public string? CodeFile { get; }
    /// <summary>1-based line in <see cref="CodeFile"/>, or 0.</summary>
    public int Line { get; }
    public string Reason { get; }

    private static string Format(string archive, string? file, int line, string reason) =>
        file is null ? $"{archive}: {reason}" : line > 0 ? $"{archive}: {file}:{line}: {reason}" : $"{archive}: {file}: {reason}";
}
