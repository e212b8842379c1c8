using System.Diagnostics;

namespace Alloy.Testing;

/// <summary>Runs <c>onnx.checker.check_model(full_check=True)</c> of Debian's python3-onnx on a file.</summary>
public static class OnnxChecker
{
    public const string Python = "/usr/bin/python3";

    /// <summary>Null when the checker accepts the model; otherwise its complaint (or that it did not finish in time).</summary>
    public static string? Check(string path, int timeoutMs = 180_000)
    {
        var psi = new ProcessStartInfo(Python)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("import sys, onnx; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)");
        psi.ArgumentList.Add(path);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {Python}");
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(timeoutMs))
        {
            p.Kill(true);
            return $"the ONNX checker did not finish within {timeoutMs / 1000} s";
        }
        return p.ExitCode == 0 ? null : stderr.Result.Trim();
    }
}
