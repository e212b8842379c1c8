using System.Runtime.InteropServices;

namespace Alloy.Runtime.OneDnn.Native;

/// <summary>
/// Per-thread working memory of the oneDNN kernels: the input in the primitive's layout, the output in the
/// primitive's layout, and the primitive's scratchpad. A primitive runs synchronously on the calling thread (its
/// OpenMP team joins before it returns), so one set per calling thread serves every kernel; each buffer grows to the
/// largest request and is freed when the thread ends.
/// </summary>
internal sealed unsafe class ThreadScratch
{
    public const int Slots = 3;
    [ThreadStatic] private static ThreadScratch? t_current;

    private readonly void*[] _data = new void*[Slots];
    private readonly long[] _bytes = new long[Slots];

    ~ThreadScratch()
    {
        for (int i = 0; i < Slots; i++)
            if (_data[i] != null) NativeMemory.AlignedFree(_data[i]);
    }

    public static ThreadScratch Current => t_current ??= new ThreadScratch();

    /// <summary>At least <paramref name="bytes"/> of 64-byte aligned memory in slot <paramref name="slot"/> (null for 0 bytes).</summary>
    public void* Get(int slot, long bytes)
    {
        if (bytes <= 0) return null;
        if (_bytes[slot] < bytes)
        {
            if (_data[slot] != null) NativeMemory.AlignedFree(_data[slot]);
            _data[slot] = null;
            _bytes[slot] = 0;
            _data[slot] = NativeMemory.AlignedAlloc((nuint)bytes, 64);
            _bytes[slot] = bytes;
        }
        return _data[slot];
    }
}
