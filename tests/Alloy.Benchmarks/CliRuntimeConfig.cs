using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;

namespace Alloy.Benchmarks;

/// <summary>
/// Runs benchmarks under the garbage-collector settings the <c>alloy</c> command ships with
/// (compiler/Alloy.Cli/Alloy.Cli.csproj: workstation, non-concurrent, memory retained), so the figures are
/// the ones a user of the command sees.
/// </summary>
public sealed class CliRuntimeConfig : ManualConfig
{
    public CliRuntimeConfig() =>
        AddJob(Job.Default.WithGcServer(false).WithGcConcurrent(false).WithGcRetainVm(true).WithId("alloy-cli-gc"));
}
