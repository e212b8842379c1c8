using System.Globalization;
using Alloy.Tuning;
using Spectre.Console;

namespace Alloy.Cli;

/// <summary>
/// Progress of <c>alloy tune</c> on stderr: trial i of N, phase, candidate, current and best metric, elapsed and
/// estimated time left. On a terminal a Spectre.Console progress bar; otherwise one plain line per trial.
/// </summary>
public static class TuneProgress
{
    /// <summary>Runs <paramref name="work"/> with a progress display suited to <paramref name="stderr"/>.</summary>
    public static T Run<T>(TextWriter stderr, int maxTrials, Func<ITuningProgress, T> work)
    {
        bool interactive = ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected;
        if (!interactive) return work(new PlainLine(stderr));
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        T result = default!;
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("tune: starting", maxValue: maxTrials);
                result = work(new Bar(task));
                task.StopTask();
            });
        return result;
    }

    private static string Metric(double? v) => v is { } d ? d.ToString("G6", CultureInfo.InvariantCulture) : "-";

    internal static string Text(TuningProgress p)
    {
        var left = p.Remaining is { } r ? $", ~{r.TotalSeconds:F0} s left" : "";
        return string.Create(CultureInfo.InvariantCulture,
            $"tune: trial {p.Trial}/{p.MaxTrials} [{p.Phase}] {p.Candidate} | current {Metric(p.Current)} | best {Metric(p.Best)} | {p.Elapsed.TotalSeconds:F1} s{left}");
    }

    /// <summary>One line per completed trial (and the final one).</summary>
    private sealed class PlainLine(TextWriter writer) : ITuningProgress
    {
        private int _lastTrial = -1;

        public void Report(TuningProgress p)
        {
            if (p.Finished || p.Trial != _lastTrial) writer.WriteLine(Text(p));
            _lastTrial = p.Trial;
            writer.Flush();
        }
    }

    /// <summary>A Spectre.Console progress task: the bar counts trials, the description holds the rest.</summary>
    private sealed class Bar(ProgressTask task) : ITuningProgress
    {
        public void Report(TuningProgress p)
        {
            var left = p.Remaining is { } r ? $" ~{r.TotalSeconds:F0}s left" : "";
            task.Description = Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                $"trial {p.Trial}/{p.MaxTrials} [{p.Phase}] {Shorten(p.Candidate)} current {Metric(p.Current)} best {Metric(p.Best)} {p.Elapsed.TotalSeconds:F0}s{left}"));
            task.Value = p.Finished ? task.MaxValue : p.Trial;
        }

        private static string Shorten(string s) => s.Length <= 48 ? s : s[..45] + "...";
    }
}
