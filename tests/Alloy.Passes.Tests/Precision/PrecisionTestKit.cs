using Alloy.IR;
using Alloy.Passes.Precision;
using Alloy.Pipeline;

namespace Alloy.Passes.Tests.Precision;

/// <summary>Helpers for the precision-pass tests: parse IR text, run a pipeline, look nodes up by name.</summary>
internal static class PrecisionTestKit
{
    public static (Model Model, PipelineReport Report) Run(string pipeline, string ir)
    {
        var model = IrParser.ParseModel(ir);
        var report = StandardPasses.CreateRegistry().Build(pipeline).Run(model);
        return (model, report);
    }

    public static Node Node(Model model, string name) =>
        model.Graph.SelfAndSubgraphs().SelectMany(g => g.Nodes).Single(n => n.Name == name);

    public static string? Color(Model m, string name) => PrecisionAnnotations.ColorOf(Node(m, name));
    public static string? Why(Model m, string name) => PrecisionAnnotations.ReasonOf(Node(m, name));
    public static string? Prec(Model m, string name) => PrecisionAnnotations.PrecisionOf(Node(m, name));

    public static long Stat(PipelineReport report, string pass, string name) =>
        report.Passes.Single(p => p.PassId == pass).Statistics.Single(s => s.Name == name).Value;

    /// <summary>A temporary file removed on dispose.</summary>
    public sealed class TempFile : IDisposable
    {
        public TempFile(string text, string extension = ".json")
        {
            Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"alloy-precision-{Guid.NewGuid():N}{extension}");
            File.WriteAllText(Path, text);
        }

        public string Path { get; }
        public void Dispose() => File.Delete(Path);
    }
}
