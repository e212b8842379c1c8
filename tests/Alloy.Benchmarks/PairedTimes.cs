using System.Diagnostics;

namespace Alloy.Benchmarks;

/// <summary>
/// Times two engines in alternating short blocks on the same input and reports their ratio block pair by block pair.
/// On a machine whose speed changes over time (a virtual machine whose cores the host moves, other tenants), two
/// engines measured one after the other in separate benchmark cases can land in different speed phases, while within
/// a pair of blocks a fraction of a second apart both see the same machine. Each block runs one engine repeatedly for
/// at least <see cref="BlockTime"/> and keeps the median of its runs after the first. Before a block the thread pauses
/// for <see cref="SettleTime"/>, so the other engine's worker threads, which spin for a while after their last task
/// before they sleep, no longer compete for the cores; the first, untimed run wakes the block's own workers. The order
/// of the two blocks alternates from pair to pair.
/// </summary>
public sealed class PairedTimes
{
    /// <summary>How long a block runs one engine at least.</summary>
    public static readonly TimeSpan BlockTime = TimeSpan.FromMilliseconds(60);

    /// <summary>The pause before a block, longer than either engine's idle workers spin.</summary>
    public static readonly TimeSpan SettleTime = TimeSpan.FromMilliseconds(20);

    /// <summary>Runs per block at least (the first is not counted).</summary>
    public const int MinRuns = 4;

    private readonly List<(double First, double Second)> _pairs = [];
    private bool _secondFirst;

    /// <summary>One block of <paramref name="first"/> and one of <paramref name="second"/>, in alternating order; records both medians.</summary>
    public void Run(Action first, Action second)
    {
        double a, b;
        if (_secondFirst)
        {
            b = Block(second);
            a = Block(first);
        }
        else
        {
            a = Block(first);
            b = Block(second);
        }
        _secondFirst = !_secondFirst;
        _pairs.Add((a, b));
    }

    /// <summary>Block pairs recorded so far.</summary>
    public int Count => _pairs.Count;

    /// <summary>Medians over block pairs of the first engine's time, the second's, and second / first (times in seconds).</summary>
    public (double First, double Second, double SecondOverFirst) Medians() =>
        _pairs.Count == 0
            ? (0, 0, 0)
            : (Median(_pairs.Select(p => p.First)), Median(_pairs.Select(p => p.Second)), Median(_pairs.Select(p => p.Second / p.First)));

    /// <summary>The median time of the runs after the first, running <paramref name="action"/> for at least <see cref="BlockTime"/>.</summary>
    private static double Block(Action action)
    {
        Thread.Sleep(SettleTime);
        action();
        var times = new List<double>();
        long start = Stopwatch.GetTimestamp();
        while (times.Count < MinRuns - 1 || Stopwatch.GetElapsedTime(start) < BlockTime)
        {
            long t0 = Stopwatch.GetTimestamp();
            action();
            times.Add(Stopwatch.GetElapsedTime(t0).TotalSeconds);
        }
        return Median(times);
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}
