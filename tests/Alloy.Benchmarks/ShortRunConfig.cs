using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;

namespace Alloy.Benchmarks;

/// <summary>
/// The <see cref="CliRuntimeConfig"/> garbage-collector settings with a short measurement (one launch, 3 warm-up and
/// 10 measured iterations of at least 250 ms): the runtime benchmarks compare engines side by side in the same process
/// run, so a short job on a shared machine gives comparable ratios in minutes rather than hours.
/// </summary>
public sealed class ShortRunConfig : ManualConfig
{
    public ShortRunConfig() =>
        AddJob(Job.Default.WithGcServer(false).WithGcConcurrent(false).WithGcRetainVm(true)
            .WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(10)
            .WithIterationTime(Perfolizer.Horology.TimeInterval.FromMilliseconds(250))
            .WithId("short"));
}
