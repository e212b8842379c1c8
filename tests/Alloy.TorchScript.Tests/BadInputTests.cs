using System.Text;
using Xunit;

namespace Alloy.TorchScript.Tests;

/// <summary>Malformed and unsupported archives fail with a message naming the archive, the place and the reason.</summary>
public sealed class BadInputTests
{
    private const string Header = """
        class M(Module):
          __parameters__ = []
          __buffers__ = []
          training : bool
          def forward(self: __torch__.M,
            x: Tensor) -> Tensor:

        """;

    private static TorchScriptException Fails(string path, TorchScriptImportOptions? options = null) =>
        Assert.Throws<TorchScriptException>(() => TorchScriptImporter.Load(path, options).Dispose());

    [Fact]
    public void NotAZipFile()
    {
        using var a = new TestArchive();
        File.WriteAllText(a.Path, "definitely not a zip archive, just some text that is long enough");
        var e = Fails(a.Path);
        Assert.Equal(a.Path, e.Archive);
        Assert.Contains("not a ZIP archive (no end-of-central-directory record)", e.Message);
    }

    [Fact]
    public void EmptyAndTruncatedFiles()
    {
        using var a = new TestArchive();
        File.WriteAllBytes(a.Path, []);
        Assert.Contains("not a ZIP archive", Fails(a.Path).Message);
        a.Module(Header.TrimEnd() + "\n    return x\n");
        var bytes = File.ReadAllBytes(a.Path);
        File.WriteAllBytes(a.Path, bytes[..(bytes.Length / 2)]);
        Assert.Contains("not a ZIP archive", Fails(a.Path).Message);
    }

    [Fact]
    public void AZipWithoutCodeIsAWeightsOnlyCheckpoint()
    {
        using var a = new TestArchive();
        a.Write(new Dictionary<string, byte[]>
        {
            ["version"] = "3\n"u8.ToArray(),
            ["data.pkl"] = new PickleWriter().Global("collections", "OrderedDict").Op(')').Op('R').Stop().ToArray(),
        });
        var e = Fails(a.Path);
        Assert.Contains("no code/ folder", e.Message);
        Assert.Contains("torch.jit.trace or torch.jit.script", e.Message);
    }

    [Fact]
    public void AZipWithoutAVersionRecord()
    {
        using var a = new TestArchive();
        a.Write(new Dictionary<string, byte[]> { ["data.pkl"] = [0x80, 0x02, (byte)'N', (byte)'.'] });
        Assert.Contains("no 'version' record", Fails(a.Path).Message);
    }

    [Fact]
    public void AnUnsupportedFormatVersionSaysWhich()
    {
        using var a = new TestArchive();
        a.Module(Header.TrimEnd() + "\n    return x\n", version: "11");
        var e = Fails(a.Path);
        Assert.Contains("file-format version 11 is not supported", e.Message);
        Assert.Contains("1..10", e.Message);
    }

    [Fact]
    public void APickleWithAnUnknownGlobal()
    {
        using var a = new TestArchive();
        a.Write(new Dictionary<string, byte[]>
        {
            ["version"] = "3\n"u8.ToArray(),
            ["data.pkl"] = new PickleWriter().Global("os", "system").Str("echo hi").Op(0x85).Op('R').Stop().ToArray(),
            ["code/__torch__.py"] = Encoding.UTF8.GetBytes(Header + "    return x\n"),
        });
        var e = Fails(a.Path);
        Assert.Contains("data.pkl", e.Message);
        Assert.Contains("unsupported pickle global 'os.system'", e.Message);
    }

    [Fact]
    public void APickleWithAnUnknownOpcodeOrNoStop()
    {
        using var a = new TestArchive();
        a.Write(new Dictionary<string, byte[]>
        {
            ["version"] = "3\n"u8.ToArray(),
            ["data.pkl"] = [0x80, 0x02, (byte)'N', 0xfe, (byte)'.'],
            ["code/__torch__.py"] = Encoding.UTF8.GetBytes(Header + "    return x\n"),
        });
        Assert.Contains("unsupported pickle opcode 0xfe", Fails(a.Path).Message);

        using var b = new TestArchive();
        b.Write(new Dictionary<string, byte[]>
        {
            ["version"] = "3\n"u8.ToArray(),
            ["data.pkl"] = [0x80, 0x02, (byte)'N'],
            ["code/__torch__.py"] = Encoding.UTF8.GetBytes(Header + "    return x\n"),
        });
        Assert.Contains("ends without a STOP opcode", Fails(b.Path).Message);
    }

    [Fact]
    public void AnUnmappedAtenOpNamesFileLineAndSchema()
    {
        using var a = new TestArchive();
        a.Module(Header.TrimEnd() + "\n    y = torch.relu(x)\n    return torch.erfinv(y, )\n");
        var types = TorchScriptImportOptions.Parse(["x=f32[2,3]"]);
        var e = Fails(a.Path, types);
        Assert.Equal("code/__torch__.py", e.CodeFile);
        Assert.Equal(8, e.Line);
        Assert.Contains("aten::erfinv(Tensor(f32[2,3])) has no mapping to Alloy's IR", e.Message);
        Assert.StartsWith(a.Path + ": code/__torch__.py:8: ", e.Message);
    }

    [Fact]
    public void ASyntaxErrorNamesFileAndLine()
    {
        using var a = new TestArchive();
        a.Module(Header.TrimEnd() + "\n    y = torch.relu(x\n    return y\n");
        var e = Fails(a.Path);
        Assert.Equal("code/__torch__.py", e.CodeFile);
        Assert.True(e.Line >= 7, e.Message);
    }

    [Fact]
    public void ATrainingModeDropoutAsksForEval()
    {
        using var a = new TestArchive();
        a.Module(Header.TrimEnd() + "\n    return torch.dropout(x, 0.5, True)\n");
        Assert.Contains("call model.eval() before saving", Fails(a.Path).Message);
    }

    [Fact]
    public void AStorageSmallerThanItsTensor()
    {
        using var a = new TestArchive();
        a.Module(Header.TrimEnd() + "\n    w = self.w\n    return torch.add(x, w)\n", storage: [1, 2, 3],
            attributes: p => p.Str("w").Tensor("0", 6, 0, [2, 3], [3, 1]));
        Assert.Contains("storage data/0 holds 12 bytes", Fails(a.Path).Message);
    }

    [Fact]
    public void TheModelRaisingForTheGivenInputIsReported()
    {
        using var a = new TestArchive();
        a.Module(Header.TrimEnd() + "\n    if torch.ne(torch.dim(x), 4):\n      ops.prim.RaiseException(\"expected 4D input\", \"builtins.ValueError\")\n    else:\n      pass\n    return x\n");
        var e = Fails(a.Path, TorchScriptImportOptions.Parse(["x=f32[2,3]"]));
        Assert.Contains("the model raises for these inputs", e.Message);
        Assert.Contains("expected 4D input", e.Message);
    }

    [Fact]
    public void AnUnknownInputNameIsRejected()
    {
        using var a = new TestArchive();
        a.Module(Header.TrimEnd() + "\n    return x\n");
        Assert.Contains("forward has no parameter of that name (it takes x)", Fails(a.Path, TorchScriptImportOptions.Parse(["y=f32[2]"])).Message);
        Assert.Throws<FormatException>(() => TorchScriptImportOptions.Parse(["x=f32"]));
        Assert.Throws<FormatException>(() => TorchScriptImportOptions.Parse(["x=f99[2]"]));
    }
}
