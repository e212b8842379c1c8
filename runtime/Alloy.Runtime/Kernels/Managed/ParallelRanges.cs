namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// Splits a run of independent items (tensor elements, planes, copy blocks) into contiguous ranges for the runtime's
/// workers (<see cref="Sgemm.ParallelFor"/>). A range holds at least a given number of items, so a loop smaller than two
/// ranges stays on the calling thread (a fork / join costs about as much as adding a few thousand floats); range starts
/// are multiples of <c>align</c> items, so ranges of a 64-byte aligned float tensor cut at 16-float boundaries keep
/// every vector load aligned. Up to four ranges per thread are handed out one at a time, so a worker that starts late or
/// loses its core for a while takes fewer of them. Each item is computed by exactly one thread with the same code as
/// on one thread, so results do not depend on the thread count.
/// </summary>
internal static class ParallelRanges
{
    /// <summary>Float32 elements an element-wise range holds at least (64 KiB read and written per range).</summary>
    public const long MinElements = 16 * 1024;

    /// <summary>Ranges handed out per thread at most.</summary>
    private const long RangesPerThread = 4;

    /// <summary>
    /// Runs <paramref name="body"/>(start, end) over ranges covering [0, <paramref name="count"/>) once each, on up to
    /// <paramref name="threads"/> threads; every range but the last holds a multiple of <paramref name="align"/> items
    /// and at least <paramref name="minItems"/>.
    /// </summary>
    public static void For(int threads, long count, long minItems, long align, Action<long, long> body)
    {
        if (count <= 0) return;
        long ranges = Ranges(threads, count, minItems);
        if (ranges <= 1)
        {
            body(0, count);
            return;
        }
        align = Math.Max(1, align);
        long units = (count + align - 1) / align;
        Sgemm.ParallelFor(threads, ranges, r =>
        {
            long start = Math.Min(count, r * units / ranges * align), end = Math.Min(count, (r + 1) * units / ranges * align);
            if (end > start) body(start, end);
        });
    }

    /// <summary>How many ranges <see cref="For"/> cuts <paramref name="count"/> items into (1: the loop stays on the calling thread).</summary>
    public static long Ranges(int threads, long count, long minItems)
    {
        if (threads <= 1 || count < 2 * Math.Max(1, minItems)) return 1;
        return Math.Max(1, Math.Min(threads * RangesPerThread, count / Math.Max(1, minItems)));
    }
}
