namespace Alloy.Testing;

/// <summary>Locates the repository, its golden folder and the model corpus beside it.</summary>
public static class RepoPaths
{
    private static readonly Lazy<string> RootLazy = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Compiler.sln"))) return dir.FullName;
        throw new InvalidOperationException($"cannot find the repository root (Compiler.sln) above {AppContext.BaseDirectory}");
    });

    public static string Root => RootLazy.Value;
    public static string Golden => Path.Combine(Root, "golden");

    /// <summary>The model corpus: <c>ALLOY_CORPUS</c>, else <c>../shared/corpus</c> beside the repository.</summary>
    public static string Corpus
    {
        get
        {
            var fromEnv = Environment.GetEnvironmentVariable("ALLOY_CORPUS");
            var path = !string.IsNullOrEmpty(fromEnv) ? fromEnv : Path.GetFullPath(Path.Combine(Root, "..", "shared", "corpus"));
            if (!Directory.Exists(Path.Combine(path, "models")))
                throw new InvalidOperationException($"the model corpus is not at {path}; set ALLOY_CORPUS to the folder that holds models/");
            return path;
        }
    }

    public static string CorpusModels => Path.Combine(Corpus, "models");
}
