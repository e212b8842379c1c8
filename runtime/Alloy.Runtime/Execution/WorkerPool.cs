using System.Diagnostics;

namespace Alloy.Runtime.Execution;

/// <summary>
/// The threads the kernels split their work over: persistent background workers that, after a job, spin for a short
/// while (<see cref="SpinMicroseconds"/>) before they sleep, so the next kernel of a plan finds them awake. A kernel
/// step lasts 0.1–5 ms; waking a sleeping thread-pool thread for each one costs tens of microseconds per step and
/// leaves the second core idle while it wakes. The calling thread takes part in its own job; each participant runs its
/// own share of the indices first and then helps with the others' (see <see cref="Job"/>), so uneven tasks balance.
/// One job runs at a time: a call made while the pool is busy (a nested loop, or a second plan running on another
/// thread) runs its loop on the calling thread.
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
        if (threads <= 1 || count <= 1 || count > int.MaxValue || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
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
            job.Work(0);
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
            if (Volatile.Read(ref _current) is { } job && Interlocked.Decrement(ref job.Seats) is var seat and >= 0) job.Work(seat + 1);
        }
    }

    /// <summary>An int with a cache line of padding on either side.</summary>
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Explicit, Size = 192)]
    private struct PaddedCounter
    {
        [System.Runtime.InteropServices.FieldOffset(64)] public int Value;
    }

    /// <summary>
    /// One parallel loop. Each participant (seat 0 the calling thread, seats 1… the workers) owns an equal, contiguous
    /// range of the indices and runs it from the bottom, then takes what is left of the others' ranges from their tops.
    /// So a thread that is on time runs the same part of a kernel's output from one step to the next (kernels number
    /// their tasks in output order), keeping that part of the activations in its core's caches, and a thread that
    /// starts late or loses its core for a while still gets its work done by the others.
    /// </summary>
    private sealed class Job
    {
        /// <summary>Longs between two seats' ranges: each range on a cache line of its own.</summary>
        private const int Stride = 8;

        private readonly Action<long> _body;
        private readonly int _participants;
        /// <summary>Per seat, the indices not yet taken: [low, high) packed as low | high &lt;&lt; 32.</summary>
        private readonly long[] _ranges;
        public long Completed;
        public int Seats;
        public Exception? Error;

        public Job(Action<long> body, long count, int seats)
        {
            _body = body;
            Seats = seats;
            _participants = seats + 1;
            _ranges = new long[(_participants + 1) * Stride];
            for (int p = 0; p < _participants; p++)
                _ranges[(p + 1) * Stride] = Pack(count * p / _participants, count * (p + 1) / _participants);
        }

        private static long Pack(long low, long high) => (uint)low | (high << 32);

        public void Work(int seat)
        {
            while (Take(seat, fromTop: false, out long i)) Run(i);
            for (int k = 1; k < _participants; k++)
            {
                int other = (seat + k) % _participants;
                while (Take(other, fromTop: true, out long i)) Run(i);
            }
        }

        private bool Take(int seat, bool fromTop, out long index)
        {
            ref long slot = ref _ranges[(seat + 1) * Stride];
            while (true)
            {
                long current = Volatile.Read(ref slot);
                long low = (uint)current, high = current >>> 32;
                if (low >= high)
                {
                    index = -1;
                    return false;
                }
                long next = fromTop ? Pack(low, high - 1) : Pack(low + 1, high);
                if (Interlocked.CompareExchange(ref slot, next, current) == current)
                {
                    index = fromTop ? high - 1 : low;
                    return true;
                }
            }
        }

        private void Run(long i)
        {
            try
            {
                if (Error is null) _body(i);
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
