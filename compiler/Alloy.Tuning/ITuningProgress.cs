namespace Alloy.Tuning;

/// <summary>Where the tuner reports its progress (a progress bar, a log line).</summary>
public interface ITuningProgress
{
    void Report(TuningProgress progress);
}
