using System.Diagnostics;
using Alloy.IR;

namespace Alloy.Pipeline;

/// <summary>When the pass manager hands the IR text to the host.</summary>
public enum PrintIrMode { None, AfterAll, AfterChange }

public sealed record PassManagerOptions
{
    /// <summary>Run the verifier after every pass (on by default); a pass that leaves invalid IR stops the pipeline.</summary>
    public bool Verify { get; init; } = true;
    public PrintIrMode PrintIr { get; init; } = PrintIrMode.None;
    /// <summary>Receives (position, pass id, IR text) after each printed pass; the host decides where it goes.</summary>
    public Action<int, string, string>? IrSink { get; init; }
    public CancellationToken Cancellation { get; init; }
}

/// <summary>What one pass did.</summary>
public sealed record PassResult(string PassId, TimeSpan WallTime, bool Changed, IReadOnlyList<(string Name, string Description, long Value)> Statistics, IReadOnlyList<Diagnostic> Diagnostics);

/// <summary>What the whole pipeline did, pass by pass.</summary>
public sealed record PipelineReport(IReadOnlyList<PassResult> Passes)
{
    public TimeSpan TotalTime => Passes.Aggregate(TimeSpan.Zero, (t, p) => t + p.WallTime);
    public IEnumerable<Diagnostic> Diagnostics => Passes.SelectMany(p => p.Diagnostics);
}

/// <summary>A pass failed or left IR the verifier rejects.</summary>
public sealed class PipelineException(string message, PipelineReport report, Exception? inner = null) : Exception(message, inner)
{
    public PipelineReport Report { get; } = report;
}

/// <summary>Runs passes in order, verifying after each, timing each and collecting their statistics.</summary>
public sealed class PassManager(IReadOnlyList<IPass> passes)
{
    public IReadOnlyList<IPass> Passes { get; } = passes;

    public PipelineReport Run(Model model, PassManagerOptions? options = null)
    {
        options ??= new PassManagerOptions();
        var results = new List<PassResult>();
        for (int i = 0; i < Passes.Count; i++)
        {
            var pass = Passes[i];
            options.Cancellation.ThrowIfCancellationRequested();
            var context = new PassContext(pass.Id, options.Cancellation);
            var clock = Stopwatch.StartNew();
            try
            {
                pass.Run(model, context);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                results.Add(Result(pass, context, clock.Elapsed));
                throw new PipelineException($"pass '{pass.Id}' failed: {e.Message}", new PipelineReport(results), e);
            }
            results.Add(Result(pass, context, clock.Elapsed));
            if (options.Verify)
            {
                var issues = Verifier.Verify(model);
                if (issues.Count > 0)
                    throw new PipelineException($"pass '{pass.Id}' left invalid IR:\n  " + string.Join("\n  ", issues), new PipelineReport(results));
            }
            if (options.IrSink is { } sink && (options.PrintIr == PrintIrMode.AfterAll || (options.PrintIr == PrintIrMode.AfterChange && context.Changed)))
                sink(i, pass.Id, IrPrinter.Print(model));
            if (context.Diagnostics.Any(d => d.Severity == DiagnosticSeverity.Error))
                throw new PipelineException($"pass '{pass.Id}' reported errors:\n  " + string.Join("\n  ", context.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error)), new PipelineReport(results));
        }
        return new PipelineReport(results);
    }

    private static PassResult Result(IPass pass, PassContext c, TimeSpan time) =>
        new(pass.Id, time, c.Changed, c.Statistics.Select(s => (s.Name, s.Description, s.Value)).ToList(), c.Diagnostics);
}
