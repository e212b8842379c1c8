using Alloy.Runtime.Execution;
using Alloy.Runtime.Kernels;
using Alloy.Runtime.Numerics;
using Xunit;

namespace Alloy.Runtime.Tests.Kernels;

/// <summary>
/// Helpers for the element-wise and reduction kernel tests: run one op through the reference registry, build
/// inputs, and an independent exact rounding of doubles to bf16 / f16 / f32 for the expected values.
/// </summary>
internal static class ElementwiseTestKit
{
    private static readonly KernelRegistry Registry = KernelRegistry.Reference();

    public static KernelNode Node(string op, long opset, Dictionary<string, object>? attributes, params Tensor?[] inputs) =>
        new(op, "", opset, attributes is null ? AttributeMap.Empty : new AttributeMap(attributes),
            inputs.Select(t => t?.Type).ToArray(), 1, "test");

    /// <summary>The kernel for a node, or null and the factory's reason.</summary>
    public static IKernel? Create(string op, long opset, Dictionary<string, object>? attributes, out string? reason, params Tensor?[] inputs) =>
        Registry.Create(Node(op, opset, attributes, inputs), out reason);

    /// <summary>Runs one op and returns its first output.</summary>
    public static Tensor Run(string op, long opset, Dictionary<string, object>? attributes, params Tensor?[] inputs)
    {
        var kernel = Create(op, opset, attributes, out var reason, inputs);
        Assert.True(kernel is not null, $"no kernel for {op}: {reason}");
        var outputs = new Tensor?[1];
        kernel!.Run(new KernelContext(new PlanExecutor(1), 1), inputs, outputs);
        Assert.NotNull(outputs[0]);
        return outputs[0]!;
    }

    public static Tensor Run(string op, params Tensor?[] inputs) => Run(op, 17, null, inputs);

    public static Dictionary<string, object> Attrs(params (string Name, object Value)[] values) =>
        values.ToDictionary(v => v.Name, v => v.Value);

    public static Tensor F32(long[] shape, params float[] data) => Tensor.FromArray(ElementType.Float, shape, data);
    public static Tensor F64(long[] shape, params double[] data) => Tensor.FromArray(ElementType.Double, shape, data);
    public static Tensor I64(long[] shape, params long[] data) => Tensor.FromArray(ElementType.Int64, shape, data);
    public static Tensor I32(long[] shape, params int[] data) => Tensor.FromArray(ElementType.Int32, shape, data);
    public static Tensor Bools(long[] shape, params bool[] data) => Tensor.FromArray(ElementType.Bool, shape, data.Select(b => b ? (byte)1 : (byte)0).ToArray());

    /// <summary>A tensor of any numeric type holding values that are exactly representable in it.</summary>
    public static Tensor Of(ElementType type, long[] shape, params double[] values)
    {
        var t = ElementConvert.FromDoubles(type, shape, values);
        for (int i = 0; i < values.Length; i++)
            if (!double.IsNaN(values[i])) Assert.Equal(values[i], ElementConvert.GetDouble(t, i));
        return t;
    }

    public static double[] Values(Tensor t) => ElementConvert.ToDoubles(t);
    public static long[] Longs(Tensor t) => ElementConvert.ToLongs(t);

    /// <summary>Deterministic pseudo-random values in [lo, hi), already rounded to <paramref name="type"/>.</summary>
    public static double[] Random(int count, int seed, double lo = -3, double hi = 3, ElementType type = ElementType.Float)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => RoundTo(type, lo + (hi - lo) * rng.NextDouble())).ToArray();
    }

    /// <summary>
    /// <paramref name="v"/> rounded once, to nearest even, to a binary format with <paramref name="precision"/>
    /// significand bits, smallest normal exponent <paramref name="minExponent"/> and largest finite value
    /// <paramref name="max"/> (overflow gives infinity). Written independently of the runtime's conversions.
    /// </summary>
    public static double RoundToFormat(double v, int precision, int minExponent, double max)
    {
        if (v == 0 || !double.IsFinite(v)) return v;
        int e = Math.Max(Math.ILogB(v), minExponent);
        double ulp = Math.ScaleB(1.0, e - (precision - 1));
        double r = Math.Round(v / ulp, MidpointRounding.ToEven) * ulp;
        if (Math.Abs(r) > max) return v > 0 ? double.PositiveInfinity : double.NegativeInfinity;
        return r == 0 ? Math.CopySign(0.0, v) : r;
    }

    public static double RoundTo(ElementType type, double v) => type switch
    {
        ElementType.Double => v,
        ElementType.Float => RoundToFormat(v, 24, -126, float.MaxValue),
        ElementType.Float16 => RoundToFormat(v, 11, -14, 65504),
        ElementType.BFloat16 => RoundToFormat(v, 8, -126, 3.3895313892515355e38),
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    /// <summary>Asserts the tensor holds exactly <paramref name="expected"/> rounded once to its element type.</summary>
    public static void AssertRoundedOnce(IReadOnlyList<double> expected, Tensor actual, long[]? shape = null)
    {
        if (shape is not null) Assert.Equal(shape, actual.Shape);
        var got = Values(actual);
        Assert.Equal(expected.Count, got.Length);
        for (int i = 0; i < got.Length; i++)
        {
            double want = RoundTo(actual.Type, expected[i]);
            if (double.IsNaN(want)) Assert.True(double.IsNaN(got[i]), $"element {i}: expected NaN, got {got[i]:R}");
            else Assert.True(want.Equals(got[i]), $"element {i}: expected {want:R} (from {expected[i]:R}), got {got[i]:R} ({actual.Type.Name()})");
        }
    }

    public static void AssertValues(IReadOnlyList<double> expected, Tensor actual, double tolerance = 0)
    {
        var got = Values(actual);
        Assert.Equal(expected.Count, got.Length);
        for (int i = 0; i < got.Length; i++)
        {
            if (double.IsNaN(expected[i])) Assert.True(double.IsNaN(got[i]), $"element {i}: expected NaN, got {got[i]:R}");
            else Assert.True(Math.Abs(expected[i] - got[i]) <= tolerance || expected[i].Equals(got[i]),
                $"element {i}: expected {expected[i]:R}, got {got[i]:R}");
        }
    }

    public static void Throws(string op, long opset, Dictionary<string, object>? attributes, string messagePart, params Tensor?[] inputs)
    {
        var kernel = Create(op, opset, attributes, out var reason, inputs);
        Assert.True(kernel is not null, reason);
        var e = Assert.Throws<KernelException>(() => kernel!.Run(new KernelContext(new PlanExecutor(1), 1), inputs, new Tensor?[1]));
        Assert.Contains(messagePart, e.Message);
    }
}
