using System.IO.Compression;
using System.Text;

namespace Alloy.TorchScript.Tests;

/// <summary>A hand-made TorchScript archive (ZIP with one top-level folder) in a temporary folder.</summary>
public sealed class TestArchive : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("alloy-ts-test-");

    public TestArchive(string name = "model") => Path = System.IO.Path.Combine(_dir.FullName, name + ".pt");

    public string Path { get; }

    /// <summary>Writes the archive: entries under <c>&lt;stem&gt;/</c>, stored (uncompressed) unless the name ends in .py.</summary>
    public string Write(IReadOnlyDictionary<string, byte[]> entries, string? topFolder = null)
    {
        var top = topFolder ?? System.IO.Path.GetFileNameWithoutExtension(Path);
        File.Delete(Path);
        using var zip = ZipFile.Open(Path, ZipArchiveMode.Create);
        foreach (var (name, bytes) in entries)
        {
            var e = zip.CreateEntry(top + "/" + name, name.EndsWith(".py", StringComparison.Ordinal) ? CompressionLevel.Optimal : CompressionLevel.NoCompression);
            using var s = e.Open();
            s.Write(bytes);
        }
        return Path;
    }

    /// <summary>A module of class <c>__torch__.M</c> with the given forward code, float weights in data/0 and attributes.</summary>
    public string Module(string code, float[]? storage = null, Action<PickleWriter>? attributes = null, string version = "3")
    {
        var pickle = new PickleWriter().Object("__torch__", "M", p =>
        {
            p.Str("training").Bool(false);
            attributes?.Invoke(p);
        }).Stop().ToArray();
        var entries = new Dictionary<string, byte[]>
        {
            ["version"] = Encoding.ASCII.GetBytes(version + "\n"),
            ["data.pkl"] = pickle,
            ["code/__torch__.py"] = Encoding.UTF8.GetBytes(code),
            ["constants.pkl"] = [0x80, 0x02, (byte)')', (byte)'.'],
        };
        if (storage is not null)
        {
            var bytes = new byte[storage.Length * 4];
            Buffer.BlockCopy(storage, 0, bytes, 0, bytes.Length);
            entries["data/0"] = bytes;
        }
        return Write(entries);
    }

    public void Dispose() => _dir.Delete(true);
}
