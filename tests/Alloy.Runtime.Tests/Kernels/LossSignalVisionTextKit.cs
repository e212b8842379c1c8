using Alloy.Runtime.Execution;
using Alloy.Runtime.Kernels;
using Alloy.Runtime.Numerics;
using Xunit;

namespace Alloy.Runtime.Tests.Kernels;

/// <summary>Helpers for the Loss, Signal, Vision and Text kernel tests: building nodes and tensors, running kernels.</summary>
internal static class LossSignalVisionTextKit
{
    private static readonly KernelRegistry Registry = KernelRegistry.Reference();

    public static Dictionary<string, object> A(params (string Name, object Value)[] values) => values.ToDictionary(v => v.Name, v => v.Value);

    public static KernelNode Node(string op, long opset, Dictionary<string, object>? attrs, int outputs, Tensor?[] inputs) =>
        new(op, "", opset, new AttributeMap(attrs ?? []), inputs.Select(t => t?.Type).ToList(), outputs, "test");

    public static IKernel? Create(string op, long opset, Dictionary<string, object>? attrs, out string? reason, params Tensor?[] inputs) =>
        Registry.Create(Node(op, opset, attrs, 1, inputs), out reason);

    public static Tensor?[] RunAll(string op, long opset, Dictionary<string, object>? attrs, int outputs, params Tensor?[] inputs)
    {
        var kernel = Registry.Create(Node(op, opset, attrs, outputs, inputs), out var reason);
        Assert.True(kernel is not null, reason);
        var result = new Tensor?[outputs];
        kernel.Run(new KernelContext(new PlanExecutor(1), 1), inputs, result);
        return result;
    }

    public static Tensor Run(string op, long opset, Dictionary<string, object>? attrs, params Tensor?[] inputs) =>
        RunAll(op, opset, attrs, 1, inputs)[0]!;

    /// <summary>The kernel is created but running it throws a KernelException.</summary>
    public static KernelException Fails(string op, long opset, Dictionary<string, object>? attrs, params Tensor?[] inputs) =>
        Assert.Throws<KernelException>(() => Run(op, opset, attrs, inputs));

    /// <summary>The factory declines the node; returns its reason.</summary>
    public static string Declines(string op, long opset, Dictionary<string, object>? attrs, params Tensor?[] inputs)
    {
        Assert.Null(Create(op, opset, attrs, out var reason, inputs));
        Assert.False(string.IsNullOrEmpty(reason));
        return reason!;
    }

    public static Tensor F32(long[] shape, params float[] v) => Tensor.FromArray(ElementType.Float, shape, v);
    public static Tensor F64(long[] shape, params double[] v) => Tensor.FromArray(ElementType.Double, shape, v);
    public static Tensor I64(long[] shape, params long[] v) => Tensor.FromArray(ElementType.Int64, shape, v);
    public static Tensor I32(long[] shape, params int[] v) => Tensor.FromArray(ElementType.Int32, shape, v);
    public static Tensor Str(long[] shape, params string[] v) => Tensor.FromStrings(shape, v);
    public static Tensor ScalarI64(long v) => Tensor.FromArray(ElementType.Int64, [], [v]);
    public static Tensor ScalarF32(float v) => Tensor.FromArray(ElementType.Float, [], [v]);

    /// <summary>A tensor of any float type holding <paramref name="values"/> (which the tests choose exactly representable).</summary>
    public static Tensor Of(ElementType type, long[] shape, params double[] values) => ElementConvert.FromDoubles(type, shape, values);

    public static double[] D(Tensor t) => ElementConvert.ToDoubles(t);
    public static long[] L(Tensor t) => ElementConvert.ToLongs(t);

    /// <summary>Deterministic pseudo-random values in [lo, hi), rounded to <paramref name="type"/> so they are exact inputs.</summary>
    public static double[] Random(int count, int seed, double lo = -2, double hi = 2, ElementType type = ElementType.Float)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => RoundTo(type, lo + (hi - lo) * rng.NextDouble())).ToArray();
    }

    /// <summary><paramref name="v"/> rounded once to nearest-even in <paramref name="type"/> (f64, f32, f16, bf16).</summary>
    public static double RoundTo(ElementType type, double v) => type switch
    {
        ElementType.Double => v,
        ElementType.Float => (float)v,
        ElementType.Float16 => (double)(Half)v,
        ElementType.BFloat16 => RoundToBf16(v),
        _ => throw new ArgumentException($"no rounding for {type}"),
    };

    /// <summary>Round to 8 significant bits, nearest even (normal range; the tests stay far from overflow).</summary>
    public static double RoundToBf16(double v)
    {
        if (v == 0 || !double.IsFinite(v)) return v;
        int e = Math.Max(Math.ILogB(v), -126);
        double quantum = Math.ScaleB(1.0, e - 7);
        return Math.Round(v / quantum, MidpointRounding.ToEven) * quantum;
    }

    public static void Close(IReadOnlyList<double> expected, Tensor actual, double tol)
    {
        var a = D(actual);
        Assert.Equal(expected.Count, a.Length);
        for (int i = 0; i < a.Length; i++)
            Assert.True(Math.Abs(expected[i] - a[i]) <= tol * Math.Max(1, Math.Abs(expected[i])) || (double.IsNaN(expected[i]) && double.IsNaN(a[i])),
                $"element {i}: expected {expected[i]}, got {a[i]}");
    }

    /// <summary>Every element equals the expected double rounded once to the tensor's type.</summary>
    public static void RoundedOnce(IReadOnlyList<double> expected, Tensor actual)
    {
        var a = D(actual);
        Assert.Equal(expected.Count, a.Length);
        for (int i = 0; i < a.Length; i++)
        {
            double e = RoundTo(actual.Type, expected[i]);
            Assert.True(e.Equals(a[i]), $"element {i}: expected {e} ({expected[i]} rounded to {actual.Type}), got {a[i]}");
        }
    }

    public static long[] Unflatten(long k, long[] shape)
    {
        var idx = new long[shape.Length];
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            idx[i] = k % shape[i];
            k /= shape[i];
        }
        return idx;
    }

    public static long Flatten(long[] idx, long[] shape)
    {
        long k = 0;
        for (int i = 0; i < shape.Length; i++) k = k * shape[i] + idx[i];
        return k;
    }
}
