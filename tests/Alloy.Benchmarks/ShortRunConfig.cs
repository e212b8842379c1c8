using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace Alloy.Benchmarks;

/// <summary>
/// A short measurement (one launch, 3 warm-up and 10 measured iterations of at least 250 ms) run in the benchmark
/// process itself (no generated project to build, which on a loaded machine can exceed BenchmarkDotNet's build
/// timeout). The runtime benchmarks compare engines side by side in the same run, so a short job on a shared
/// machine gives comparable ratios in minutes. Native tensor memory dominates these benchmarks, so the process's
/// default garbage-collector settings are used.
/// </summary>
public sealed class ShortRunConfig : ManualConfig
{
    public ShortRunConfig() =>
        AddJob(Job.Default
            .WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(10)
            .WithIterationTime(Perfolizer.Horology.TimeInterval.FromMilliseconds(250))
            .WithToolchain(InProcessEmitToolchain.Instance)
            .WithId("short-inprocess"));
}
