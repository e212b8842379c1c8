using System.Diagnostics;
using System.Globalization;
using Alloy.IR;
using Alloy.Onnx;
using Alloy.Passes;
using Alloy.Pipeline;

namespace Alloy.Benchmarks;

/// <summary>
/// <c>pipeline-phases NODES [RUNS]</c>: times each phase of <see cref="PipelineBenchmark.CompileBf16"/> (import,
/// verify, every pass with its verification, export) on the synthetic encoder with a <see cref="Stopwatch"/>, and
/// reports per phase the minimum wall time over the runs, the CPU time of that run, the bytes allocated per node
/// and the garbage collections it caused. A collection is forced before every phase and not counted, so each figure
/// is the phase's own work; the whole operation without forced collections is reported separately.
/// </summary>
public static class PipelinePhaseProfile
{
    private sealed record Sample(string Phase, double WallMs, double CpuMs, long Bytes, int Gen0, int Gen1, int Gen2);

    public static void Run(int nodes, int runs)
    {
        byte[] bytes;
        using (var model = SyntheticModels.Transformer(nodes))
            bytes = OnnxWireWriter.ToBytes(model);
        var passes = StandardPasses.CreateRegistry().Build(PipelineBenchmark.Pipeline);
        var best = new Dictionary<string, Sample>();
        var order = new List<string>();
        var whole = new List<double>();
        var pauses = new List<(double PauseMs, int Gen0, int Gen1, int Gen2)>();
        // Export writes through one reused buffer, as PipelineBenchmark (and alloy compile's file writer) do.
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        for (int run = 0; run < runs + 1; run++)
        {
            var samples = new List<Sample>();
            Model? model = null;
            Measure(samples, "import", () => model = OnnxImporter.FromBytes(bytes, "encoder.onnx", "."));
            Measure(samples, "verify", () => Verifier.Check(model!));
            foreach (var pass in passes.Passes)
            {
                var context = new PassContext(pass.Id);
                Measure(samples, pass.Id, () => pass.Run(model!, context));
                Measure(samples, "verify " + pass.Id, () => Verifier.Check(model!));
            }
            Measure(samples, "export", () =>
            {
                output.ResetWrittenCount();
                OnnxWireWriter.WriteTo(model!, output);
            });
            model!.Dispose();
            if (run == 0) continue; // warm-up
            foreach (var s in samples)
            {
                if (!best.TryGetValue(s.Phase, out var b)) order.Add(s.Phase);
                if (b is null || s.WallMs < b.WallMs) best[s.Phase] = s;
            }
            GC.Collect();
            var pause = GC.GetTotalPauseDuration();
            int g0 = GC.CollectionCount(0), g1 = GC.CollectionCount(1), g2 = GC.CollectionCount(2);
            var clock = Stopwatch.StartNew();
            using (var m = OnnxImporter.FromBytes(bytes, "encoder.onnx", "."))
            {
                Verifier.Check(m);
                passes.Run(m);
                output.ResetWrittenCount();
                OnnxWireWriter.WriteTo(m, output);
            }
            whole.Add(clock.Elapsed.TotalMilliseconds);
            pauses.Add(((GC.GetTotalPauseDuration() - pause).TotalMilliseconds,
                GC.CollectionCount(0) - g0, GC.CollectionCount(1) - g1, GC.CollectionCount(2) - g2));
        }
        Console.WriteLine($"nodes {nodes}, {runs} runs, minimum per phase");
        Console.WriteLine($"{"phase",-24} {"wall ms",9} {"cpu ms",9} {"B/node",8} {"gen0",5} {"gen1",5} {"gen2",5}");
        double sum = 0;
        foreach (var phase in order)
        {
            var s = best[phase];
            sum += s.WallMs;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{phase,-24} {s.WallMs,9:F1} {s.CpuMs,9:F1} {s.Bytes / (double)nodes,8:F0} {s.Gen0,5} {s.Gen1,5} {s.Gen2,5}"));
        }
        whole.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"sum of phases",-24} {sum,9:F1}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{"whole (min / median)",-24} {whole[0],9:F1} {whole[whole.Count / 2],9:F1}"));
        foreach (var (p, g0, g1, g2) in pauses)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{"whole: GC pauses",-24} {p,9:F1} ms, collections gen0 {g0}, gen1 {g1}, gen2 {g2}"));
    }

    /// <summary>
    /// <c>pipeline-digest NODES</c>: the SHA-256 of what <see cref="PipelineBenchmark.CompileBf16"/> produces (the
    /// exported bytes and the printed IR) and the pipeline's statistics, to compare two builds of the passes.
    /// </summary>
    public static void Digest(int nodes)
    {
        byte[] bytes;
        using (var model = SyntheticModels.Transformer(nodes))
            bytes = OnnxWireWriter.ToBytes(model);
        using var m = OnnxImporter.FromBytes(bytes, "encoder.onnx", ".");
        var report = StandardPasses.CreateRegistry().Build(PipelineBenchmark.Pipeline).Run(m);
        var output = OnnxWireWriter.ToBytes(m);
        var text = System.Text.Encoding.UTF8.GetBytes(IrPrinter.Print(m));
        Console.WriteLine($"onnx {Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(output))} {output.Length} bytes");
        Console.WriteLine($"ir   {Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(text))} {text.Length} bytes");
        foreach (var pass in report.Passes)
            foreach (var (name, _, value) in pass.Statistics)
                Console.WriteLine($"{pass.PassId} {name} {value}");
    }

    private static void Measure(List<Sample> samples, string phase, Action action)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        long bytes = GC.GetAllocatedBytesForCurrentThread();
        int g0 = GC.CollectionCount(0), g1 = GC.CollectionCount(1), g2 = GC.CollectionCount(2);
        var clock = Stopwatch.StartNew();
        action();
        double wall = clock.Elapsed.TotalMilliseconds;
        process.Refresh();
        samples.Add(new(phase, wall, (process.TotalProcessorTime - cpu).TotalMilliseconds,
            GC.GetAllocatedBytesForCurrentThread() - bytes,
            GC.CollectionCount(0) - g0, GC.CollectionCount(1) - g1, GC.CollectionCount(2) - g2));
    }
}
