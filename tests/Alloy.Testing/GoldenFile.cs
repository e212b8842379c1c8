using System.Text;

namespace Alloy.Testing;

/// <summary>
/// Compares text against a reviewed golden file. With <c>UPDATE_GOLDEN=1</c> the file is rewritten instead
/// (refused when <c>CI=true</c>); a mismatch fails with a line diff and the command that accepts the change.
/// </summary>
public static class GoldenFile
{
    public static bool UpdateRequested => Environment.GetEnvironmentVariable("UPDATE_GOLDEN") == "1";
    private static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Null when <paramref name="actual"/> matches the file at <paramref name="path"/>; otherwise the failure text.</summary>
    public static string? Check(string path, string actual) => Check(path, actual, UpdateRequested, InCi);

    /// <summary><see cref="Check(string, string)"/> with the update switch and CI flag given explicitly.</summary>
    public static string? Check(string path, string actual, bool update, bool inCi)
    {
        if (update)
        {
            if (inCi) return "UPDATE_GOLDEN=1 is refused when CI=true: golden files change only in a reviewed commit";
            if (!File.Exists(path) || File.ReadAllText(path) != actual)
                File.WriteAllText(path, actual, new UTF8Encoding(false));
            return null;
        }
        if (!File.Exists(path))
            return $"golden file {Relative(path)} does not exist.\nCreate it after reviewing the output: {UpdateCommand(path)}";
        var expected = File.ReadAllText(path);
        if (expected == actual) return null;
        return $"output differs from {Relative(path)}:\n{LineDiff.Format(expected, actual)}\nIf the change is intended, review it and accept it with: {UpdateCommand(path)}";
    }

    /// <summary>Throws with the failure text when the output does not match.</summary>
    public static void Assert(string path, string actual)
    {
        if (Check(path, actual) is { } failure) throw new GoldenMismatchException(failure);
    }

    private static string Relative(string path) => Path.GetRelativePath(RepoPaths.Root, path);

    private static string UpdateCommand(string path) =>
        $"UPDATE_GOLDEN=1 dotnet test tests/Alloy.Golden.Tests --filter \"DisplayName~{Path.GetFileName(path).Replace(".expected.ir", "")}\"";
}

public sealed class GoldenMismatchException(string message) : Exception(message);
