using System.Diagnostics;
using Alloy.IR;
using Alloy.Onnx.Proto;
using Xunit;
using Xunit.Abstractions;
using static Alloy.Onnx.Tests.ProtoBuilder;

namespace Alloy.Onnx.Tests;

/// <summary>Runs alone, after the parallel tests, so the memory it measures is its own.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LargeCollection
{
    public const string Name = "Large (not parallel)";
}

/// <summary>A model whose external data is 2.5 GiB: import maps it, export streams it.</summary>
[Collection(LargeCollection.Name)]
public sealed class LargeModelTests(ITestOutputHelper output)
{
    private const long GiB = 1L << 30;
    private const long MiB = 1L << 20;

    private static readonly (string Name, long[] Dims)[] Tensors =
    [
        ("big_a", [256, 1024, 1024]),  // 1 GiB of float
        ("big_b", [256, 1024, 1024]),  // 1 GiB
        ("big_c", [128, 1024, 1024]),  // 0.5 GiB
    ];

    private static long Bytes(long[] dims) => dims.Aggregate(4L, (a, d) => a * d);

    /// <summary>Linux: resets the peak resident set size (VmHWM) to the current size, so the peak measures this test.</summary>
    private static bool ResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static long Peak()
    {
        using var p = Process.GetCurrentProcess();
        p.Refresh();
        return p.PeakWorkingSet64;
    }

    [Fact]
    [Trait("Category", "Large")]
    public void ExternalDataAbove2GiBIsMappedAndStreamed()
    {
        var dir = TestEnvironment.NewTempFolder("large");
        try
        {
            // DriveInfo of the folder itself: statvfs of the file system holding it (the temp folder may be its own mount).
            var free = new DriveInfo(dir).AvailableFreeSpace;
            Assert.True(free >= 8 * GiB,
                $"this test needs 8 GiB free in {Path.GetTempPath()} (it writes a 2.5 GiB sparse file and a 2.5 GiB copy); only {free / MiB} MiB are free — free space or point TMPDIR elsewhere");

            // ---- a 2.5 GiB sparse data file with known bytes at known offsets ----
            var dataPath = Path.Combine(dir, "large.bin");
            var offsets = new long[Tensors.Length];
            long total = 0;
            for (int i = 0; i < Tensors.Length; i++)
            {
                offsets[i] = total;
                total += Bytes(Tensors[i].Dims);
            }
            Assert.True(total > 2 * GiB);

            // (tensor index, offset inside the tensor, bytes)
            var marks = new List<(int Tensor, long Offset, byte[] Bytes)>();
            for (int i = 0; i < Tensors.Length; i++)
            {
                long len = Bytes(Tensors[i].Dims);
                foreach (var at in new[] { 0L, len / 2 + 12345, len - 16 })
                {
                    var b = new byte[16];
                    new Random(i * 1000 + (int)(at % 997)).NextBytes(b);
                    marks.Add((i, at, b));
                }
            }
            using (var fs = new FileStream(dataPath, FileMode.CreateNew, FileAccess.Write))
            {
                fs.SetLength(total);
                foreach (var (t, at, b) in marks)
                {
                    fs.Position = offsets[t] + at;
                    fs.Write(b);
                }
            }

            var nodes = Tensors.Select(t => Node("Identity", "id_" + t.Name, [t.Name], ["out_" + t.Name])).ToList();
            var outputs = Tensors.Select(t => Tensor("out_" + t.Name, Float, t.Dims)).ToList();
            var inits = Tensors.Select((t, i) => ExternalFloatTensor(t.Name, t.Dims, "large.bin", offsets[i], Bytes(t.Dims))).ToList();
            var modelPath = ProtoBuilder.Write(Model(Graph("large", [], outputs, nodes, inits)), Path.Combine(dir, "large.onnx"));

            // ---- import (map, do not read) and export (stream) ----
            GC.Collect();
            bool reset = ResetPeak();
            long before = Peak();
            var outDir = Path.Combine(dir, "out");
            var outPath = Path.Combine(outDir, "large_out.onnx");
            var clock = Stopwatch.StartNew();
            using (var model = OnnxImporter.Load(modelPath))
            {
                Assert.Empty(Verifier.Verify(model));
                foreach (var v in model.Graph.Constants)
                {
                    var mapped = Assert.IsType<MappedTensorData>(v.Constant!.Data);
                    Assert.Equal(Bytes([.. v.Constant.Dims]), mapped.ByteLength);
                }
                long afterImport = Peak();
                output.WriteLine($"import: {clock.Elapsed.TotalSeconds:F1} s, peak working set {before / MiB} -> {afterImport / MiB} MiB");
                Assert.True(afterImport - before < 500 * MiB, $"importing grew the peak working set by {(afterImport - before) / MiB} MiB: the data was read, not mapped");

                OnnxExporter.Save(model, outPath, new ExportOptions { ExternalDataThreshold = 1024 });
            }
            long after = Peak();
            output.WriteLine($"import+export: {clock.Elapsed.TotalSeconds:F1} s, peak working set {before / MiB} -> {after / MiB} MiB (reset {(reset ? "worked" : "unavailable")})");
            Assert.True(after - before < 500 * MiB,
                $"import and export of a 2.5 GiB model grew the peak working set by {(after - before) / MiB} MiB (limit 500 MiB): external data must be mapped and streamed, not held in memory");

            // ---- the known bytes are at their offsets in the output data file ----
            var exported = ModelProto.Parser.ParseFrom(File.ReadAllBytes(outPath));
            var outData = outPath + ".data";
            Assert.True(File.Exists(outData));
            using var read = new FileStream(outData, FileMode.Open, FileAccess.Read);
            Assert.True(read.Length >= total, $"{outData} has {read.Length} bytes, fewer than the {total} of the constants");
            for (int i = 0; i < Tensors.Length; i++)
            {
                var t = exported.Graph.Initializer.Single(x => x.Name == Tensors[i].Name);
                Assert.Equal(TensorProto.Types.DataLocation.External, t.DataLocation);
                var kv = t.ExternalData.ToDictionary(e => e.Key, e => e.Value);
                Assert.Equal("large_out.onnx.data", kv["location"]);
                long offset = long.Parse(kv["offset"], System.Globalization.CultureInfo.InvariantCulture);
                Assert.Equal(Bytes(Tensors[i].Dims), long.Parse(kv["length"], System.Globalization.CultureInfo.InvariantCulture));
                Assert.Equal(Tensors[i].Dims, t.Dims.ToArray());
                foreach (var (ti, at, b) in marks.Where(m => m.Tensor == i))
                {
                    read.Position = offset + at;
                    var got = new byte[b.Length];
                    read.ReadExactly(got);
                    Assert.True(b.AsSpan().SequenceEqual(got), $"{Tensors[i].Name}: bytes at {at} differ in the exported data file");
                }
                // A byte between the marks is still zero.
                read.Position = offset + 4096;
                Assert.Equal(0, read.ReadByte());
            }
        }
        finally
        {
            TestEnvironment.DeleteFolder(dir);
        }
    }
}
