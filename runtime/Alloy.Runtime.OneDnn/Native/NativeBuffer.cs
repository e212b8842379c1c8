using System.Runtime.InteropServices;

namespace Alloy.Runtime.OneDnn.Native;

/// <summary>A copy of some bytes in 64-byte aligned native memory that oneDNN may read for as long as the buffer lives.</summary>
internal sealed unsafe class NativeBuffer : IDisposable
{
    private void* _data;

    public NativeBuffer(ReadOnlySpan<byte> bytes)
    {
        _data = NativeMemory.AlignedAlloc((nuint)Math.Max(bytes.Length, 64), 64);
        bytes.CopyTo(new Span<byte>(_data, bytes.Length));
    }

    ~NativeBuffer() => Free();

    public void* Pointer => _data;

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    private void Free()
    {
        if (_data == null) return;
        NativeMemory.AlignedFree(_data);
        _data = null;
    }
}
