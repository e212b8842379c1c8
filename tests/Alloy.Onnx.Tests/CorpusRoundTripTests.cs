using System.Text.Json;
using Xunit;
using Xunit.Abstractions;

namespace Alloy.Onnx.Tests;

/// <summary>Every ONNX file of the model corpus (../shared/corpus) survives import → verify → export semantically unchanged.</summary>
public sealed class CorpusRoundTripTests(CorpusFixture fixture, ITestOutputHelper output) : IClassFixture<CorpusFixture>
{
    private const string Missing = "<corpus missing>";

    public static IEnumerable<object[]> Models()
    {
        var models = TestEnvironment.CorpusModels();
        if (models is null || models.Count == 0)
        {
            yield return [Missing];
            yield break;
        }
        foreach (var m in models) yield return [m];
    }

    /// <summary>Writes the stage counts to the test output (the per-model cases carry the assertions).</summary>
    [Fact]
    public void Summary()
    {
        output.WriteLine(fixture.Summary());
        Assert.True(fixture.SetupError is null, fixture.SetupError);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void RoundTripIsSemanticallyIdentical(string model)
    {
        Assert.True(model != Missing, TestEnvironment.MissingCorpusMessage);
        fixture.AssertRoundTrip(model);
    }

    /// <summary>The cases are exactly the ONNX files the corpus manifest lists.</summary>
    [Fact]
    public void EveryManifestModelIsACase()
    {
        var models = TestEnvironment.CorpusModels();
        Assert.True(models is not null, TestEnvironment.MissingCorpusMessage);
        var manifest = Path.Combine(TestEnvironment.CorpusRoot, "models", "manifest.json");
        Assert.True(File.Exists(manifest), $"{manifest} is missing");
        using var doc = JsonDocument.Parse(File.ReadAllText(manifest));
        var listed = new List<string>();
        foreach (var m in doc.RootElement.GetProperty("models").EnumerateArray())
        {
            if (!m.TryGetProperty("onnx", out var onnx)) continue;
            foreach (var f in onnx.EnumerateObject())
                listed.Add(f.Name);
        }
        listed.Sort(StringComparer.Ordinal);
        var found = models!.Select(p => Path.GetFileName(p)).OrderBy(p => p, StringComparer.Ordinal).ToList();
        Assert.NotEmpty(found);
        Assert.Equal(listed, found);
    }
}
