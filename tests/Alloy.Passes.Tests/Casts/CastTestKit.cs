using Alloy.Backend;
using Alloy.IR;
using Alloy.Passes;
using Alloy.Pipeline;
using Alloy.Runtime;
using Alloy.Runtime.Execution;
using Alloy.Runtime.Kernels;
using Alloy.Testing;

namespace Alloy.Passes.Tests.Casts;

/// <summary>Helpers for the cast-pass tests: parsing cases, running pipelines, running models on the reference kernels.</summary>
internal static class CastTestKit
{
    public static string GoldenDir(string passId) => Path.Combine(RepoPaths.Golden, passId);

    /// <summary>The golden cases of a pass: (case name, RUN line, IR text below it).</summary>
    public static IEnumerable<(string Name, string Run, string Body)> GoldenCases(string passId)
    {
        foreach (var file in Directory.EnumerateFiles(GoldenDir(passId), "*.ir").Where(f => !f.EndsWith(".expected.ir", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            var text = File.ReadAllText(file);
            var first = text.Split('\n', 2)[0];
            yield return (Path.GetFileNameWithoutExtension(file), first["// RUN: ".Length..].Trim(), text[(first.Length + 1)..]);
        }
    }

    public static (string Run, string Body) Golden(string passId, string name) =>
        GoldenCases(passId).Where(c => c.Name == name).Select(c => (c.Run, c.Body)).Single();

    public static Model Parse(string text) => IrParser.ParseModel(text);

    public static PipelineReport Run(Model model, string pipeline) => StandardPasses.CreateRegistry().Build(pipeline).Run(model);

    public static long Stat(PipelineReport report, string pass, string name) =>
        report.Passes.Where(p => p.PassId == pass).SelectMany(p => p.Statistics).Where(s => s.Name == name).Sum(s => s.Value);

    public static int CountOps(Model model, string op) => model.Graph.SelfAndSubgraphs().Sum(g => g.Nodes.Count(n => n.OpType == op));

    /// <summary>Random inputs for every graph input: floats in [-2, 2] (rounded to the input's type), small integers, random bools; symbolic dims become <paramref name="batch"/>.</summary>
    public static Dictionary<string, Tensor> RandomInputs(Model model, int seed, long batch = 3)
    {
        var rng = new Random(seed);
        var inputs = new Dictionary<string, Tensor>();
        foreach (var v in model.Graph.Inputs)
        {
            if (v.Constant is not null) continue;
            var tt = (TensorType)v.Type!;
            var shape = tt.Shape!.Dims.Select(d => d.Size ?? batch).ToArray();
            long count = shape.Aggregate(1L, (a, b) => a * b);
            var type = (ElementType)(int)tt.ElementType;
            var t = Tensor.Create(type, shape);
            var bytes = t.Bytes;
            for (int i = 0; i < count; i++)
            {
                double f = rng.NextDouble() * 4 - 2;
                switch (tt.ElementType)
                {
                    case DataType.Float: BitConverter.TryWriteBytes(bytes[(i * 4)..], (float)f); break;
                    case DataType.Double: BitConverter.TryWriteBytes(bytes[(i * 8)..], f); break;
                    case DataType.Float16: BitConverter.TryWriteBytes(bytes[(i * 2)..], (Half)f); break;
                    case DataType.BFloat16: BitConverter.TryWriteBytes(bytes[(i * 2)..], Alloy.Runtime.Numerics.BFloat16.FromFloat((float)f).Bits); break;
                    case DataType.Bool: bytes[i] = (byte)rng.Next(2); break;
                    case DataType.Int8: bytes[i] = unchecked((byte)(sbyte)rng.Next(-128, 128)); break;
                    case DataType.UInt8: bytes[i] = (byte)rng.Next(256); break;
                    case DataType.Int32: BitConverter.TryWriteBytes(bytes[(i * 4)..], rng.Next(-100, 100)); break;
                    case DataType.Int64: BitConverter.TryWriteBytes(bytes[(i * 8)..], (long)rng.Next(0, 4)); break;
                    default: throw new NotSupportedException($"no random data for {tt.ElementType}");
                }
            }
            inputs[v.Name] = t;
        }
        return inputs;
    }

    /// <summary>Runs a model on the reference kernels; outputs in graph order.</summary>
    public static Tensor[] Execute(Model model, IReadOnlyDictionary<string, Tensor> inputs)
    {
        var plan = PlanCompiler.Compile(model, KernelRegistry.Reference());
        return new PlanExecutor(1).Run(plan, inputs).Select(t => t!).ToArray();
    }

    public static double[] AsDoubles(Tensor t)
    {
        var r = new double[t.Length];
        var b = t.Bytes;
        for (int i = 0; i < r.Length; i++)
            r[i] = t.Type switch
            {
                ElementType.Float => BitConverter.ToSingle(b[(i * 4)..]),
                ElementType.Double => BitConverter.ToDouble(b[(i * 8)..]),
                ElementType.Float16 => (double)BitConverter.ToHalf(b[(i * 2)..]),
                ElementType.BFloat16 => BitConverter.UInt32BitsToSingle((uint)BitConverter.ToUInt16(b[(i * 2)..]) << 16),
                _ => throw new NotSupportedException(t.Type.ToString()),
            };
        return r;
    }

    /// <summary>max |a − b| / max |b| over all elements (0 when both are all zero).</summary>
    public static double RelativeError(Tensor actual, Tensor reference)
    {
        var a = AsDoubles(actual);
        var b = AsDoubles(reference);
        double err = 0, scale = 0;
        for (int i = 0; i < a.Length; i++)
        {
            if (a[i].Equals(b[i])) continue; // equal, including the same infinity or both NaN
            if (!double.IsFinite(a[i]) || !double.IsFinite(b[i])) return double.PositiveInfinity;
            err = Math.Max(err, Math.Abs(a[i] - b[i]));
        }
        foreach (var v in b)
            if (double.IsFinite(v)) scale = Math.Max(scale, Math.Abs(v));
        return scale == 0 ? err : err / scale;
    }
}
