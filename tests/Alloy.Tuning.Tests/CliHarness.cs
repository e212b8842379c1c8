using Alloy.Cli;

namespace Alloy.Tuning.Tests;

/// <summary>Runs the alloy command tree in-process and captures its streams and exit code.</summary>
public sealed record CliResult(int ExitCode, string Stdout, string Stderr);

public static class CliHarness
{
    public static CliResult Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var parse = Commands.Build(stdout, stderr).Parse(args);
        var code = parse.Invoke(new System.CommandLine.InvocationConfiguration { Output = stdout, Error = stderr });
        return new CliResult(code, stdout.ToString(), stderr.ToString());
    }
}
