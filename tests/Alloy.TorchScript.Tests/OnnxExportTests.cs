using Alloy.Onnx;
using Alloy.OnnxRuntime;
using Alloy.Testing;
using Xunit;

namespace Alloy.TorchScript.Tests;

/// <summary>
/// Every corpus archive, imported and exported as ONNX: the ONNX checker accepts the file, and ONNX Runtime runs it
/// and reproduces torch's reference outputs.
/// </summary>
public sealed class OnnxExportTests
{
    public static TheoryData<string> Archives() => CorpusTests.Archives();

    [Theory]
    [MemberData(nameof(Archives))]
    public void ExportPassesTheCheckerAndRunsInOnnxRuntime(string relative) =>
        ExportAndRun(Path.Combine(RepoPaths.CorpusModels, relative));

    internal static void ExportAndRun(string archive)
    {
        Assert.True(OrtSession.IsAvailable(out var reason), $"ONNX Runtime cannot be loaded: {reason}");
        using var c = ReferenceCase.Load(archive);
        var dir = Directory.CreateTempSubdirectory("alloy-ts-export-");
        try
        {
            var onnx = Path.Combine(dir.FullName, Path.GetFileNameWithoutExtension(archive) + ".onnx");
            Dictionary<string, Runtime.Tensor> feed;
            using (var model = c.Import())
            {
                OnnxExporter.Save(model, onnx);
                feed = c.Feed(model);
            }
            var complaint = OnnxChecker.Check(onnx);
            Assert.True(complaint is null, $"onnx.checker rejects the export of {archive}: {complaint}");
            using var session = new OrtSession(onnx, 2);
            var results = session.Run(feed);
            try
            {
                Assert.Equal(c.Outputs.Count, results.Length);
                var problems = Enumerable.Range(0, results.Length)
                    .Select(i => Comparison.Problem($"ONNX Runtime output_{i}", results[i], c.Outputs[i]))
                    .Where(p => p is not null).ToList();
                Assert.True(problems.Count == 0, string.Join("\n", problems));
            }
            finally
            {
                foreach (var t in results) t.Dispose();
            }
        }
        finally
        {
            dir.Delete(true);
        }
    }
}
