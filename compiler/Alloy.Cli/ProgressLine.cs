using System.Globalization;
using Alloy.Tuning;

namespace Alloy.Cli;

/// <summary>
/// Tuning progress on stderr: trial i of N, phase, candidate, current and best metric, elapsed and estimated time
/// left. On a terminal the line is redrawn in place; otherwise one line per completed trial.
/// </summary>
public sealed class ProgressLine(TextWriter writer, bool interactive) : ITuningProgress
{
    private int _lastTrial = -1;

    public void Report(TuningProgress p)
    {
        var inv = CultureInfo.InvariantCulture;
        string Metric(double? v) => v is { } d ? d.ToString("G6", inv) : "-";
        var left = p.Remaining is { } r ? $", ~{r.TotalSeconds:F0} s left" : "";
        var line = string.Create(inv,
            $"tune: trial {p.Trial}/{p.MaxTrials} [{p.Phase}] {p.Candidate} | current {Metric(p.Current)} | best {Metric(p.Best)} | {p.Elapsed.TotalSeconds:F1} s{left}");
        if (interactive)
        {
            writer.Write("\r\u001b[2K" + line);
            if (p.Finished) writer.WriteLine();
        }
        else if (p.Finished || p.Trial != _lastTrial)
        {
            writer.WriteLine(line);
        }
        _lastTrial = p.Trial;
        writer.Flush();
    }
}
