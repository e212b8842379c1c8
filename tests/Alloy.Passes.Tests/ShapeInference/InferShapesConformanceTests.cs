using Alloy.Backend;
using Alloy.IR;
using Alloy.Onnx;
using Alloy.Runtime.Execution;
using Alloy.Runtime.Kernels;
using Xunit;
using Xunit.Abstractions;

namespace Alloy.Passes.Tests.ShapeInference;

/// <summary>
/// infer-shapes over the ONNX backend conformance models (<c>node/*/model.onnx</c>), with every node result's type
/// forgotten first so the pass derives them all: it never throws; for every model whose ops the reference runtime
/// supports, the inferred element types of the graph outputs equal the declared ones; and every inferred shape
/// agrees with the shape the runtime produces on the model's first data set.
/// </summary>
public sealed class InferShapesConformanceTests(ITestOutputHelper output)
{
    private const string DataRoot = "/usr/share/libonnx-testdata/data";
    private const string NodeSuite = DataRoot + "/node";

    /// <summary>The element type of a tensor, or of the tensors a sequence or optional holds.</summary>
    private static DataType? ElementTypeOf(IrType? t) => t switch
    {
        TensorType { ElementType: not DataType.Undefined } tt => tt.ElementType,
        SequenceType s => ElementTypeOf(s.ElementType),
        OptionalType o => ElementTypeOf(o.ElementType),
        _ => null,
    };

    private static bool AllSupported(Graph g, KernelRegistry registry) =>
        g.SelfAndSubgraphs().SelectMany(s => s.Nodes).All(n => registry.Supports(n.Domain, n.OpType));

    [Theory]
    [InlineData("node")]
    [InlineData("pytorch-converted")]
    [InlineData("pytorch-operator")]
    [InlineData("simple")]
    public void ConformanceModels_InferredOutputElementTypesMatchTheDeclaredOnes(string suite)
    {
        var suiteFolder = Path.Combine(DataRoot, suite);
        Assert.True(Directory.Exists(suiteFolder), $"the ONNX conformance data is not installed at {suiteFolder}; run scripts/setup-test-deps.sh");
        var registry = KernelRegistry.Reference();
        int models = 0, supported = 0, agree = 0, notImported = 0, outputsCompared = 0, outputsFullyKnown = 0;
        int ran = 0, resultsCompared = 0, resultsFullyKnown = 0, otherModels = 0, otherAgree = 0;
        var thrown = new List<string>();
        var disagree = new List<string>();
        var otherDisagree = new List<string>();
        var notes = new List<string>();
        var runtimeMismatches = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories(suiteFolder).Order(StringComparer.Ordinal))
        {
            var path = Path.Combine(dir, "model.onnx");
            if (!File.Exists(path)) continue;
            var name = Path.GetFileName(dir);
            models++;
            Model model;
            try { model = OnnxImporter.Load(path); }
            catch (OnnxImportException) { notImported++; continue; }
            using (model)
            {
                var declared = model.Graph.Outputs.Select(o => o.Type).ToList();
                InferenceHarness.StripNodeResultTypes(model);
                try
                {
                    var report = InferenceHarness.Infer(model);
                    notes.AddRange(report.Diagnostics.Select(d => $"{name}: {d}"));
                }
                catch (Exception e)
                {
                    thrown.Add($"{name}: {e.Message}");
                    continue;
                }
                bool isSupported = AllSupported(model.Graph, registry) && declared.All(t => t is TensorType { ElementType: not DataType.Undefined });
                if (!isSupported)
                {
                    // Ops the runtime does not run (sequences, optionals, random generators): counted, not required.
                    if (declared.All(t => ElementTypeOf(t) is not null))
                    {
                        otherModels++;
                        if (declared.Select((t, i) => ElementTypeOf(t) == ElementTypeOf(model.Graph.Outputs[i].Type)).All(b => b)) otherAgree++;
                        else otherDisagree.Add($"{name} (ops {string.Join(", ", model.Graph.SelfAndSubgraphs().SelectMany(g => g.Nodes).Where(n => !registry.Supports(n.Domain, n.OpType)).Select(n => n.OpType).Distinct())}): declared {string.Join(", ", declared.Select(InferenceHarness.Text))}, inferred {string.Join(", ", model.Graph.Outputs.Select(o => InferenceHarness.Text(o.Type)))}");
                    }
                    continue;
                }
                supported++;
                bool same = true;
                for (int i = 0; i < declared.Count; i++)
                {
                    outputsCompared++;
                    var inferred = model.Graph.Outputs[i].Type;
                    if (inferred is TensorType { Shape.IsFullyKnown: true }) outputsFullyKnown++;
                    if (inferred is not TensorType t || t.ElementType != ((TensorType)declared[i]!).ElementType)
                    {
                        same = false;
                        disagree.Add($"{name}: output {i} '{model.Graph.Outputs[i].Name}' declared {InferenceHarness.Text(declared[i])}, inferred {InferenceHarness.Text(inferred)}");
                    }
                }
                if (same) agree++;

                // Shapes against the runtime, for every result of the main graph.
                var dataSet = Path.Combine(dir, "test_data_set_0");
                if (!Directory.Exists(dataSet)) continue;
                var inputs = InferenceHarness.LoadInputs(model, dataSet);
                try
                {
                    Dictionary<string, (Alloy.Runtime.ElementType Type, long[] Shape)> actual;
                    try { actual = InferenceHarness.RunEveryResult(path, inputs); }
                    catch (Exception e) when (e is ExecutionException or UnsupportedModelException or InvalidOperationException) { continue; }
                    ran++;
                    foreach (var v in model.Graph.Nodes.SelectMany(n => n.Outputs).Where(v => v.Name.Length > 0))
                    {
                        if (!actual.TryGetValue(v.Name, out var run)) continue;
                        resultsCompared++;
                        if (v.Type is TensorType { Shape.IsFullyKnown: true }) resultsFullyKnown++;
                        if (InferenceHarness.Compare(v.Type, run.Type, run.Shape, new Dictionary<string, long>(), requireFullyKnown: false) is { } diff)
                            runtimeMismatches.Add($"{name}: '{v.Name}' ({v.Producer?.OpType}): {diff}");
                    }
                }
                finally
                {
                    foreach (var t in inputs.Values) t.Dispose();
                }
            }
        }
        output.WriteLine($"{suite}: {models} conformance models, {notImported} not importable, {thrown.Count} threw");
        output.WriteLine($"{supported} with every op supported by the runtime: {agree} agree on every output element type ({outputsCompared} outputs, {outputsFullyKnown} with fully known shapes)");
        output.WriteLine($"{otherModels} more with ops the runtime does not run: {otherAgree} agree on every output element type");
        output.WriteLine($"{ran} run by the runtime: {resultsCompared} results compared, {resultsFullyKnown} fully known, {runtimeMismatches.Count} mismatches");
        output.WriteLine($"{notes.Count} diagnostics");
        foreach (var line in disagree.Concat(runtimeMismatches).Concat(notes).Concat(thrown).Concat(otherDisagree)) output.WriteLine(line);
        Assert.Empty(thrown);
        Assert.Empty(disagree);
        Assert.Empty(runtimeMismatches);
        Assert.Empty(notes);
        Assert.Equal(supported, agree);
    }

    [Fact]
    public void ConformanceModels_DeclaredTypesAgreeWithTheInferredOnes()
    {
        Assert.True(Directory.Exists(NodeSuite), $"the ONNX conformance data is not installed at {NodeSuite}; run scripts/setup-test-deps.sh");
        int models = 0;
        long typed = 0;
        var warnings = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories(NodeSuite).Order(StringComparer.Ordinal))
        {
            var path = Path.Combine(dir, "model.onnx");
            if (!File.Exists(path)) continue;
            using var model = OnnxImporter.Load(path);
            models++;
            var report = InferenceHarness.Infer(model);
            typed += report.Passes[0].Statistics.Single(s => s.Name == "values-typed").Value;
            warnings.AddRange(report.Diagnostics.Select(d => $"{Path.GetFileName(dir)}: {d}"));
        }
        output.WriteLine($"{models} models with their declared types kept: {typed} results typed or refined, {warnings.Count} diagnostics");
        foreach (var w in warnings) output.WriteLine(w);
        Assert.Empty(warnings);
    }
}
