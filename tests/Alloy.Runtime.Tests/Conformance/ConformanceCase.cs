using Alloy.Backend;
using Alloy.IR;
using Alloy.Onnx;
using Alloy.Runtime;
using Alloy.Runtime.Execution;
using Alloy.Runtime.Kernels;

namespace Alloy.Runtime.Tests.Conformance;

/// <summary>One ONNX backend test case: a model and its test data sets (inputs and expected outputs as TensorProto files).</summary>
public sealed record ConformanceCase(string Suite, string Name, string Folder)
{
    public const string DataRoot = "/usr/share/libonnx-testdata/data";
    public static readonly string[] Suites = ["node", "pytorch-converted", "pytorch-operator", "simple"];

    public string Id => $"{Suite}/{Name}";
    public override string ToString() => Id;

    public static IReadOnlyList<ConformanceCase> All()
    {
        if (!Directory.Exists(Path.Combine(DataRoot, "node")))
            throw new InvalidOperationException($"the ONNX conformance data is not installed at {DataRoot}; run scripts/setup-test-deps.sh");
        return Suites.SelectMany(s => Directory.EnumerateDirectories(Path.Combine(DataRoot, s))
                .Where(d => File.Exists(Path.Combine(d, "model.onnx")))
                .Select(d => new ConformanceCase(s, Path.GetFileName(d), d)))
            .OrderBy(c => c.Id, StringComparer.Ordinal).ToList();
    }

    /// <summary>Null when the reference kernels can run the case; otherwise why not.</summary>
    public string? UnsupportedReason(KernelRegistry registry)
    {
        try
        {
            using var model = OnnxImporter.Load(Path.Combine(Folder, "model.onnx"));
            foreach (var v in model.Graph.Inputs.Concat(model.Graph.Outputs))
                if (v.Type is not null and not TensorType)
                    return $"graph value '{v.Name}' has type {v.Type.GetType().Name.Replace("Type", "").ToLowerInvariant()} (only tensors are supported)";
            var plan = PlanCompiler.Compile(model, registry);
            return null;
        }
        catch (UnsupportedModelException e)
        {
            return string.Join("; ", e.Nodes.Select(n => $"{n.Op}: {n.Reason}").Distinct());
        }
        catch (Exception e) when (e is OnnxImportException or InvalidOperationException)
        {
            return e.Message;
        }
    }

    public IEnumerable<string> DataSets() =>
        Directory.EnumerateDirectories(Folder, "test_data_set_*").Order(StringComparer.Ordinal);

    /// <summary>Runs every data set; returns the mismatches (empty when all outputs agree).</summary>
    public IReadOnlyList<string> Run(KernelRegistry registry)
    {
        using var model = OnnxImporter.Load(Path.Combine(Folder, "model.onnx"));
        var plan = PlanCompiler.Compile(model, registry);
        var problems = new List<string>();
        foreach (var set in DataSets())
        {
            var inputs = LoadTensors(set, "input");
            var expected = LoadTensors(set, "output");
            try
            {
                var given = new Dictionary<string, Tensor>();
                for (int i = 0; i < inputs.Count && i < plan.Inputs.Count; i++)
                {
                    var spec = plan.Inputs.FirstOrDefault(p => p.Name == inputs[i].Name) ?? plan.Inputs[i];
                    // ONNX test data written before bfloat16 had a storage type of its own holds its bits as uint16.
                    if (spec.Type == ElementType.BFloat16 && inputs[i].Value.Type == ElementType.UInt16)
                        inputs[i] = (inputs[i].Name, Reinterpret(inputs[i].Value, ElementType.BFloat16));
                    given[spec.Name] = inputs[i].Value;
                }
                var outputs = new PlanExecutor(1).Run(plan, given);
                try
                {
                    if (outputs.Length != expected.Count)
                        problems.Add($"{Path.GetFileName(set)}: {outputs.Length} outputs, expected {expected.Count}");
                    for (int i = 0; i < Math.Min(outputs.Length, expected.Count); i++)
                    {
                        if (outputs[i]?.Type == ElementType.BFloat16 && expected[i].Value.Type == ElementType.UInt16)
                            expected[i] = (expected[i].Name, Reinterpret(expected[i].Value, ElementType.BFloat16));
                        var diff = TensorComparer.Compare(outputs[i], expected[i].Value, Tolerance.For(Name));
                        if (diff is not null) problems.Add($"{Path.GetFileName(set)} output {i} ('{plan.Outputs[i].Name}'): {diff}");
                    }
                }
                finally
                {
                    foreach (var o in outputs) o?.Dispose();
                }
            }
            finally
            {
                foreach (var t in inputs) t.Value.Dispose();
                foreach (var t in expected) t.Value.Dispose();
            }
        }
        return problems;
    }

    /// <summary>The same bits as another element type of equal width (the original tensor is disposed).</summary>
    private static Tensor Reinterpret(Tensor t, ElementType type)
    {
        var r = Tensor.Create(type, t.Shape);
        t.Bytes.CopyTo(r.Bytes);
        t.Dispose();
        return r;
    }

    private static List<(string Name, Tensor Value)> LoadTensors(string set, string prefix)
    {
        var result = new List<(string, Tensor)>();
        for (int i = 0; ; i++)
        {
            var path = Path.Combine(set, $"{prefix}_{i}.pb");
            if (!File.Exists(path)) break;
            var (name, value) = OnnxTensorFile.Read(path);
            result.Add((name, ConstantTensors.ToTensor(value)));
        }
        return result;
    }
}
