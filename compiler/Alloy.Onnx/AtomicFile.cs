namespace Alloy.Onnx;

/// <summary>Writes a file under a temporary name in the same folder and renames it into place, so a reader
/// never sees a half-written file and a failed write leaves nothing behind.</summary>
public static class AtomicFile
{
    public static void Write(string path, Action<Stream> write) => WriteAll([(path, write)]);

    /// <summary>
    /// Writes every file under a temporary name first and renames them only when all were written, in the
    /// given order (put the file that refers to the others last).
    /// </summary>
    public static void WriteAll(IReadOnlyList<(string Path, Action<Stream> Write)> files)
    {
        var temps = new List<(string Temp, string Final)>();
        try
        {
            foreach (var (path, write) in files)
            {
                var full = Path.GetFullPath(path);
                var dir = Path.GetDirectoryName(full) ?? ".";
                Directory.CreateDirectory(dir);
                var temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
                temps.Add((temp, full));
                using var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            foreach (var (temp, final) in temps)
                File.Move(temp, final, overwrite: true);
        }
        catch
        {
            foreach (var (temp, _) in temps)
            {
                try { File.Delete(temp); } catch (IOException) { }
            }
            throw;
        }
    }

    public static void WriteAllText(string path, string text) =>
        Write(path, s =>
        {
            using var w = new StreamWriter(s, new System.Text.UTF8Encoding(false), 1 << 16, leaveOpen: true);
            w.Write(text);
        });
}
