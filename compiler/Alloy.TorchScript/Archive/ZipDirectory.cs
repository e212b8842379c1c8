using System.Buffers.Binary;
using System.Text;

namespace Alloy.TorchScript.Archive;

/// <summary>
/// Reads a ZIP file's central directory (ZIP64 included) from a mapped view, and resolves each entry's local
/// header so the start of its bytes is known: stored entries can then be read in place.
/// </summary>
internal static class ZipDirectory
{
    private const uint EndOfDirectory = 0x06054b50;
    private const uint Zip64EndOfDirectory = 0x06064b50;
    private const uint Zip64Locator = 0x07064b50;
    private const uint CentralHeader = 0x02014b50;
    private const uint LocalHeader = 0x04034b50;

    /// <summary>The entries, or an error message when <paramref name="file"/> is not a ZIP file.</summary>
    public static List<ZipEntry> Read(ReadOnlySpan<byte> file, Func<string, Exception> fail)
    {
        if (file.Length < 22) throw fail($"not a ZIP archive ({file.Length} bytes, too short for an end-of-directory record)");
        int eocd = -1;
        for (int i = file.Length - 22; i >= Math.Max(0, file.Length - 22 - 65535); i--)
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(file[i..]) == EndOfDirectory) { eocd = i; break; }
        }
        if (eocd < 0) throw fail("not a ZIP archive (no end-of-central-directory record)");
        long count = BinaryPrimitives.ReadUInt16LittleEndian(file[(eocd + 10)..]);
        long dirSize = BinaryPrimitives.ReadUInt32LittleEndian(file[(eocd + 12)..]);
        long dirOffset = BinaryPrimitives.ReadUInt32LittleEndian(file[(eocd + 16)..]);
        if ((count == 0xFFFF || dirOffset == 0xFFFFFFFF || dirSize == 0xFFFFFFFF) && eocd >= 20
            && BinaryPrimitives.ReadUInt32LittleEndian(file[(eocd - 20)..]) == Zip64Locator)
        {
            long z64 = (long)BinaryPrimitives.ReadUInt64LittleEndian(file[(eocd - 12)..]);
            if (z64 < 0 || z64 + 56 > file.Length || BinaryPrimitives.ReadUInt32LittleEndian(file[(int)z64..]) != Zip64EndOfDirectory)
                throw fail("broken ZIP64 end-of-central-directory record");
            count = (long)BinaryPrimitives.ReadUInt64LittleEndian(file[(int)(z64 + 32)..]);
            dirSize = (long)BinaryPrimitives.ReadUInt64LittleEndian(file[(int)(z64 + 40)..]);
            dirOffset = (long)BinaryPrimitives.ReadUInt64LittleEndian(file[(int)(z64 + 48)..]);
        }
        if (dirOffset < 0 || dirOffset + dirSize > file.Length) throw fail("the ZIP central directory lies outside the file");

        var entries = new List<ZipEntry>((int)Math.Min(count, 1 << 16));
        long pos = dirOffset;
        for (long k = 0; k < count; k++)
        {
            if (pos + 46 > file.Length || BinaryPrimitives.ReadUInt32LittleEndian(file[(int)pos..]) != CentralHeader)
                throw fail($"ZIP central directory entry {k} is damaged");
            var h = file[(int)pos..];
            int method = BinaryPrimitives.ReadUInt16LittleEndian(h[10..]);
            long csize = BinaryPrimitives.ReadUInt32LittleEndian(h[20..]);
            long usize = BinaryPrimitives.ReadUInt32LittleEndian(h[24..]);
            int nameLen = BinaryPrimitives.ReadUInt16LittleEndian(h[28..]);
            int extraLen = BinaryPrimitives.ReadUInt16LittleEndian(h[30..]);
            int commentLen = BinaryPrimitives.ReadUInt16LittleEndian(h[32..]);
            long local = BinaryPrimitives.ReadUInt32LittleEndian(h[42..]);
            if (pos + 46 + nameLen + extraLen > file.Length) throw fail($"ZIP central directory entry {k} is damaged");
            var name = Encoding.UTF8.GetString(h.Slice(46, nameLen));
            ReadZip64Extra(h.Slice(46 + nameLen, extraLen), ref usize, ref csize, ref local);
            if (local < 0 || local + 30 > file.Length || BinaryPrimitives.ReadUInt32LittleEndian(file[(int)local..]) != LocalHeader)
                throw fail($"ZIP entry '{name}': local header missing");
            var lh = file[(int)local..];
            long data = local + 30 + BinaryPrimitives.ReadUInt16LittleEndian(lh[26..]) + BinaryPrimitives.ReadUInt16LittleEndian(lh[28..]);
            if (data + csize > file.Length) throw fail($"ZIP entry '{name}' runs past the end of the file");
            entries.Add(new ZipEntry(name, method, csize, usize, data));
            pos += 46 + nameLen + extraLen + commentLen;
        }
        return entries;
    }

    private static void ReadZip64Extra(ReadOnlySpan<byte> extra, ref long usize, ref long csize, ref long local)
    {
        while (extra.Length >= 4)
        {
            int id = BinaryPrimitives.ReadUInt16LittleEndian(extra);
            int len = BinaryPrimitives.ReadUInt16LittleEndian(extra[2..]);
            if (4 + len > extra.Length) return;
            if (id == 1)
            {
                var f = extra.Slice(4, len);
                if (usize == 0xFFFFFFFF && f.Length >= 8) { usize = (long)BinaryPrimitives.ReadUInt64LittleEndian(f); f = f[8..]; }
                if (csize == 0xFFFFFFFF && f.Length >= 8) { csize = (long)BinaryPrimitives.ReadUInt64LittleEndian(f); f = f[8..]; }
                if (local == 0xFFFFFFFF && f.Length >= 8) local = (long)BinaryPrimitives.ReadUInt64LittleEndian(f);
                return;
            }
            extra = extra[(4 + len)..];
        }
    }
}
