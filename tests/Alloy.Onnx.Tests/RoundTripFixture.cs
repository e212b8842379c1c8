using System.Collections.Concurrent;
using Alloy.IR;

namespace Alloy.Onnx.Tests;

/// <summary>What happened to one model: import, verification, export, semantic comparison.</summary>
public sealed class RoundTripOutcome
{
    public required string Relative { get; init; }
    public required string Original { get; init; }
    public string? Exported { get; set; }
    public Exception? ImportError { get; set; }
    public IReadOnlyList<VerifierIssue> VerifierIssues { get; set; } = [];
    public Exception? ExportError { get; set; }
    public CompareResult? Comparison { get; set; }
}

/// <summary>
/// Imports and exports every model of a set once (in parallel, into a temp folder), then runs the Python
/// semantic comparer once over all pairs; the test cases read the cached outcomes.
/// </summary>
public abstract class RoundTripFixture : IDisposable
{
    private readonly string _temp;

    protected RoundTripFixture(string label, string root, IReadOnlyList<string>? relativePaths, string missingMessage)
    {
        _temp = TestEnvironment.NewTempFolder(label);
        Root = root;
        if (relativePaths is null)
        {
            SetupError = missingMessage;
            return;
        }
        Models = relativePaths;

        var outcomes = new ConcurrentDictionary<string, RoundTripOutcome>(StringComparer.Ordinal);
        var indexed = relativePaths.Select((r, i) => (r, i)).ToList();
        Parallel.ForEach(indexed, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, Environment.ProcessorCount) }, item =>
        {
            var (relative, index) = item;
            var outcome = new RoundTripOutcome { Relative = relative, Original = Path.Combine(root, relative) };
            outcomes[relative] = outcome;
            RoundTrip(outcome, Path.Combine(_temp, index.ToString("D5", System.Globalization.CultureInfo.InvariantCulture)));
        });
        Outcomes = outcomes;

        var pairs = relativePaths.Select(r => Outcomes[r]).Where(o => o.Exported is not null).ToList();
        try
        {
            var results = SemanticComparer.Compare([.. pairs.Select(o => (o.Original, o.Exported!))], TimeSpan.FromMinutes(10));
            for (int i = 0; i < pairs.Count; i++) pairs[i].Comparison = results[i];
        }
        catch (Exception e)
        {
            ComparerError = e.Message;
        }
        // The exported files are no longer needed once compared.
        TestEnvironment.DeleteFolder(_temp);
    }

    private static void RoundTrip(RoundTripOutcome outcome, string outDir)
    {
        Model model;
        try
        {
            model = OnnxImporter.Load(outcome.Original);
        }
        catch (Exception e)
        {
            outcome.ImportError = e;
            return;
        }
        using (model)
        {
            outcome.VerifierIssues = Verifier.Verify(model);
            var exported = Path.Combine(outDir, "model.onnx");
            try
            {
                OnnxExporter.Save(model, exported);
                outcome.Exported = exported;
            }
            catch (Exception e)
            {
                outcome.ExportError = e;
            }
        }
    }

    public string Root { get; }
    public IReadOnlyList<string> Models { get; } = [];
    public IReadOnlyDictionary<string, RoundTripOutcome> Outcomes { get; } = new Dictionary<string, RoundTripOutcome>();

    /// <summary>Why no model could be tested (input data missing), or null.</summary>
    public string? SetupError { get; }

    /// <summary>Why the Python comparer could not run, or null.</summary>
    public string? ComparerError { get; }

    /// <summary>The checks every model must pass; throws an xunit assertion naming what went wrong.</summary>
    public void AssertRoundTrip(string relative)
    {
        Xunit.Assert.True(SetupError is null, SetupError);
        Xunit.Assert.True(Outcomes.TryGetValue(relative, out var o), $"no outcome for {relative}");
        Xunit.Assert.True(o!.ImportError is null, $"import of {o.Original} failed: {o.ImportError}");
        Xunit.Assert.True(o.VerifierIssues.Count == 0, $"the IR of {o.Original} fails verification:\n  " + string.Join("\n  ", o.VerifierIssues));
        Xunit.Assert.True(o.ExportError is null, $"export of {o.Original} failed: {o.ExportError}");
        Xunit.Assert.True(ComparerError is null, ComparerError);
        var c = o.Comparison;
        Xunit.Assert.NotNull(c);
        Xunit.Assert.True(c.Equal, SemanticComparer.Describe(c));
        if (c.OriginalPassesChecker)
            Xunit.Assert.True(c.ExportedPassesChecker, $"onnx.checker accepts {o.Original} but rejects the exported model: {c.CheckerExported}");
    }

    /// <summary>Counts of each stage, for the test log.</summary>
    public string Summary()
    {
        if (SetupError is not null) return SetupError;
        var all = Outcomes.Values.ToList();
        int imported = all.Count(o => o.ImportError is null);
        int verified = all.Count(o => o.ImportError is null && o.VerifierIssues.Count == 0);
        int exported = all.Count(o => o.Exported is not null);
        int equal = all.Count(o => o.Comparison is { Equal: true });
        int checkerOriginal = all.Count(o => o.Comparison is { OriginalPassesChecker: true });
        int checkerExported = all.Count(o => o.Comparison is { ExportedPassesChecker: true });
        int checkerKept = all.Count(o => o.Comparison is { OriginalPassesChecker: true, ExportedPassesChecker: true });
        return $"{all.Count} models: {imported} imported, {verified} verified, {exported} exported, {equal} semantically identical; " +
               $"onnx.checker accepts {checkerOriginal} originals and {checkerExported} exports ({checkerKept} of the accepted originals' exports)" +
               (ComparerError is null ? "" : $"; comparer error: {ComparerError}");
    }

    public void Dispose()
    {
        TestEnvironment.DeleteFolder(_temp);
        GC.SuppressFinalize(this);
    }
}

public sealed class ConformanceFixture() : RoundTripFixture("conformance", TestEnvironment.ConformanceRoot,
    TestEnvironment.ConformanceModels(), TestEnvironment.MissingConformanceMessage);

public sealed class CorpusFixture() : RoundTripFixture("corpus", TestEnvironment.CorpusRoot,
    TestEnvironment.CorpusModels(), TestEnvironment.MissingCorpusMessage);
