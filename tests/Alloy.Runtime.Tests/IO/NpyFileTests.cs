using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Alloy.Runtime;
using Alloy.Runtime.IO;
using Alloy.Runtime.Numerics;
using Alloy.Testing;
using Xunit;

namespace Alloy.Runtime.Tests.IO;

/// <summary>Runs /usr/bin/python3 with NumPy; the tests compare byte for byte with what NumPy writes and reads.</summary>
internal static class NumPy
{
    public const string Python = "/usr/bin/python3";

    public static string Run(string script, params string[] args)
    {
        var psi = new ProcessStartInfo(File.Exists(Python) ? Python : "python3")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        foreach (var a in args) psi.ArgumentList.Add(a);
        Process p;
        try
        {
            p = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"these tests need python3 with numpy ({Python}): {e.Message}");
        }
        using (p)
        {
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(120_000))
            {
                p.Kill(entireProcessTree: true);
                throw new TimeoutException("python3 did not finish in 120 s");
            }
            if (p.ExitCode != 0) throw new InvalidOperationException($"python3 failed (exit {p.ExitCode}); these tests need numpy:\n{stderr.Result}");
            return stdout.Result;
        }
    }
}

/// <summary>A temporary folder with .npy files written by NumPy for every supported dtype, format version and a range
/// of shapes, and a manifest of their exact bytes.</summary>
public sealed class NumPyFiles : IDisposable
{
    private const string Script = """
import json, os, sys
import numpy as np
out = sys.argv[1]
rng = np.random.default_rng(5)
cases = []
def save(name, arr, version):
    with open(os.path.join(out, name), 'wb') as f:
        np.lib.format.write_array(f, arr, version=version)
    cases.append(dict(file=name, descr=arr.dtype.str, shape=list(arr.shape), hex=np.ascontiguousarray(arr).tobytes().hex(), version=version[0]))
def values(code, n):
    dt = np.dtype('<' + code if code[1] != '1' else '|' + code)
    if code == 'b1':
        return rng.integers(0, 2, n).astype(dt)
    if code[0] == 'f':
        v = rng.standard_normal(n) * 1000
        specials = [np.nan, np.inf, -np.inf, -0.0, 0.0, np.finfo(dt).max, np.finfo(dt).tiny, -np.finfo(dt).eps]
        v[:min(n, len(specials))] = specials[:min(n, len(specials))]
        return v.astype(dt)
    info = np.iinfo(dt)
    v = rng.integers(info.min, info.max, n, dtype=dt, endpoint=True)
    v[:min(n, 2)] = [info.min, info.max][:min(n, 2)]
    return v
shapes = [(), (0,), (7,), (3, 5), (2, 3, 4), (1, 1, 17), (0, 3)]
for code in ['f4', 'f8', 'f2', 'i1', 'i2', 'i4', 'i8', 'u1', 'u2', 'u4', 'u8', 'b1']:
    for version in [(1, 0), (2, 0), (3, 0)]:
        for k, shape in enumerate(shapes):
            n = int(np.prod(shape))
            save(f'{code}_v{version[0]}_{k}.npy', values(code, n).reshape(shape), version)
# files that must be rejected
np.save(os.path.join(out, 'fortran.npy'), np.asfortranarray(np.arange(6, dtype='<f4').reshape(2, 3)))
np.save(os.path.join(out, 'bigendian.npy'), np.arange(4, dtype='>f4'))
np.save(os.path.join(out, 'structured.npy'), np.zeros(3, dtype=[('a', '<f4'), ('b', '<i4')]))
np.save(os.path.join(out, 'complex.npy'), np.zeros(3, dtype='<c8'))
np.save(os.path.join(out, 'object.npy'), np.array([1, 'x'], dtype=object), allow_pickle=True)
print(json.dumps(cases))
""";

    public NumPyFiles()
    {
        Dir = Path.Combine(Path.GetTempPath(), "alloy-npy-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Dir);
        var json = NumPy.Run(Script, Dir);
        Cases = JsonSerializer.Deserialize<List<Case>>(json, new JsonSerializerOptions { PropertyNameCaseInsensitive = true })!;
    }

    public sealed record Case(string File, string Descr, long[] Shape, string Hex, int Version);

    public string Dir { get; }
    public List<Case> Cases { get; }

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}

public class NpyFileTests(NumPyFiles numpy) : IClassFixture<NumPyFiles>
{
    private static readonly Dictionary<string, ElementType> Types = new()
    {
        ["f2"] = ElementType.Float16, ["f4"] = ElementType.Float, ["f8"] = ElementType.Double,
        ["i1"] = ElementType.Int8, ["i2"] = ElementType.Int16, ["i4"] = ElementType.Int32, ["i8"] = ElementType.Int64,
        ["u1"] = ElementType.UInt8, ["u2"] = ElementType.UInt16, ["u4"] = ElementType.UInt32, ["u8"] = ElementType.UInt64,
        ["b1"] = ElementType.Bool,
    };

    private static string CorpusFile(string name) => Path.Combine(RepoPaths.CorpusModels, "trained", "digits_mlp", name);

    private string TempFile(string name) => Path.Combine(numpy.Dir, name);

    [Fact]
    public void Reads_every_dtype_version_and_shape_numpy_writes()
    {
        Assert.Equal(12 * 3 * 7, numpy.Cases.Count);
        foreach (var c in numpy.Cases)
        {
            var path = TempFile(c.File);
            using var t = NpyFile.Read(path);
            Assert.True(Types[c.Descr[1..]] == t.Type, $"{c.File}: {t.Type}");
            Assert.True(c.Shape.SequenceEqual(t.Shape), $"{c.File}: shape {t.ShapeText}");
            Assert.True(c.Hex == Convert.ToHexStringLower(t.Bytes), $"{c.File}: data differs");
            var h = NpyFile.ReadHeader(path);
            Assert.Equal(c.Version, h.MajorVersion);
            Assert.Equal(0, h.DataOffset % 64);
        }
    }

    [Fact]
    public void Numpy_reads_what_we_write()
    {
        var written = new List<(string File, ElementType Type, long[] Shape, string Hex)>();
        var rng = new Random(3);
        long[][] shapes = [[], [0], [1], [7], [3, 5], [2, 3, 4], [1, 1, 1, 1, 17]];
        foreach (var (code, type) in Types)
            for (int k = 0; k < shapes.Length; k++)
            {
                using var t = Tensor.Create(type, shapes[k]);
                rng.NextBytes(t.Bytes);
                if (type == ElementType.Bool) foreach (ref var b in t.Bytes) b &= 1;
                var file = $"ours_{code}_{k}.npy";
                NpyFile.Write(TempFile(file), t);
                written.Add((file, type, shapes[k], Convert.ToHexStringLower(t.Bytes)));
                using var back = NpyFile.Read(TempFile(file));
                Assert.Equal(t.Bytes.ToArray(), back.Bytes.ToArray());
            }
        var script = """
import json, sys
import numpy as np
res = []
for path in sys.argv[1:]:
    a = np.load(path)
    res.append(dict(descr=a.dtype.str, shape=list(a.shape), fortran=bool(a.flags.f_contiguous and not a.flags.c_contiguous), hex=a.tobytes().hex()))
print(json.dumps(res))
""";
        var json = NumPy.Run(script, written.Select(w => TempFile(w.File)).ToArray());
        using var doc = JsonDocument.Parse(json);
        var results = doc.RootElement.EnumerateArray().ToList();
        Assert.Equal(written.Count, results.Count);
        for (int i = 0; i < written.Count; i++)
        {
            var (file, type, shape, hex) = written[i];
            var r = results[i];
            Assert.Equal(type, Types[r.GetProperty("descr").GetString()![1..]]);
            Assert.Equal(shape, r.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray());
            Assert.False(r.GetProperty("fortran").GetBoolean());
            Assert.True(hex == r.GetProperty("hex").GetString(), $"{file}: numpy read different bytes");
        }
    }

    [Fact]
    public void Header_layout_is_numpy_style()
    {
        using var t = Tensor.FromFloats([2, 3], [1, 2, 3, 4, 5, 6]);
        using var ms = new MemoryStream();
        NpyFile.Write(ms, t);
        var bytes = ms.ToArray();
        Assert.Equal(128 + 24, bytes.Length);
        Assert.Equal("\u0093NUMPY\u0001\u0000", Encoding.Latin1.GetString(bytes, 0, 8));
        Assert.Equal(128 - 10, BitConverter.ToUInt16(bytes, 8));
        var header = Encoding.ASCII.GetString(bytes, 10, 118);
        Assert.StartsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", header);
        Assert.EndsWith(" \n", header);
        using var one = Tensor.FromArray<byte>(ElementType.UInt8, [5], [1, 2, 3, 4, 5]);
        using var ms1 = new MemoryStream();
        NpyFile.Write(ms1, one);
        Assert.Contains("{'descr': '|u1', 'fortran_order': False, 'shape': (5,), }", Encoding.ASCII.GetString(ms1.ToArray()));
    }

    [Fact]
    public void Reads_the_corpus_evaluation_set_like_numpy()
    {
        var input = CorpusFile("eval_input.npy");
        var labels = CorpusFile("eval_labels.npy");
        var script = """
import hashlib, json, sys
import numpy as np
res = []
for path in sys.argv[1:]:
    a = np.load(path)
    res.append(dict(descr=a.dtype.str, shape=list(a.shape), sha=hashlib.sha256(a.tobytes()).hexdigest(),
                    first=[float(v) for v in a.reshape(-1)[:5]], last=float(a.reshape(-1)[-1]), sum=float(a.astype(np.float64).sum())))
print(json.dumps(res))
""";
        using var doc = JsonDocument.Parse(NumPy.Run(script, input, labels));
        var expected = doc.RootElement.EnumerateArray().ToArray();

        using var x = NpyFile.Read(input);
        Assert.Equal(ElementType.Float, x.Type);
        Assert.Equal([540L, 64], x.Shape);
        Check(x, expected[0]);

        using var y = NpyFile.Read(labels);
        Assert.Equal(ElementType.Int64, y.Type);
        Assert.Equal([540L], y.Shape);
        Check(y, expected[1]);

        static void Check(Tensor t, JsonElement e)
        {
            Assert.Equal(e.GetProperty("shape").EnumerateArray().Select(v => v.GetInt64()), t.Shape);
            Assert.Equal(e.GetProperty("sha").GetString(), Convert.ToHexStringLower(SHA256.HashData(t.Bytes)));
            var values = ElementConvert.ToDoubles(t);
            Assert.Equal(e.GetProperty("first").EnumerateArray().Select(v => v.GetDouble()), values.Take(5));
            Assert.Equal(e.GetProperty("last").GetDouble(), values[^1]);
            Assert.Equal(e.GetProperty("sum").GetDouble(), values.Sum(), 6);
        }
    }

    [Fact]
    public void Streams_row_batches()
    {
        var input = CorpusFile("eval_input.npy");
        using var whole = NpyFile.Read(input);
        using var reader = NpyReader.Open(input);
        Assert.Equal(540, reader.Rows);
        Assert.Equal(ElementType.Float, reader.Type);
        var collected = new List<byte>();
        var sizes = new List<long>();
        foreach (var batch in reader.ReadBatches(100))
            using (batch)
            {
                Assert.Equal(64, batch.Shape[1]);
                sizes.Add(batch.Shape[0]);
                collected.AddRange(batch.Bytes.ToArray());
            }
        Assert.Equal([100L, 100, 100, 100, 100, 40], sizes);
        Assert.Equal(whole.Bytes.ToArray(), collected.ToArray());
        Assert.Equal(0, reader.RemainingRows);
        Assert.Null(reader.ReadRows(10));

        using var again = NpyReader.Open(input);
        using var first = again.ReadRows(3)!;
        using var rest = again.ReadRows(10_000)!;
        Assert.Equal([3L, 64], first.Shape);
        Assert.Equal([537L, 64], rest.Shape);
        Assert.Equal(whole.Bytes[..(3 * 64 * 4)].ToArray(), first.Bytes.ToArray());
        Assert.Equal(whole.Bytes[(3 * 64 * 4)..].ToArray(), rest.Bytes.ToArray());
        Assert.Throws<InvalidOperationException>(() => again.ReadAll());
    }

    [Fact]
    public void Streams_every_numpy_case_with_odd_batch_sizes()
    {
        foreach (var c in numpy.Cases.Where(c => c.Shape.Length > 0 && c.Version == 2))
            foreach (int rows in new[] { 1, 2, 3, 17 })
            {
                using var reader = NpyReader.Open(TempFile(c.File));
                var hex = new StringBuilder();
                long total = 0;
                foreach (var batch in reader.ReadBatches(rows))
                    using (batch)
                    {
                        Assert.True(batch.Shape[0] <= rows && batch.Shape[0] > 0);
                        Assert.Equal(c.Shape[1..], batch.Shape[1..]);
                        total += batch.Shape[0];
                        hex.Append(Convert.ToHexStringLower(batch.Bytes));
                    }
                Assert.Equal(c.Shape[0], total);
                Assert.True(c.Hex == hex.ToString(), $"{c.File} in batches of {rows}");
            }
        using var scalar = NpyReader.Open(TempFile("f4_v1_0.npy"));
        Assert.Throws<InvalidOperationException>(() => scalar.ReadBatches(4));
    }

    [Theory]
    [InlineData("fortran.npy", "Fortran")]
    [InlineData("bigendian.npy", "big-endian")]
    [InlineData("structured.npy", "structured")]
    [InlineData("complex.npy", "unsupported dtype '<c8'")]
    [InlineData("object.npy", "unsupported dtype '|O'")]
    public void Rejects_unsupported_numpy_files(string file, string reason)
    {
        var path = TempFile(file);
        var e = Assert.Throws<NpyFormatException>(() => NpyFile.Read(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(reason, e.Message);
        Assert.Throws<NpyFormatException>(() => NpyReader.Open(path));
    }

    [Fact]
    public void Rejects_truncated_and_padded_files()
    {
        var bytes = File.ReadAllBytes(CorpusFile("eval_input.npy"));
        var truncated = TempFile("truncated.npy");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<NpyFormatException>(() => NpyFile.Read(truncated));
        Assert.Contains(truncated, e.Message);
        Assert.Contains("truncated", e.Message);
        Assert.Contains("138240 bytes", e.Message); // 540 × 64 × 4
        Assert.Contains("(540, 64)", e.Message);

        var padded = TempFile("padded.npy");
        File.WriteAllBytes(padded, [.. bytes, 0, 0, 0, 0]);
        e = Assert.Throws<NpyFormatException>(() => NpyFile.Read(padded));
        Assert.Contains(padded, e.Message);
        Assert.Contains("4 bytes beyond", e.Message);

        foreach (int cut in new[] { 0, 3, 7, 9, 40 })
        {
            var shortFile = TempFile($"short{cut}.npy");
            File.WriteAllBytes(shortFile, bytes[..cut]);
            e = Assert.Throws<NpyFormatException>(() => NpyFile.Read(shortFile));
            Assert.Contains(shortFile, e.Message);
        }
    }

    [Fact]
    public void Rejects_bad_magic_version_and_header()
    {
        var good = File.ReadAllBytes(TempFile("f4_v1_2.npy"));
        void Expect(string name, byte[] content, string reason)
        {
            var path = TempFile(name);
            File.WriteAllBytes(path, content);
            var e = Assert.Throws<NpyFormatException>(() => NpyFile.Read(path));
            Assert.Contains(path, e.Message);
            Assert.Contains(reason, e.Message);
        }
        var badMagic = (byte[])good.Clone();
        badMagic[1] = (byte)'X';
        Expect("badmagic.npy", badMagic, "magic");
        Expect("text.npy", Encoding.ASCII.GetBytes("hello, this is not numpy data at all"), "magic");
        var badVersion = (byte[])good.Clone();
        badVersion[6] = 4;
        Expect("version4.npy", badVersion, "version 4.0");

        // Rewrite the header text (same length, space padded) to break it in various ways.
        int headerLength = BitConverter.ToUInt16(good, 8);
        string header = Encoding.ASCII.GetString(good, 10, headerLength);
        byte[] WithHeader(string h)
        {
            var copy = (byte[])good.Clone();
            var text = Encoding.ASCII.GetBytes(h.PadRight(headerLength - 1) + "\n");
            Assert.Equal(headerLength, text.Length);
            text.CopyTo(copy, 10);
            return copy;
        }
        Expect("shape_mismatch.npy", WithHeader(header.Trim().Replace("(7,)", "(8,)")), "truncated");
        Expect("shape_smaller.npy", WithHeader(header.Trim().Replace("(7,)", "(6,)")), "beyond");
        Expect("no_shape.npy", WithHeader("{'descr': '<f4', 'fortran_order': False, }"), "no 'shape'");
        Expect("extra_key.npy", WithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (7,), 'x': True, }"), "unexpected key 'x'");
        Expect("bad_dim.npy", WithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (-7,), }"), "malformed");
        Expect("garbage.npy", WithHeader("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (7,), }"), "malformed");
        Expect("unclosed.npy", WithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (7,"), "malformed");
        Expect("fortran_text.npy", WithHeader("{'descr': '<f4', 'fortran_order': 'no', 'shape': (7,), }"), "fortran_order");
        // Python's other spelling (double quotes, no trailing comma) is accepted.
        var alternative = TempFile("alternative.npy");
        File.WriteAllBytes(alternative, WithHeader("{\"descr\": \"<f4\", \"shape\": (7,), \"fortran_order\": False}"));
        using var t = NpyFile.Read(alternative);
        Assert.Equal([7L], t.Shape);

        var missing = TempFile("does_not_exist.npy");
        var m = Assert.Throws<NpyFormatException>(() => NpyFile.Read(missing));
        Assert.Contains(missing, m.Message);
    }

    [Fact]
    public void Rejects_types_npy_cannot_hold()
    {
        using var bf = Tensor.Create(ElementType.BFloat16, [2]);
        var path = TempFile("bf16.npy");
        var e = Assert.Throws<ArgumentException>(() => NpyFile.Write(path, bf));
        Assert.Contains("bf16", e.Message);
        Assert.False(File.Exists(path));
        Assert.False(NpyFile.Supports(ElementType.Float8E4M3FN));
        Assert.True(NpyFile.Supports(ElementType.Float16));
    }

    [Fact]
    public void Write_replaces_an_existing_file()
    {
        var path = TempFile("replace.npy");
        using (var a = Tensor.FromFloats([3], [1, 2, 3])) NpyFile.Write(path, a);
        using (var b = Tensor.FromArray<long>(ElementType.Int64, [2, 1], [7, -7])) NpyFile.Write(path, b);
        using var back = NpyFile.Read(path);
        Assert.Equal(ElementType.Int64, back.Type);
        Assert.Equal([7L, -7], back.ToArray<long>());
        Assert.Empty(Directory.GetFiles(numpy.Dir, "replace.npy.tmp*"));
    }
}
