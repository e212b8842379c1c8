using System.Text.Json;
using Alloy.Testing;
using Xunit;

namespace Alloy.Cli.Tests;

public sealed class InspectTests
{
    /// <summary>Every corpus ONNX file with its entry from the corpus manifest (written by the generator from the onnx package).</summary>
    public static TheoryData<string> CorpusModels()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.EnumerateFiles(RepoPaths.CorpusModels, "*.onnx", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            data.Add(Path.GetRelativePath(RepoPaths.CorpusModels, f));
        return data;
    }

    private static JsonElement ManifestEntry(string relative)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoPaths.CorpusModels, "manifest.json")));
        var file = Path.GetFileName(relative);
        foreach (var m in doc.RootElement.GetProperty("models").EnumerateArray())
            if (m.GetProperty("onnx").TryGetProperty(file, out var entry)) return entry.Clone();
        throw new InvalidOperationException($"{file} is not in the corpus manifest");
    }

    [Theory]
    [MemberData(nameof(CorpusModels))]
    public void JsonAgreesWithTheCorpusManifest(string relative)
    {
        var result = CliHarness.Run("inspect", Path.Combine(RepoPaths.CorpusModels, relative), "--json");
        Assert.True(result.ExitCode == 0, result.Stderr);
        using var doc = JsonDocument.Parse(result.Stdout);
        var j = doc.RootElement;
        var expected = ManifestEntry(relative);

        Assert.Equal(expected.GetProperty("ir_version").GetInt64(), j.GetProperty("ir_version").GetInt64());
        Assert.Equal(expected.GetProperty("node_count").GetInt32(), j.GetProperty("node_count").GetInt32());
        Assert.Equal(expected.GetProperty("initializer_count").GetInt32(), j.GetProperty("initializer_count").GetInt32());
        Assert.Equal(expected.GetProperty("initializer_elements").GetInt64(), j.GetProperty("parameter_count").GetInt64());

        var ops = j.GetProperty("ops").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32());
        var expectedOps = expected.GetProperty("op_histogram").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32());
        Assert.Equal(expectedOps.OrderBy(k => k.Key), ops.OrderBy(k => k.Key));

        var opset = expected.GetProperty("opset").GetProperty("ai.onnx").GetInt64();
        Assert.Contains(j.GetProperty("opsets").EnumerateArray(), o => o.GetProperty("domain").GetString() == "" && o.GetProperty("version").GetInt64() == opset);

        var inputs = j.GetProperty("inputs").EnumerateArray().Select(i => i.GetProperty("name").GetString()).ToList();
        var expectedInputs = expected.GetProperty("inputs").EnumerateArray().Select(i => i.GetProperty("name").GetString()).ToList();
        Assert.Equal(expectedInputs, inputs);
        var firstShape = string.Join(",", expected.GetProperty("inputs")[0].GetProperty("shape").EnumerateArray().Select(d => d.ToString()));
        Assert.EndsWith($"[{firstShape}]", j.GetProperty("inputs")[0].GetProperty("type").GetString());
    }

    [Fact]
    public void TextNamesOpsetsOpsAndParameters()
    {
        var result = CliHarness.Run("inspect", Path.Combine(RepoPaths.CorpusModels, "trained/digits_mlp/digits_mlp.opset13.onnx"));
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("opsets:      ai.onnx 13", result.Stdout);
        Assert.Contains("parameters:  17,226 in 6 initializers", result.Stdout);
        Assert.Matches(@"\n  Gemm\s+3\n", result.Stdout);
        Assert.Matches(@"\n  Relu\s+2\n", result.Stdout);
        Assert.Contains("input: f32[N,64]", result.Stdout);
    }
}
