using Alloy.IR;
using Alloy.Onnx;
using Alloy.Testing;

namespace Alloy.Golden.Tests;

/// <summary>
/// One golden case: <c>golden/&lt;suite&gt;/&lt;case&gt;.ir</c> starts with <c>// RUN: &lt;what&gt;</c>; running it yields
/// IR text compared with <c>&lt;case&gt;.expected.ir</c>.
/// RUN forms: <c>import corpus:&lt;path&gt;</c> (print the IR of a corpus ONNX model, or of a TorchScript archive,
/// optionally followed by input types such as <c>x=f32[N,8,8]</c>), <c>print</c> (parse the IR
/// below the RUN line and print it), and a pipeline string such as <c>infer-shapes,fold-casts</c> (parse the IR
/// below the RUN line, run the pipeline with verification after every pass, print the result).
/// </summary>
public sealed record GoldenCase(string Suite, string Name, string CasePath)
{
    public string ExpectedPath => Path.ChangeExtension(CasePath, null) + ".expected.ir";

    public static IEnumerable<GoldenCase> All() =>
        Directory.EnumerateDirectories(RepoPaths.Golden)
            .OrderBy(d => d, StringComparer.Ordinal)
            .SelectMany(d => Directory.EnumerateFiles(d, "*.ir")
                .Where(f => !f.EndsWith(".expected.ir", StringComparison.Ordinal))
                .OrderBy(f => f, StringComparer.Ordinal)
                .Select(f => new GoldenCase(Path.GetFileName(d), Path.GetFileNameWithoutExtension(f), f)));

    public string Run()
    {
        var text = File.ReadAllText(CasePath);
        var firstLine = text.Split('\n', 2)[0];
        const string prefix = "// RUN: ";
        if (!firstLine.StartsWith(prefix, StringComparison.Ordinal))
            throw new InvalidOperationException($"{CasePath}: the first line must be '// RUN: ...'");
        var run = firstLine[prefix.Length..].Trim();
        var body = text.Length > firstLine.Length ? text[(firstLine.Length + 1)..] : "";
        if (run.StartsWith("import corpus:", StringComparison.Ordinal))
        {
            // import corpus:<path>.onnx, or import corpus:<path>.pt [name=type[dims] ...] for TorchScript archives.
            var words = run["import corpus:".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var modelPath = Path.Combine(RepoPaths.CorpusModels, words[0]);
            using var model = modelPath.EndsWith(".pt", StringComparison.Ordinal)
                ? Alloy.TorchScript.TorchScriptImporter.Load(modelPath, Alloy.TorchScript.TorchScriptImportOptions.Parse(words.Skip(1)))
                : OnnxImporter.Load(modelPath);
            var issues = Verifier.Verify(model);
            if (issues.Count > 0) throw new InvalidOperationException(string.Join("\n", issues));
            return IrPrinter.Print(model);
        }
        if (run == "print")
            return IrPrinter.Print(IrParser.ParseModel(body));
        var parsed = IrParser.ParseModel(body);
        Alloy.Passes.StandardPasses.CreateRegistry().Build(run).Run(parsed);
        return IrPrinter.Print(parsed);
    }

    public override string ToString() => $"{Suite}/{Name}";
}
