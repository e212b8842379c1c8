using System.Runtime.InteropServices;

namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// Reusable 64-byte aligned native scratch blocks for packed GEMM panels and widened planes: a fresh allocation
/// of a large block costs page faults on every kernel call, so returned blocks are kept (a few, the largest first)
/// and handed out again.
/// </summary>
internal static unsafe class ScratchPool
{
    private const int MaxCached = 8;
    private static readonly List<(nint Pointer, long Bytes)> Cached = [];

    /// <summary>A block of at least <paramref name="bytes"/> bytes; give it back with <see cref="Return"/>.</summary>
    public static (nint Pointer, long Bytes) Rent(long bytes)
    {
        bytes = Math.Max(64, (bytes + 63) & ~63L);
        lock (Cached)
        {
            int best = -1;
            for (int i = 0; i < Cached.Count; i++)
                if (Cached[i].Bytes >= bytes && (best < 0 || Cached[i].Bytes < Cached[best].Bytes)) best = i;
            if (best >= 0)
            {
                var block = Cached[best];
                Cached.RemoveAt(best);
                return block;
            }
        }
        return ((nint)NativeMemory.AlignedAlloc((nuint)bytes, 64), bytes);
    }

    public static void Return((nint Pointer, long Bytes) block)
    {
        if (block.Pointer == 0) return;
        lock (Cached)
        {
            if (Cached.Count < MaxCached)
            {
                Cached.Add(block);
                return;
            }
            // Full: keep the larger blocks.
            int smallest = 0;
            for (int i = 1; i < Cached.Count; i++)
                if (Cached[i].Bytes < Cached[smallest].Bytes) smallest = i;
            if (Cached[smallest].Bytes < block.Bytes) (Cached[smallest], block) = (block, Cached[smallest]);
        }
        NativeMemory.AlignedFree((void*)block.Pointer);
    }
}
