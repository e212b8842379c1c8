using Alloy.Testing;
using Xunit;

namespace Alloy.Golden.Tests;

public sealed class GoldenTests
{
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var c in GoldenCase.All()) data.Add(c.ToString());
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void OutputMatchesGolden(string id)
    {
        var c = GoldenCase.All().Single(g => g.ToString() == id);
        GoldenFile.Assert(c.ExpectedPath, c.Run());
    }

    [Fact]
    public void EveryCorpusOnnxModelHasAnImportCase()
    {
        var cases = GoldenCase.All().Where(c => c.Suite == "import").Select(c => c.Name).ToHashSet();
        var models = Directory.EnumerateFiles(RepoPaths.CorpusModels, "*.onnx", SearchOption.AllDirectories)
            .Select(Path.GetFileNameWithoutExtension).ToList();
        Assert.NotEmpty(models);
        Assert.All(models, m => Assert.Contains(m!, cases));
    }

    [Fact]
    public void ImportedIrParsesBackToTheSameText()
    {
        foreach (var c in GoldenCase.All().Where(c => c.Suite == "import"))
        {
            var printed = c.Run();
            Assert.Equal(printed, Alloy.IR.IrPrinter.Print(Alloy.IR.IrParser.ParseModel(printed)));
        }
    }
}
