using System.IO.Compression;
using System.Text;
using Alloy.IR;

namespace Alloy.TorchScript.Archive;

/// <summary>
/// A TorchScript archive: a ZIP file whose entries all sit under one top-level folder (named after the file stem
/// the model was saved as, taken from the entries). Stored entries are read in place from the memory-mapped file;
/// deflated ones are inflated on demand. The mapping lives as long as the model that uses its tensors.
/// </summary>
public sealed unsafe class TorchArchive : IDisposable
{
    /// <summary>The file-format versions this reader understands (torch 1.x writes 1..10).</summary>
    public const long MinVersion = 1, MaxVersion = 10;

    private readonly Dictionary<string, ZipEntry> _entries = new(StringComparer.Ordinal);
    private bool _owned = true;

    private TorchArchive(string path, MappedFile file)
    {
        Path = path;
        File = file;
    }

    public string Path { get; }
    public MappedFile File { get; }
    /// <summary>The top-level folder every entry sits under (without the slash).</summary>
    public string Prefix { get; private set; } = "";
    /// <summary>The archive's file-format version (<c>version</c> or <c>.data/version</c>).</summary>
    public long Version { get; private set; }
    /// <summary>Entry names relative to the top-level folder.</summary>
    public IEnumerable<string> Names => _entries.Keys;

    public static TorchArchive Open(string path)
    {
        if (!System.IO.File.Exists(path)) throw new TorchScriptException(path, null, 0, "file not found");
        var file = new MappedFile(path);
        var archive = new TorchArchive(path, file);
        try
        {
            archive.ReadDirectory();
            return archive;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Hands the mapping to a model (it is then disposed with the model, not with this archive).</summary>
    public MappedFile TransferMapping()
    {
        _owned = false;
        return File;
    }

    private Exception Fail(string reason) => new TorchScriptException(Path, null, 0, reason);

    private void ReadDirectory()
    {
        if (File.Length > int.MaxValue) throw Fail($"archives above 2 GiB are not supported ({File.Length} bytes)");
        var span = new ReadOnlySpan<byte>(File.Pointer, (int)File.Length);
        var entries = ZipDirectory.Read(span, Fail);
        if (entries.Count == 0) throw Fail("the ZIP archive is empty");
        var first = entries[0].Name;
        int slash = first.IndexOf('/');
        if (slash <= 0) throw Fail($"entry '{first}' is not inside a top-level folder, so this is not a TorchScript archive");
        Prefix = first[..slash];
        foreach (var e in entries)
        {
            if (!e.Name.StartsWith(Prefix + "/", StringComparison.Ordinal))
                throw Fail($"entry '{e.Name}' lies outside the top-level folder '{Prefix}/'");
            _entries[e.Name[(Prefix.Length + 1)..]] = e;
        }
        var versionName = Contains("version") ? "version" : Contains(".data/version") ? ".data/version" : null;
        if (versionName is null) throw Fail("no 'version' record (neither version nor .data/version), so this is not a TorchScript archive");
        var text = Encoding.ASCII.GetString(ReadBytes(versionName)).Trim();
        if (!long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var v))
            throw Fail($"the version record holds '{text}', not a number");
        if (v < MinVersion || v > MaxVersion)
            throw Fail($"file-format version {v} is not supported (this reader handles versions {MinVersion}..{MaxVersion}, written by torch 1.x)");
        Version = v;
        if (!Contains("data.pkl")) throw Fail("no data.pkl (the pickled module tree)");
        if (!_entries.Keys.Any(k => k.StartsWith("code/", StringComparison.Ordinal)))
            throw Fail("no code/ folder: this is a plain torch.save checkpoint (weights only), not a TorchScript module; save it with torch.jit.trace or torch.jit.script");
    }

    public bool Contains(string name) => _entries.ContainsKey(name);

    public ZipEntry Entry(string name) =>
        _entries.TryGetValue(name, out var e) ? e : throw Fail($"entry '{Prefix}/{name}' is missing");

    /// <summary>The bytes of an entry (inflated if compressed).</summary>
    public byte[] ReadBytes(string name)
    {
        var e = Entry(name);
        var raw = new ReadOnlySpan<byte>(File.Pointer + e.DataOffset, checked((int)e.CompressedSize));
        switch (e.Method)
        {
            case ZipEntry.Stored:
                return raw.ToArray();
            case ZipEntry.Deflated:
                var result = new byte[checked((int)e.Size)];
                using (var source = new UnmanagedMemoryStream(File.Pointer + e.DataOffset, e.CompressedSize))
                using (var inflate = new DeflateStream(source, CompressionMode.Decompress))
                {
                    int read = 0;
                    while (read < result.Length)
                    {
                        int n = inflate.Read(result, read, result.Length - read);
                        if (n <= 0) throw Fail($"entry '{Prefix}/{name}' is truncated");
                        read += n;
                    }
                }
                return result;
            default:
                throw Fail($"entry '{Prefix}/{name}' uses ZIP compression method {e.Method} (only stored and deflated are supported)");
        }
    }

    public string ReadText(string name) => Encoding.UTF8.GetString(ReadBytes(name));

    /// <summary>The bytes of a storage record: mapped in place when stored uncompressed.</summary>
    public TensorData ReadStorage(string name)
    {
        var e = Entry(name);
        return e.Method == ZipEntry.Stored ? new MappedTensorData(File, e.DataOffset, e.Size) : new ArrayTensorData(ReadBytes(name));
    }

    public void Dispose()
    {
        if (_owned) File.Dispose();
    }
}
