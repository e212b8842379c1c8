using Alloy.Backend;
using Alloy.OnnxRuntime;
using Alloy.Onnx;
using Alloy.Runtime.Execution;
using Alloy.Runtime.Kernels;
using Alloy.Runtime.Numerics;
using Alloy.Testing;
using Xunit;
using Xunit.Abstractions;

namespace Alloy.Runtime.Tests.Differential;

/// <summary>
/// Every ONNX model of the corpus on ONNX Runtime (the reference peer) and on Alloy's reference runtime, fed with
/// the model's shipped input (<c>test_data_set_0/input_*.pb</c>) and compared with each other and with the torch
/// reference (<c>output_*.pb</c>). The bound everywhere is max |actual − reference| ≤ 1e-4 × max(1, max |reference|).
/// ONNX Runtime against torch is its own test: it validates the binding whatever state Alloy's kernels are in.
/// </summary>
public sealed class OnnxRuntimeDifferentialTests(ITestOutputHelper output)
{
    public const double Tolerance = 1e-4;
    private const int Threads = 2;

    public static TheoryData<string> CorpusModels()
    {
        var data = new TheoryData<string>();
        foreach (var id in CorpusCase.All()) data.Add(id);
        return data;
    }

    [Fact]
    public void OnnxRuntimeLoads() => OrtRequirement.Check(output);

    [Fact]
    public void TheCorpusHasModelsWithReferenceData()
    {
        var ids = CorpusCase.All();
        Assert.NotEmpty(ids);
        foreach (var id in ids) Assert.True(File.Exists(CorpusCase.DataFile(id, "input_0.pb")), $"{id}: no test_data_set_0/input_0.pb");
    }

    /// <summary>(a) ONNX Runtime reproduces the torch reference: this checks the binding.</summary>
    [Theory]
    [MemberData(nameof(CorpusModels))]
    public void OnnxRuntimeMatchesTheTorchReference(string model)
    {
        OrtRequirement.Check(output);
        using var c = CorpusCase.Load(model);
        var ort = RunOnnxRuntime(c);
        try
        {
            var problems = Compare("ONNX Runtime vs torch", ort, c.Expected, c.OutputNames);
            Assert.True(problems.Count == 0, $"{model}:\n  " + string.Join("\n  ", problems));
        }
        finally
        {
            foreach (var t in ort) t.Dispose();
        }
    }

    /// <summary>(b) Alloy against ONNX Runtime and (c) Alloy against the torch reference.</summary>
    [Theory]
    [MemberData(nameof(CorpusModels))]
    public void AlloyMatchesOnnxRuntimeAndTheTorchReference(string model)
    {
        OrtRequirement.Check(output);
        using var c = CorpusCase.Load(model);
        var ort = RunOnnxRuntime(c);
        Tensor?[]? alloy = null;
        try
        {
            alloy = RunAlloy(c, model);
            var problems = new List<string>();
            problems.AddRange(Compare("Alloy vs ONNX Runtime", alloy, ort, c.OutputNames));
            problems.AddRange(Compare("Alloy vs torch", alloy, c.Expected, c.OutputNames));
            Assert.True(problems.Count == 0, $"{model}:\n  " + string.Join("\n  ", problems));
        }
        finally
        {
            foreach (var t in ort) t.Dispose();
            if (alloy is not null) foreach (var t in alloy) t?.Dispose();
        }
    }

    private static Tensor[] RunOnnxRuntime(CorpusCase c)
    {
        using var session = new OrtSession(c.ModelPath, Threads);
        Assert.Equal(c.OutputNames, session.Outputs);
        return session.Run(c.Inputs);
    }

    private static Tensor?[] RunAlloy(CorpusCase c, string model)
    {
        using var ir = OnnxImporter.Load(c.ModelPath);
        ExecutionPlan plan;
        try
        {
            plan = PlanCompiler.Compile(ir, KernelRegistry.Reference());
        }
        catch (UnsupportedModelException e)
        {
            var missing = e.Nodes.GroupBy(n => (n.Op, n.Reason)).Select(g => $"{g.Key.Op} ×{g.Count()}: {g.Key.Reason}");
            Assert.Fail($"{model}: Alloy's reference runtime cannot run this model yet ({e.Nodes.Count} node(s) without a kernel; " +
                        "expected until the reference kernels land):\n  " + string.Join("\n  ", missing));
            throw; // unreachable
        }
        try
        {
            return new PlanExecutor(Threads).Run(plan, c.Inputs);
        }
        catch (ExecutionException e)
        {
            Assert.Fail($"{model}: Alloy's reference runtime failed: {e.Message}");
            throw; // unreachable
        }
    }

    /// <summary>Problems (empty when all agree); each comparison's numbers go to the test output.</summary>
    private List<string> Compare(string what, IReadOnlyList<Tensor?> actual, IReadOnlyList<Tensor> reference, IReadOnlyList<string> names)
    {
        var problems = new List<string>();
        if (actual.Count != reference.Count)
        {
            problems.Add($"{what}: {actual.Count} outputs, the reference has {reference.Count}");
            return problems;
        }
        for (int i = 0; i < reference.Count; i++)
        {
            var d = Difference.Of(actual[i], reference[i]);
            var line = $"{what}, output '{names[i]}': {d}";
            output.WriteLine(line);
            if (!d.Within(Tolerance)) problems.Add(line);
        }
        return problems;
    }
}

/// <summary>How far one tensor is from a reference: max |actual − reference| against max |reference|.</summary>
public sealed record Difference(string? Mismatch, double MaxAbs, double MaxRef)
{
    public double Bound(double tolerance) => tolerance * Math.Max(1.0, MaxRef);
    /// <summary>max |diff| / max(1, max |ref|).</summary>
    public double Relative => MaxAbs / Math.Max(1.0, MaxRef);
    public bool Within(double tolerance) => Mismatch is null && MaxAbs <= Bound(tolerance);

    public static Difference Of(Tensor? actual, Tensor reference)
    {
        if (actual is null) return new("no value", double.PositiveInfinity, 0);
        if (actual.Type != reference.Type) return new($"element type {actual.Type.Name()}, the reference is {reference.Type.Name()}", double.PositiveInfinity, 0);
        if (!actual.Shape.SequenceEqual(reference.Shape)) return new($"shape {actual.ShapeText}, the reference is {reference.ShapeText}", double.PositiveInfinity, 0);
        double maxAbs = 0, maxRef = 0;
        for (long i = 0; i < reference.Length; i++)
        {
            double a = ElementConvert.GetDouble(actual, i), r = ElementConvert.GetDouble(reference, i);
            if (double.IsNaN(a) && double.IsNaN(r)) continue;
            double diff = a == r ? 0 : Math.Abs(a - r);
            maxAbs = Math.Max(maxAbs, double.IsNaN(diff) ? double.PositiveInfinity : diff);
            if (!double.IsNaN(r)) maxRef = Math.Max(maxRef, Math.Abs(r));
        }
        return new(null, maxAbs, maxRef);
    }

    public override string ToString() => Mismatch ??
        $"max |diff| {MaxAbs:G3}, max |ref| {MaxRef:G4}, relative {Relative:G3} (bound {OnnxRuntimeDifferentialTests.Tolerance:G2})";
}

/// <summary>A corpus model with its shipped reference input and torch output.</summary>
internal sealed class CorpusCase : IDisposable
{
    private CorpusCase(string modelPath, Dictionary<string, Tensor> inputs, Tensor[] expected, string[] outputNames)
    {
        ModelPath = modelPath;
        Inputs = inputs;
        Expected = expected;
        OutputNames = outputNames;
    }

    public string ModelPath { get; }
    public Dictionary<string, Tensor> Inputs { get; }
    public Tensor[] Expected { get; }
    public string[] OutputNames { get; }

    /// <summary>The corpus ONNX files, as paths relative to the models folder (forward slashes), sorted.</summary>
    public static IReadOnlyList<string> All() =>
        Directory.EnumerateFiles(RepoPaths.CorpusModels, "*.onnx", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(RepoPaths.CorpusModels, p).Replace('\\', '/'))
            .Order(StringComparer.Ordinal)
            .ToList();

    public static string DataFile(string id, string file) =>
        Path.Combine(Path.GetDirectoryName(Path.Combine(RepoPaths.CorpusModels, id))!, "test_data_set_0", file);

    public static CorpusCase Load(string id)
    {
        var path = Path.Combine(RepoPaths.CorpusModels, id);
        var inputs = new Dictionary<string, Tensor>();
        var expected = new List<Tensor>();
        var names = new List<string>();
        for (int i = 0; File.Exists(DataFile(id, $"input_{i}.pb")); i++)
        {
            var (name, value) = OnnxTensorFile.Read(DataFile(id, $"input_{i}.pb"));
            Assert.False(string.IsNullOrEmpty(name), $"{id}: input_{i}.pb has no tensor name");
            inputs.Add(name, ConstantTensors.ToTensor(value));
        }
        for (int i = 0; File.Exists(DataFile(id, $"output_{i}.pb")); i++)
        {
            var (name, value) = OnnxTensorFile.Read(DataFile(id, $"output_{i}.pb"));
            names.Add(name);
            expected.Add(ConstantTensors.ToTensor(value));
        }
        Assert.True(inputs.Count > 0 && expected.Count > 0, $"{id}: test_data_set_0 holds no input_0.pb / output_0.pb");
        return new CorpusCase(path, inputs, [.. expected], [.. names]);
    }

    public void Dispose()
    {
        foreach (var t in Inputs.Values) t.Dispose();
        foreach (var t in Expected) t.Dispose();
    }
}

/// <summary>ONNX Runtime must be present: a test that needs it fails (never passes) without it, saying how to install it.</summary>
internal static class OrtRequirement
{
    public static void Check(ITestOutputHelper? output = null)
    {
        if (!OrtSession.IsAvailable(out var reason))
            Assert.Fail($"ONNX Runtime cannot be loaded: {reason}");
        output?.WriteLine($"ONNX Runtime {OrtSession.Version} (C API {OrtSession.ApiVersion}) from {OrtSession.LibraryPath}");
    }
}
