using System.Diagnostics;
using System.Text.Json;

namespace Alloy.Onnx.Tests;

/// <summary>One result line of tests/tools/onnx_semantic_compare.py.</summary>
public sealed record CompareResult(
    string Original,
    string Exported,
    bool Equal,
    IReadOnlyList<string> Differences,
    string CheckerOriginal,
    string CheckerExported)
{
    public bool OriginalPassesChecker => CheckerOriginal == "ok";
    public bool ExportedPassesChecker => CheckerExported == "ok";
}

/// <summary>Runs the Python semantic comparer once for a batch of (original, exported) pairs.</summary>
public static class SemanticComparer
{
    public static IReadOnlyList<CompareResult> Compare(IReadOnlyList<(string Original, string Exported)> pairs, TimeSpan? timeout = null)
    {
        if (pairs.Count == 0) return [];
        if (!File.Exists(TestEnvironment.Python))
            throw new InvalidOperationException($"{TestEnvironment.Python} does not exist; {TestEnvironment.SetupHint}");
        var script = TestEnvironment.ComparerScript;
        if (!File.Exists(script)) throw new InvalidOperationException($"the comparer script {script} is missing");

        var work = TestEnvironment.NewTempFolder("compare");
        try
        {
            var input = Path.Combine(work, "pairs.json");
            var output = Path.Combine(work, "results.jsonl");
            File.WriteAllText(input, JsonSerializer.Serialize(pairs.Select(p => new Dictionary<string, string>
            {
                ["original"] = p.Original,
                ["exported"] = p.Exported,
            })));

            var psi = new ProcessStartInfo(TestEnvironment.Python)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            psi.ArgumentList.Add(script);
            psi.ArgumentList.Add(input);
            psi.ArgumentList.Add("--out");
            psi.ArgumentList.Add(output);
            psi.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
            using var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start python");
            var stderr = process.StandardError.ReadToEndAsync();
            var stdout = process.StandardOutput.ReadToEndAsync();
            if (!process.WaitForExit(timeout ?? TimeSpan.FromMinutes(5)))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"the semantic comparer did not finish in time; stderr: {stderr.Result}");
            }
            process.WaitForExit();
            if (process.ExitCode != 0)
                throw new InvalidOperationException(
                    $"the semantic comparer failed with exit code {process.ExitCode} (is python3-onnx installed for {TestEnvironment.Python}? {TestEnvironment.SetupHint}):\n{stderr.Result}\n{stdout.Result}");

            var results = new List<CompareResult>(pairs.Count);
            foreach (var line in File.ReadLines(output))
            {
                if (line.Length == 0) continue;
                using var doc = JsonDocument.Parse(line);
                var r = doc.RootElement;
                results.Add(new CompareResult(
                    r.GetProperty("original").GetString() ?? "",
                    r.GetProperty("exported").GetString() ?? "",
                    r.GetProperty("equal").GetBoolean(),
                    [.. r.GetProperty("differences").EnumerateArray().Select(e => e.GetString() ?? "")],
                    r.GetProperty("checker_original").GetString() ?? "",
                    r.GetProperty("checker_exported").GetString() ?? ""));
            }
            if (results.Count != pairs.Count)
                throw new InvalidOperationException($"the semantic comparer returned {results.Count} results for {pairs.Count} pairs:\n{stderr.Result}");
            return results;
        }
        finally
        {
            TestEnvironment.DeleteFolder(work);
        }
    }

    public static CompareResult CompareOne(string original, string exported) => Compare([(original, exported)])[0];

    public static string Describe(CompareResult r) =>
        $"{r.Differences.Count} difference(s) between {r.Original} and {r.Exported}:\n  " + string.Join("\n  ", r.Differences);
}
