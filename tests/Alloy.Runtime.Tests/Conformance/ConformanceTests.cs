using System.Collections.Concurrent;
using Alloy.Runtime.Kernels;
using Xunit;

namespace Alloy.Runtime.Tests.Conformance;

/// <summary>
/// The ONNX backend conformance data run on the reference kernels. A case runs here when every op it uses has
/// a kernel and it is not listed in known-failures.txt; the rest are listed with their reasons in
/// docs/conformance.md, which <see cref="ConformanceReportTests"/> keeps current.
/// </summary>
public sealed class ConformanceTests
{
    public static TheoryData<string> Expected()
    {
        var data = new TheoryData<string>();
        foreach (var (c, why) in ConformanceSuite.Classified)
            if (why is null && !ConformanceSuite.KnownFailures.ContainsKey(c.Id)) data.Add(c.Id);
        return data;
    }

    [Theory]
    [MemberData(nameof(Expected))]
    public void OutputsMatchTheReference(string id)
    {
        var problems = ConformanceSuite.Result(id);
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }
}

/// <summary>Shared state: the cases, their support status, the known failures and each case's result (run once).</summary>
internal static class ConformanceSuite
{
    private static readonly Lazy<KernelRegistry> Registry = new(KernelRegistry.Reference);
    private static readonly Lazy<IReadOnlyList<(ConformanceCase Case, string? Unsupported)>> Cases =
        new(() => ConformanceCase.All().Select(c => (c, c.UnsupportedReason(Registry.Value))).ToList());
    private static readonly ConcurrentDictionary<string, Lazy<IReadOnlyList<string>>> Results = new();
    private static readonly Lazy<IReadOnlyDictionary<string, string>> Known = new(LoadKnownFailures);

    public static IReadOnlyList<(ConformanceCase Case, string? Unsupported)> Classified => Cases.Value;
    public static IReadOnlyDictionary<string, string> KnownFailures => Known.Value;

    public static IReadOnlyList<string> Result(string id) =>
        Results.GetOrAdd(id, key => new Lazy<IReadOnlyList<string>>(() =>
        {
            var c = Cases.Value.Single(x => x.Case.Id == key).Case;
            try
            {
                return c.Run(Registry.Value);
            }
            catch (Exception e)
            {
                return [$"{e.GetType().Name}: {e.Message}"];
            }
        })).Value;

    public static string KnownFailuresPath => Path.Combine(Alloy.Testing.RepoPaths.Root, "tests", "Alloy.Runtime.Tests", "Conformance", "known-failures.txt");

    /// <summary>Lines <c>suite/case  reason</c>; '#' starts a comment.</summary>
    private static IReadOnlyDictionary<string, string> LoadKnownFailures()
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!File.Exists(KnownFailuresPath)) return map;
        foreach (var raw in File.ReadAllLines(KnownFailuresPath))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var split = line.IndexOfAny([' ', '\t']);
            map[split < 0 ? line : line[..split]] = split < 0 ? "" : line[split..].Trim();
        }
        return map;
    }
}
