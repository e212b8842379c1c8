using System.Diagnostics;

namespace Alloy.Runtime.Execution;

/// <summary>
/// The threads the kernels split their work over: persistent background workers that, after a job, spin for a short
/// while (<see cref="SpinMicroseconds"/>) before they sleep, so the next kernel of a plan finds them awake. A kernel
/// step lasts 0.1–5 ms; waking a sleeping thread-pool thread for each one costs tens of microseconds per step and
/// leaves the second core idle while it wakes. The calling thread takes part in its own job; indices are handed out
/// one at a time, so uneven tasks balance. One job runs at a time: a call made while the pool is busy (a nested
/// loop, or a second plan running on another thread) runs its loop on the calling thread.
/// </summary>
public static class WorkerPool
{
    /// <summary>How long an idle worker keeps polling for the next job before it sleeps.</summary>
    public const int SpinMicroseconds = 300;

    private static readonly Lock Gate = new();
    private static readonly SemaphoreSlim Wake = new(0);
    private static readonly List<Thread> Workers = [];
    private static Job? _current;
    // The counters an idle worker polls sit on cache lines of their own: a line shared with data the calling thread
    // writes would be pulled back and forth between the cores on every poll.
    private static PaddedCounter _generationSlot, _sleepersSlot, _busySlot, _parkRequestsSlot;
    private static ref int _generation => ref _generationSlot.Value;
    private static ref int _sleepers => ref _sleepersSlot.Value;
    private static ref int _busy => ref _busySlot.Value;
    private static ref int _parkRequests => ref _parkRequestsSlot.Value;

    /// <summary>
    /// Sends the spinning workers to sleep now instead of at the end of their spin. A native library that runs its
    /// own thread team (oneDNN's OpenMP threads) calls this before a parallel region, so the team does not wait for a
    /// core that an idle worker is polling on.
    /// </summary>
    public static void ParkIdleWorkers()
    {
        Interlocked.Increment(ref _parkRequests);
    }

    /// <summary>Runs <paramref name="body"/> for 0..count-1 on the calling thread and up to threads − 1 workers.</summary>
    internal static void For(int threads, long count, Action<long> body)
    {
        if (threads <= 1 || count <= 1 || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            for (long i = 0; i < count; i++) body(i);
            return;
        }
        try
        {
            int helpers = (int)Math.Min(threads - 1, count - 1);
            EnsureWorkers(helpers);
            var job = new Job(body, count, helpers);
            Volatile.Write(ref _current, job);
            Interlocked.Increment(ref _generation);
            int sleeping = Interlocked.Exchange(ref _sleepers, 0);
            if (sleeping > 0) Wake.Release(sleeping);
            job.Work();
            var spin = new SpinWait();
            while (Volatile.Read(ref job.Completed) < count) spin.SpinOnce(sleep1Threshold: -1);
            Volatile.Write(ref _current, null);
            if (job.Error is { } error) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(error).Throw();
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    private static void EnsureWorkers(int count)
    {
        if (Workers.Count >= count) return;
        lock (Gate)
        {
            while (Workers.Count < count)
            {
                var t = new Thread(WorkerLoop) { IsBackground = true, Name = $"alloy-worker-{Workers.Count + 1}" };
                Workers.Add(t);
                t.Start();
            }
        }
    }

    private static void WorkerLoop()
    {
        int seen = Volatile.Read(ref _generation);
        while (true)
        {
            int parks = Volatile.Read(ref _parkRequests);
            long spinUntil = Stopwatch.GetTimestamp() + Stopwatch.Frequency * SpinMicroseconds / 1_000_000;
            int generation;
            while ((generation = Volatile.Read(ref _generation)) == seen)
            {
                if (Stopwatch.GetTimestamp() < spinUntil && Volatile.Read(ref _parkRequests) == parks)
                {
                    Thread.SpinWait(30);
                    continue;
                }
                Interlocked.Increment(ref _sleepers);
                if (Volatile.Read(ref _generation) == seen) Wake.Wait();
                parks = Volatile.Read(ref _parkRequests);
                spinUntil = Stopwatch.GetTimestamp() + Stopwatch.Frequency * SpinMicroseconds / 1_000_000;
            }
            seen = generation;
            if (Volatile.Read(ref _current) is { } job && Interlocked.Decrement(ref job.Seats) >= 0) job.Work();
        }
    }

    /// <summary>An int with a cache line of padding on either side.</summary>
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Explicit, Size = 192)]
    private struct PaddedCounter
    {
        [System.Runtime.InteropServices.FieldOffset(64)] public int Value;
    }

    /// <summary>One parallel loop: the next index to hand out, how many are done, seats left for workers.</summary>
    private sealed class Job(Action<long> body, long count, int seats)
    {
        private long _next = -1;
        public long Completed;
        public int Seats = seats;
        public Exception? Error;

        public void Work()
        {
            long i;
            while ((i = Interlocked.Increment(ref _next)) < count)
            {
                try
                {
                    if (Error is null) body(i);
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref Error, e, null);
                }
                finally
                {
                    Interlocked.Increment(ref Completed);
                }
            }
        }
    }
}
