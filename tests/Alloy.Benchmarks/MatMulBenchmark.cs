using Alloy.Runtime;
using Alloy.Runtime.Execution;
using Alloy.Runtime.Kernels;
using Alloy.Runtime.Kernels.Managed;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Alloy.Benchmarks;

/// <summary>
/// A 1024×1024×1024 float32 MatMul through the managed kernel (as a plan step runs it: output allocated by the
/// kernel) on 1 and 2 threads, at the widest ISA of the machine and at Vector256. The GFLOP/s column is
/// 2·1024³ / mean; the figure to compare with the machine's FP32 peak (FMA units × lanes × 2 × clock × threads).
/// On a shared machine the wall-clock mean includes time the benchmark waited for a core, so the global cleanup also
/// prints a CPU-time figure (see <see cref="CpuTimeMeter"/>): GFLOP/s per busy core.
/// </summary>
[Config(typeof(ShortRunConfig))]
[GflopsColumn]
public class MatMulBenchmark
{
    public const int Size = 1024;
    public const double Flops = 2.0 * Size * Size * Size;

    private Tensor _a = null!, _b = null!;
    private IKernel _kernel = null!;
    private KernelContext _context = null!;
    private readonly Tensor?[] _inputs = new Tensor?[2];
    private readonly Tensor?[] _outputs = new Tensor?[1];
    private readonly CpuTimeMeter _meter = new();

    [Params(1, 2)]
    public int Threads { get; set; }

    [ParamsSource(nameof(Isas))]
    public ManagedIsa Isa { get; set; }

    /// <summary>The machine's widest ISA, and Vector256 below it.</summary>
    public static IEnumerable<ManagedIsa> Isas() =>
        ManagedKernels.DefaultIsa > ManagedIsa.Vector256 ? [ManagedKernels.DefaultIsa, ManagedIsa.Vector256] : [ManagedKernels.DefaultIsa];

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1024);
        var values = new float[Size * Size];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        _a = Tensor.FromFloats([Size, Size], values);
        for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        _b = Tensor.FromFloats([Size, Size], values);
        _inputs[0] = _a;
        _inputs[1] = _b;
        var node = new KernelNode("MatMul", "", 13, AttributeMap.Empty, [ElementType.Float, ElementType.Float], 1, "matmul");
        _kernel = ManagedKernels.CreateRegistry(Isa).Create(node, out var reason) ?? throw new InvalidOperationException(reason);
        _context = new KernelContext(new PlanExecutor(Threads), Threads);
        _meter.Start();
    }

    [Benchmark]
    public void MatMul1024()
    {
        _kernel.Run(_context, _inputs, _outputs);
        _outputs[0]!.Dispose();
        _meter.Count();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        var (cpuPerOp, wallPerOp) = _meter.PerOperation();
        Console.WriteLine($"// MatMul1024 Threads={Threads} Isa={Isa}: {cpuPerOp * 1e3:F2} ms CPU per op ({Flops / cpuPerOp / 1e9:F1} GFLOP/s per busy core, " +
                          $"{Flops * Threads / cpuPerOp / 1e9:F1} GFLOP/s if all {Threads} thread(s) had a core), {wallPerOp * 1e3:F2} ms wall per op");
        _a.Dispose();
        _b.Dispose();
    }
}

/// <summary>Adds <see cref="GflopsColumn"/> to a benchmark class.</summary>
public sealed class GflopsColumnAttribute : BenchmarkDotNet.Attributes.ColumnConfigBaseAttribute
{
    public GflopsColumnAttribute() : base(new GflopsColumn()) { }
}

/// <summary>GFLOP/s of <see cref="MatMulBenchmark"/>: 2·1024³ floating-point operations over the mean time.</summary>
public sealed class GflopsColumn : IColumn
{
    public string Id => "GFLOPs";
    public string ColumnName => "GFLOP/s";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "2*1024^3 / mean, in 10^9 floating-point operations per second";

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var stats = summary[benchmarkCase]?.ResultStatistics;
        return stats is null || stats.Mean <= 0 ? "NA" : (MatMulBenchmark.Flops / stats.Mean).ToString("F1", System.Globalization.CultureInfo.InvariantCulture);
    }

    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public override string ToString() => ColumnName;
}

/// <summary>
/// Process CPU time and wall time over every invocation of a benchmark process (pilot, warm-up and measured ones):
/// CPU time per operation is what the work costs when it runs, whatever the machine's load.
/// </summary>
public sealed class CpuTimeMeter
{
    private TimeSpan _cpu0;
    private long _wall0, _count;

    public void Start()
    {
        _cpu0 = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
        _wall0 = System.Diagnostics.Stopwatch.GetTimestamp();
        _count = 0;
    }

    /// <summary>The label of the last counted operation (the benchmark method, as a process runs one).</summary>
    public string Label { get; private set; } = "";

    public void Count(string label = "")
    {
        _count++;
        Label = label;
    }

    /// <summary>Seconds of CPU time and of wall time per counted operation.</summary>
    public (double Cpu, double Wall) PerOperation()
    {
        var cpu = (System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - _cpu0).TotalSeconds;
        var wall = System.Diagnostics.Stopwatch.GetElapsedTime(_wall0).TotalSeconds;
        return _count == 0 ? (double.NaN, double.NaN) : (cpu / _count, wall / _count);
    }
}
