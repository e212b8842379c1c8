using System.Buffers;
using System.Runtime.CompilerServices;
using Alloy.IR;
using Microsoft.Win32.SafeHandles;

namespace Alloy.Onnx;

/// <summary>
/// A read handle to every external-data file the importer maps, kept alongside the mapping. The exporter copies
/// mapped constants through it with ordinary reads: copying through the mapping would make every page of the data
/// resident in the process (exporting a 2.5 GiB model would add 2.5 GiB to its working set). The handle refers to
/// the file that was mapped even after its path is replaced, e.g. by saving a model over its own data file.
/// </summary>
internal static class MappedFileHandles
{
    private static readonly ConditionalWeakTable<MappedFile, SafeFileHandle> Handles = new();

    /// <summary>Opens a read handle to the file behind <paramref name="file"/>; the caller disposes it with the model.</summary>
    public static SafeFileHandle Open(MappedFile file)
    {
        var handle = File.OpenHandle(file.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        Handles.AddOrUpdate(file, handle);
        return handle;
    }

    /// <summary>Writes the bytes of <paramref name="data"/> to <paramref name="stream"/>, mapped data by reading its file.</summary>
    public static void WriteTo(TensorData data, Stream stream)
    {
        if (data is not MappedTensorData m || !Handles.TryGetValue(m.File, out var handle) || handle.IsClosed)
        {
            data.WriteTo(stream);
            return;
        }
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            for (long pos = 0; pos < m.ByteLength;)
            {
                int n = RandomAccess.Read(handle, buffer.AsSpan(0, (int)Math.Min(buffer.Length, m.ByteLength - pos)), m.Offset + pos);
                if (n <= 0) throw new IOException($"'{m.File.Path}' ended before byte {m.Offset + m.ByteLength} of a constant");
                stream.Write(buffer, 0, n);
                pos += n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
