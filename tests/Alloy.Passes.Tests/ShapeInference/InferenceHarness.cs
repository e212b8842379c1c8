using System.Globalization;
using Alloy.Backend;
using Alloy.IR;
using Alloy.Onnx;
using Alloy.Pipeline;
using Alloy.Runtime;
using Alloy.Runtime.Execution;
using Alloy.Runtime.Kernels;

namespace Alloy.Passes.Tests.ShapeInference;

/// <summary>Running infer-shapes and comparing its types with what the reference runtime produces.</summary>
internal static class InferenceHarness
{
    public static PipelineReport Infer(Model model, string pipeline = "infer-shapes") =>
        StandardPasses.CreateRegistry().Build(pipeline).Run(model);

    /// <summary>Every named node result of <paramref name="g"/> and the graphs nested in it.</summary>
    public static IEnumerable<Value> NodeResults(Graph g) =>
        g.SelfAndSubgraphs().SelectMany(s => s.Nodes).SelectMany(n => n.Outputs).Where(v => v.Name.Length > 0);

    /// <summary>Forgets every node result's type (value_info and declared outputs), so inference has to derive them all.</summary>
    public static void StripNodeResultTypes(Model model)
    {
        foreach (var v in NodeResults(model.Graph)) v.Type = null;
    }

    /// <summary>
    /// Runs a copy of the model read from <paramref name="path"/> with every node result of the main graph as an
    /// extra output; returns each result's runtime element type and shape by name.
    /// </summary>
    public static Dictionary<string, (ElementType Type, long[] Shape)> RunEveryResult(string path, IReadOnlyDictionary<string, Tensor> inputs) =>
        RunCache.GetOrAdd(path, p => RunUncached(p, inputs));

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Dictionary<string, (ElementType Type, long[] Shape)>> RunCache = new(StringComparer.Ordinal);

    private static Dictionary<string, (ElementType Type, long[] Shape)> RunUncached(string path, IReadOnlyDictionary<string, Tensor> inputs)
    {
        using var model = OnnxImporter.Load(path);
        var g = model.Graph;
        var outputs = new HashSet<Value>(g.Outputs);
        foreach (var n in g.Nodes.ToList())
            foreach (var r in n.Outputs)
                if (r.Name.Length > 0 && outputs.Add(r)) g.AddOutput(r);
        var plan = PlanCompiler.Compile(model, KernelRegistry.Reference());
        var results = new PlanExecutor(1).Run(plan, inputs);
        var map = new Dictionary<string, (ElementType, long[])>(StringComparer.Ordinal);
        try
        {
            for (int i = 0; i < results.Length; i++)
                if (results[i] is { } t) map[plan.Outputs[i].Name] = (t.Type, (long[])t.Shape.Clone());
        }
        finally
        {
            foreach (var t in results) t?.Dispose();
        }
        return map;
    }

    /// <summary>The inputs of a data set folder (<c>input_0.pb</c>, …) by graph input name.</summary>
    public static Dictionary<string, Tensor> LoadInputs(Model model, string dataSet)
    {
        var inputs = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var free = model.Graph.Inputs.Where(v => v.Constant is null).ToList();
        for (int i = 0; ; i++)
        {
            var file = Path.Combine(dataSet, $"input_{i}.pb");
            if (!File.Exists(file)) break;
            var (name, value) = OnnxTensorFile.Read(file);
            var target = free.FirstOrDefault(v => v.Name == name) ?? (i < free.Count ? free[i] : null);
            if (target is null) break;
            var tensor = ConstantTensors.ToTensor(value);
            // Test data written before bfloat16 had its own storage type holds the bits as uint16.
            if (target.ElementType == DataType.BFloat16 && tensor.Type == ElementType.UInt16)
            {
                var r = Tensor.Create(ElementType.BFloat16, tensor.Shape);
                tensor.Bytes.CopyTo(r.Bytes);
                tensor.Dispose();
                tensor = r;
            }
            inputs[target.Name] = tensor;
        }
        return inputs;
    }

    /// <summary>The value of a dimension when each symbol's size is given (products such as <c>4*N</c> included).</summary>
    public static long? Evaluate(Dim d, IReadOnlyDictionary<string, long> symbols)
    {
        if (d.Size is { } s) return s;
        if (d.Symbol is not { } text) return null;
        long v = 1;
        foreach (var part in text.Split('*'))
        {
            if (long.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var n)) v *= n;
            else if (symbols.TryGetValue(part, out var x)) v *= x;
            else return null;
        }
        return v;
    }

    /// <summary>
    /// Compares an inferred type with a runtime result: element type equal, rank equal, and each dimension equal
    /// to the runtime size when it is known (or a symbol whose value is given). Null when they agree.
    /// </summary>
    public static string? Compare(IrType? inferred, ElementType type, long[] shape, IReadOnlyDictionary<string, long> symbols, bool requireFullyKnown)
    {
        if (inferred is not TensorType t) return $"inferred {Text(inferred)}, runtime {type}[{string.Join(",", shape)}]";
        if ((int)t.ElementType != (int)type) return $"element type {t.ElementType.ShortName()} vs runtime {type}";
        if (t.Shape is null) return requireFullyKnown ? $"shape unknown, runtime [{string.Join(",", shape)}]" : null;
        if (t.Shape.Rank != shape.Length) return $"rank of {Text(t)} vs runtime [{string.Join(",", shape)}]";
        for (int k = 0; k < shape.Length; k++)
        {
            var dim = t.Shape[k];
            if (requireFullyKnown && !dim.IsKnown) return $"{Text(t)} is not fully known, runtime [{string.Join(",", shape)}]";
            if (Evaluate(dim, symbols) is { } v && v != shape[k]) return $"{Text(t)} vs runtime [{string.Join(",", shape)}]";
        }
        return null;
    }

    public static string Text(IrType? t) => t switch
    {
        null => "?",
        TensorType tt => tt.ElementType.ShortName() + (tt.Shape is null ? "[*]" : "[" + string.Join(",", tt.Shape.Dims) + "]"),
        _ => t.ToString() ?? "?",
    };
}
