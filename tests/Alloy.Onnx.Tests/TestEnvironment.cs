namespace Alloy.Onnx.Tests;

/// <summary>Where the test inputs live: the repository, the model corpus, the ONNX conformance models, Python.</summary>
public static class TestEnvironment
{
    public const string SetupHint = "run the setup script scripts/setup-test-deps.sh (it installs the Debian packages libonnx-testdata and python3-onnx)";

    /// <summary>Debian's libonnx-testdata: the ONNX backend test models.</summary>
    public const string ConformanceRoot = "/usr/share/libonnx-testdata/data";

    /// <summary>The four folders of the conformance data whose models the round-trip tests cover.</summary>
    public static readonly string[] ConformanceFolders = ["node", "pytorch-converted", "pytorch-operator", "simple"];

    /// <summary>Debian's interpreter, which has python3-onnx (a pyenv <c>python3</c> on PATH may not).</summary>
    public const string Python = "/usr/bin/python3";

    private static readonly Lazy<string> RepoRootLazy = new(FindRepoRoot);

    /// <summary>The folder holding Compiler.sln, found by walking up from the test assembly.</summary>
    public static string RepoRoot => RepoRootLazy.Value;

    /// <summary>The model corpus: <c>$ALLOY_CORPUS</c>, else <c>../shared/corpus</c> from the repository root.</summary>
    public static string CorpusRoot
    {
        get
        {
            var env = Environment.GetEnvironmentVariable("ALLOY_CORPUS");
            if (!string.IsNullOrWhiteSpace(env)) return Path.GetFullPath(env);
            return Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "corpus"));
        }
    }

    public static string ComparerScript => Path.Combine(RepoRoot, "tests", "tools", "onnx_semantic_compare.py");

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Compiler.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no folder above {AppContext.BaseDirectory} contains Compiler.sln");
    }

    /// <summary>Conformance model paths relative to <see cref="ConformanceRoot"/> (e.g. <c>node/test_abs/model.onnx</c>), sorted;
    /// null when the data is not installed.</summary>
    public static IReadOnlyList<string>? ConformanceModels()
    {
        if (!Directory.Exists(ConformanceRoot)) return null;
        var list = new List<string>();
        foreach (var folder in ConformanceFolders)
        {
            var dir = Path.Combine(ConformanceRoot, folder);
            if (!Directory.Exists(dir)) return null;
            foreach (var sub in Directory.EnumerateDirectories(dir))
            {
                var model = Path.Combine(sub, "model.onnx");
                if (File.Exists(model)) list.Add(Path.GetRelativePath(ConformanceRoot, model).Replace('\\', '/'));
            }
        }
        list.Sort(StringComparer.Ordinal);
        return list;
    }

    /// <summary>Every <c>.onnx</c> file under the corpus's <c>models</c> folder, relative to <see cref="CorpusRoot"/>;
    /// null when the corpus is missing.</summary>
    public static IReadOnlyList<string>? CorpusModels()
    {
        var models = Path.Combine(CorpusRoot, "models");
        if (!Directory.Exists(models)) return null;
        var list = Directory.EnumerateFiles(models, "*.onnx", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(CorpusRoot, p).Replace('\\', '/'))
            .ToList();
        list.Sort(StringComparer.Ordinal);
        return list;
    }

    public static string MissingConformanceMessage =>
        $"the ONNX conformance models are missing: expected {string.Join(", ", ConformanceFolders.Select(f => Path.Combine(ConformanceRoot, f)))}; {SetupHint}";

    public static string MissingCorpusMessage =>
        $"the model corpus is missing: expected {Path.Combine(CorpusRoot, "models")} (../shared/corpus from the repository root {RepoRoot}, or set ALLOY_CORPUS)";

    /// <summary>A fresh folder under the system temp folder.</summary>
    public static string NewTempFolder(string label)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"alloy-onnx-tests-{label}-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static void DeleteFolder(string dir)
    {
        try
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

/// <summary>A temp folder deleted on dispose.</summary>
public sealed class TempFolder(string label) : IDisposable
{
    public string Path { get; } = TestEnvironment.NewTempFolder(label);
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose() => TestEnvironment.DeleteFolder(Path);
}
