using Alloy.IR;

namespace Alloy.Pipeline;

public enum DiagnosticSeverity { Note, Warning, Error }

/// <summary>Something a pass wants the user to know, tied to a node when there is one.</summary>
public sealed record Diagnostic(DiagnosticSeverity Severity, string Pass, string? Node, string Message)
{
    public override string ToString() => $"{Severity.ToString().ToLowerInvariant()}: {Pass}: {(Node is null ? "" : $"node {Node}: ")}{Message}";
}

/// <summary>A counter a pass declares once, with its description, and increments as it works.</summary>
public sealed class Statistic(string name, string description)
{
    public string Name { get; } = name;
    public string Description { get; } = description;
    public long Value { get; private set; }
    public void Add(long n = 1) => Value += n;
}

/// <summary>What a running pass reports to, and how it is cancelled.</summary>
public sealed class PassContext(string passId, CancellationToken cancellation = default)
{
    private readonly List<Statistic> _statistics = [];
    private readonly List<Diagnostic> _diagnostics = [];

    public string PassId { get; } = passId;
    public CancellationToken Cancellation { get; } = cancellation;
    public IReadOnlyList<Statistic> Statistics => _statistics;
    public IReadOnlyList<Diagnostic> Diagnostics => _diagnostics;

    /// <summary>True once the pass has changed the IR.</summary>
    public bool Changed { get; private set; }

    public void MarkChanged() => Changed = true;

    /// <summary>Declares a statistic (once per name) and returns it.</summary>
    public Statistic Statistic(string name, string description)
    {
        foreach (var s in _statistics)
            if (s.Name == name) return s;
        var stat = new Statistic(name, description);
        _statistics.Add(stat);
        return stat;
    }

    public void Note(Node? node, string message) => _diagnostics.Add(new(DiagnosticSeverity.Note, PassId, node?.ToString(), message));
    public void Warn(Node? node, string message) => _diagnostics.Add(new(DiagnosticSeverity.Warning, PassId, node?.ToString(), message));
    public void Error(Node? node, string message) => _diagnostics.Add(new(DiagnosticSeverity.Error, PassId, node?.ToString(), message));

    public void ThrowIfCancelled() => Cancellation.ThrowIfCancellationRequested();
}
