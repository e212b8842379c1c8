using Alloy.IR;
using Alloy.Onnx.Proto;
using Xunit;

namespace Alloy.Onnx.Tests;

/// <summary>Constants stored in an external-data file, and atomic saving.</summary>
public sealed class ExternalDataTests : IDisposable
{
    private readonly TempFolder _tmp = new("extdata");

    public void Dispose() => _tmp.Dispose();

    private static byte[] Pattern(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    /// <summary>y = (x + big) * mid / small with constants of 8 KiB, 8 KiB and 4 B, plus an unused 1000-byte int64 one
    /// (just below the 1024-byte threshold).</summary>
    private static Model BuildModel(out Dictionary<string, byte[]> constants)
    {
        var g = new Graph("ext");
        var x = g.AddInput("x", new TensorType(DataType.Float, Shape.Of(2048)));
        constants = new Dictionary<string, byte[]>
        {
            ["big"] = Pattern(2048 * 4, 1),
            ["small"] = Pattern(4, 2),
            ["mid"] = Pattern(2048 * 4, 3),
            ["below"] = Pattern(125 * 8, 4),
        };
        var big = g.AddConstant("big", new TensorConstant(DataType.Float, [2048], new ArrayTensorData(constants["big"])));
        var small = g.AddConstant("small", new TensorConstant(DataType.Float, [1], new ArrayTensorData(constants["small"])));
        var mid = g.AddConstant("mid", new TensorConstant(DataType.Float, [1, 2048], new ArrayTensorData(constants["mid"])));
        g.AddConstant("below", new TensorConstant(DataType.Int64, [125], new ArrayTensorData(constants["below"])));
        var a = g.AddNode("Add", [x, big], ["a"]);
        a.Name = "add_big";
        a.Outputs[0].Type = new TensorType(DataType.Float, Shape.Of(2048));
        var m = g.AddNode("Mul", [a.Outputs[0], mid], ["m"]);
        m.Name = "mul_mid";
        m.Outputs[0].Type = new TensorType(DataType.Float, Shape.Of(1, 2048));
        var y = g.AddNode("Div", [m.Outputs[0], small], ["y"]);
        y.Name = "div_small";
        y.Outputs[0].Type = new TensorType(DataType.Float, Shape.Of(1, 2048));
        g.AddOutput(y.Outputs[0]);
        var model = new Model(g) { IrVersion = 8, ProducerName = "alloy-onnx-tests" };
        model.Opsets.Add(new OpsetImport("", 17));
        return model;
    }

    [Fact]
    public void LargeConstantsGoToTheDataFileAndReadBackBitExact()
    {
        using var model = BuildModel(out var constants);
        var embedded = _tmp.File("embedded.onnx");
        var external = _tmp.File("external.onnx");
        OnnxExporter.Save(model, embedded);
        OnnxExporter.Save(model, external, new ExportOptions { ExternalDataThreshold = 1024 });

        Assert.False(File.Exists(embedded + ".data"), "the default options embed a small model's constants");
        var dataFile = external + ".data";
        Assert.True(File.Exists(dataFile), $"{dataFile} was not written");

        // Which initializers went external: those of at least 1024 bytes.
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(external));
        var location = proto.Graph.Initializer.ToDictionary(t => t.Name, t => t.DataLocation);
        Assert.Equal(TensorProto.Types.DataLocation.External, location["big"]);
        Assert.Equal(TensorProto.Types.DataLocation.External, location["mid"]);
        Assert.Equal(TensorProto.Types.DataLocation.Default, location["small"]);
        Assert.Equal(TensorProto.Types.DataLocation.Default, location["below"]);
        foreach (var t in proto.Graph.Initializer.Where(t => t.DataLocation == TensorProto.Types.DataLocation.External))
        {
            var kv = t.ExternalData.ToDictionary(e => e.Key, e => e.Value);
            Assert.Equal("external.onnx.data", kv["location"]);
            var offset = long.Parse(kv["offset"], System.Globalization.CultureInfo.InvariantCulture);
            var length = long.Parse(kv["length"], System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(constants[t.Name].Length, length);
            using var fs = File.OpenRead(dataFile);
            fs.Position = offset;
            var read = new byte[length];
            fs.ReadExactly(read);
            Assert.Equal(constants[t.Name], read);
        }

        using var reloaded = OnnxImporter.Load(external);
        Assert.Empty(Verifier.Verify(reloaded));
        foreach (var v in reloaded.Graph.Constants)
        {
            Assert.Equal(constants[v.Name], v.Constant!.Data.AsSpan().ToArray());
            if (v.Name is "big" or "mid") Assert.IsType<MappedTensorData>(v.Constant.Data);
        }

        var c = SemanticComparer.CompareOne(embedded, external);
        Assert.True(c.Equal, SemanticComparer.Describe(c));
        Assert.True(c.OriginalPassesChecker, c.CheckerOriginal);
        Assert.True(c.ExportedPassesChecker, c.CheckerExported);
    }

    /// <summary>Re-saving a model over the file (and data file) it was loaded from keeps its contents.</summary>
    [Fact]
    public void SavingOverTheSourceFilesKeepsTheContents()
    {
        var path = _tmp.File("inplace.onnx");
        using (var model = BuildModel(out _))
            OnnxExporter.Save(model, path, new ExportOptions { ExternalDataThreshold = 1024 });
        var reference = _tmp.File("reference.onnx");
        File.Copy(path, reference);
        File.Copy(path + ".data", reference + ".data");

        using (var loaded = OnnxImporter.Load(path))
            OnnxExporter.Save(loaded, path, new ExportOptions { ExternalDataThreshold = 1024 });

        Assert.Equal(File.ReadAllBytes(reference + ".data"), File.ReadAllBytes(path + ".data"));
        using var again = OnnxImporter.Load(path);
        using var refModel = OnnxImporter.Load(reference);
        foreach (var v in refModel.Graph.Constants)
            Assert.True(v.Constant!.Data.ContentEquals(again.Graph.FindLocal(v.Name)!.Constant!.Data), $"constant '{v.Name}' changed");
    }

    private static Model ModelWithDigestOnlyConstant()
    {
        var g = new Graph("digest");
        var x = g.AddInput("x", new TensorType(DataType.Float, Shape.Of(1024)));
        var real = g.AddConstant("real", new TensorConstant(DataType.Float, [1024], new ArrayTensorData(Pattern(4096, 9))));
        var digest = g.AddConstant("digest_only", new TensorConstant(DataType.Float, [1024], new DigestTensorData("0123abcd", 4096)));
        var a = g.AddNode("Add", [x, real], ["a"]);
        var b = g.AddNode("Add", [a.Outputs[0], digest], ["b"]);
        b.Outputs[0].Type = new TensorType(DataType.Float, Shape.Of(1024));
        g.AddOutput(b.Outputs[0]);
        var model = new Model(g) { IrVersion = 8 };
        model.Opsets.Add(new OpsetImport("", 17));
        return model;
    }

    [Theory]
    [InlineData(null)]
    [InlineData(1024L)]
    public void AFailedSaveLeavesNoFileBehind(long? threshold)
    {
        using var model = ModelWithDigestOnlyConstant();
        var dir = Path.Combine(_tmp.Path, "out");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, "model.onnx");
        Assert.Throws<InvalidOperationException>(() => OnnxExporter.Save(model, path, new ExportOptions { ExternalDataThreshold = threshold }));
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir));
    }

    [Fact]
    public void AFailedSaveKeepsTheFilesThatWereThere()
    {
        var dir = Path.Combine(_tmp.Path, "keep");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, "model.onnx");
        File.WriteAllText(path, "previous model");
        File.WriteAllText(path + ".data", "previous data");
        using var model = ModelWithDigestOnlyConstant();
        Assert.Throws<InvalidOperationException>(() => OnnxExporter.Save(model, path, new ExportOptions { ExternalDataThreshold = 1024 }));
        Assert.Equal("previous model", File.ReadAllText(path));
        Assert.Equal("previous data", File.ReadAllText(path + ".data"));
        Assert.Equal(2, Directory.EnumerateFileSystemEntries(dir).Count());
    }
}
