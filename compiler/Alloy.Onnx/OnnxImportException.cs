namespace Alloy.Onnx;

/// <summary>A model file could not be read. The message names the file, the node (when there is one) and the reason.</summary>
public sealed class OnnxImportException(string file, string? node, string reason, Exception? inner = null)
    : Exception(Format(file, node, reason), inner)
{
    public string File { get; } = file;
    public string? NodeDescription { get; } = node;
    public string Reason { get; } = reason;

    private static string Format(string file, string? node, string reason) =>
        node is null ? $"{file}: {reason}" : $"{file}: {node}: {reason}";
}
