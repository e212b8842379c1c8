namespace Alloy.TorchScript.Archive;

/// <summary>One entry of a ZIP file: its name, compression method, sizes and where its bytes start in the file.</summary>
public readonly record struct ZipEntry(string Name, int Method, long CompressedSize, long Size, long DataOffset)
{
    public const int Stored = 0;
    public const int Deflated = 8;
}
