using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Alloy.Runtime.Execution;

/// <summary>
/// What one plan step cost over the runs a profile saw: the plan and step, the node and its op, how many times it ran,
/// its total and fastest wall time, and the CPU time the whole process spent while it ran (all threads; on an otherwise
/// idle process, CPU / wall is the number of cores the step kept busy).
/// </summary>
public readonly record struct StepTiming(string Plan, int Step, string Node, string Op, long Runs, double TotalMs, double MinMs, double CpuMs);

/// <summary>
/// An opt-in per-step profile of <see cref="PlanExecutor"/> runs (<see cref="PlanExecutor.Profile"/>): each step is
/// timed with <see cref="Stopwatch"/> around its kernel call, plus the process's CPU time over the same interval
/// (<see cref="ProcessCpuClock"/>), so
/// a report shows where a run spends its time and whether the second core worked during it. Steps of subgraph plans
/// are recorded under their own plan's name. Safe to share between threads; profiling adds two clock reads and one
/// process-time read per step, so leave it off when timing whole runs.
/// </summary>
public sealed class ExecutionProfile
{
    private readonly Lock _gate = new();
    private readonly Dictionary<(ExecutionPlan Plan, int Step), Entry> _entries = [];
    private readonly List<(ExecutionPlan Plan, int Step)> _order = [];

    /// <summary>The steps recorded so far, in the order they first ran.</summary>
    public IReadOnlyList<StepTiming> Steps
    {
        get
        {
            lock (_gate)
                return _order.Select(k => _entries[k].Timing(k.Plan, k.Step)).ToList();
        }
    }

    /// <summary>Forgets everything recorded (e.g. after warm-up runs).</summary>
    public void Clear()
    {
        lock (_gate)
        {
            _entries.Clear();
            _order.Clear();
        }
    }

    internal static long Timestamp() => Stopwatch.GetTimestamp();

    internal void Record(ExecutionPlan plan, int step, long startTicks, long endTicks, double cpuMs)
    {
        double ms = (endTicks - startTicks) * 1000.0 / Stopwatch.Frequency;
        lock (_gate)
        {
            if (!_entries.TryGetValue((plan, step), out var e))
            {
                _entries[(plan, step)] = e = new Entry();
                _order.Add((plan, step));
            }
            e.Runs++;
            e.TotalMs += ms;
            e.MinMs = Math.Min(e.MinMs, ms);
            e.CpuMs += cpuMs;
        }
    }

    /// <summary>
    /// A text report: per op type (steps, runs, mean ms per run of the plan, share, CPU / wall), then the
    /// <paramref name="top"/> most expensive steps.
    /// </summary>
    public string Format(int top = 20)
    {
        var steps = Steps;
        var sb = new StringBuilder();
        if (steps.Count == 0) return "profile: no steps ran\n";
        // Runs of the plan: the most frequent run count (a step inside a Loop body runs more often).
        long planRuns = steps.GroupBy(s => s.Runs).OrderByDescending(g => g.Count()).First().Key;
        double total = steps.Sum(s => s.TotalMs);
        var inv = CultureInfo.InvariantCulture;
        sb.AppendLine(string.Create(inv, $"profile over {planRuns} runs: {total / planRuns:F3} ms per run in {steps.Count} steps"));
        // Each step's fastest run added up: what a run costs when nothing else competes for the cores.
        sb.AppendLine(string.Create(inv, $"fastest step times added up: {steps.Sum(s => s.MinMs * s.Runs / planRuns):F3} ms per run"));
        sb.AppendLine("op                       steps   ms/run   share  cpu/wall");
        foreach (var g in steps.GroupBy(s => s.Op).OrderByDescending(g => g.Sum(s => s.TotalMs)))
        {
            double ms = g.Sum(s => s.TotalMs), cpu = g.Sum(s => s.CpuMs);
            sb.AppendLine(string.Create(inv, $"{Clip(g.Key, 24),-24} {g.Count(),5} {ms / planRuns,8:F3} {100 * ms / total,6:F1}% {(ms > 0 ? cpu / ms : 0),8:F2}"));
        }
        sb.AppendLine(string.Create(inv, $"{$"top {Math.Min(top, steps.Count)} steps",-50} step  mean ms   min ms  cpu/wall"));
        foreach (var s in steps.OrderByDescending(s => s.TotalMs).Take(top))
        {
            double mean = s.TotalMs / s.Runs;
            sb.AppendLine(string.Create(inv, $"{Clip($"{s.Op} {s.Node}", 50),-50} {s.Step,5} {mean,8:F3} {s.MinMs,8:F3} {(s.TotalMs > 0 ? s.CpuMs / s.TotalMs : 0),8:F2}"));
        }
        return sb.ToString();
    }

    private static string Clip(string s, int width) => s.Length <= width ? s : s[..(width - 1)] + "…";

    private sealed class Entry
    {
        public long Runs;
        public double TotalMs, MinMs = double.PositiveInfinity, CpuMs;

        public StepTiming Timing(ExecutionPlan plan, int step)
        {
            var node = plan.Steps[step].Node;
            return new StepTiming(plan.Name, step, node.Name, node.OpType, Runs, TotalMs, MinMs, CpuMs);
        }
    }
}
