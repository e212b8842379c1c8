using Alloy.Runtime.Execution;
using Alloy.Runtime.Kernels;
using Alloy.Runtime.Numerics;
using Xunit;

namespace Alloy.Runtime.Tests.Kernels;

/// <summary>
/// Helpers for the shape, indexing, quantization and misc kernel tests: run an op (any number of outputs) through
/// the reference registry, build tensors of any element type, and read them back.
/// </summary>
internal static class ShapeTestKit
{
    private static readonly KernelRegistry Registry = KernelRegistry.Reference();

    public static Dictionary<string, object> A(params (string Name, object Value)[] values) => values.ToDictionary(v => v.Name, v => v.Value);

    public static IKernel? Create(string op, long opset, Dictionary<string, object>? attrs, int outputs, out string? reason, params Tensor?[] inputs) =>
        Registry.Create(new KernelNode(op, "", opset, attrs is null ? AttributeMap.Empty : new AttributeMap(attrs),
            inputs.Select(t => t?.Type).ToArray(), outputs, "test"), out reason);

    /// <summary>Runs an op and returns all its outputs.</summary>
    public static Tensor?[] RunAll(string op, long opset, Dictionary<string, object>? attrs, int outputs, params Tensor?[] inputs)
    {
        var kernel = Create(op, opset, attrs, outputs, out var reason, inputs);
        Assert.True(kernel is not null, $"no kernel for {op}: {reason}");
        var results = new Tensor?[outputs];
        kernel!.Run(new KernelContext(new PlanExecutor(1), 1), inputs, results);
        foreach (var t in inputs)
            foreach (var r in results) Assert.False(ReferenceEquals(t, r), "a kernel returned its input");
        return results;
    }

    public static Tensor Run(string op, long opset, Dictionary<string, object>? attrs, params Tensor?[] inputs) =>
        RunAll(op, opset, attrs, 1, inputs)[0] ?? throw new Xunit.Sdk.XunitException($"{op} produced no output");

    /// <summary>Asserts that running the op throws a KernelException.</summary>
    public static KernelException Fails(string op, long opset, Dictionary<string, object>? attrs, params Tensor?[] inputs) =>
        Assert.Throws<KernelException>(() => RunAll(op, opset, attrs, 1, inputs));

    public static Tensor F32(long[] shape, params float[] v) => Tensor.FromArray(ElementType.Float, shape, v);
    public static Tensor F64(long[] shape, params double[] v) => Tensor.FromArray(ElementType.Double, shape, v);
    public static Tensor I64(long[] shape, params long[] v) => Tensor.FromArray(ElementType.Int64, shape, v);
    public static Tensor I64(params long[] v) => Tensor.FromArray(ElementType.Int64, [v.Length], v);
    public static Tensor I32(long[] shape, params int[] v) => Tensor.FromArray(ElementType.Int32, shape, v);
    public static Tensor U8(long[] shape, params byte[] v) => Tensor.FromArray(ElementType.UInt8, shape, v);
    public static Tensor I8(long[] shape, params sbyte[] v) => Tensor.FromArray(ElementType.Int8, shape, v);
    public static Tensor Bools(long[] shape, params bool[] v) => Tensor.FromArray(ElementType.Bool, shape, v.Select(b => b ? (byte)1 : (byte)0).ToArray());
    public static Tensor Str(long[] shape, params string[] v) => Tensor.FromStrings(shape, v);
    public static Tensor Scalar(long v) => Tensor.FromArray(ElementType.Int64, [], [v]);

    /// <summary>A tensor of any numeric type (sub-byte ones included) holding values exact in it.</summary>
    public static Tensor Of(ElementType type, long[] shape, params double[] values)
    {
        var t = ElementConvert.FromDoubles(type, shape, values);
        for (int i = 0; i < values.Length; i++) Assert.Equal(values[i], ElementConvert.GetDouble(t, i));
        return t;
    }

    /// <summary>0, 1, 2, … as <paramref name="type"/> (wrapping for small integer types).</summary>
    public static Tensor Iota(ElementType type, params long[] shape)
    {
        var t = Tensor.Create(type, shape);
        for (long i = 0; i < t.Length; i++)
        {
            if (type == ElementType.String) t.Strings[i] = "s" + i;
            else if (type.IsFloat()) ElementConvert.SetDouble(t, i, type is ElementType.Float4E2M1 ? i % 7 : i % 200);
            else ElementConvert.SetLong(t, i, i);
        }
        return t;
    }

    public static double[] D(Tensor t) => ElementConvert.ToDoubles(t);
    public static long[] L(Tensor t) => ElementConvert.ToLongs(t);

    /// <summary>Element <paramref name="i"/> as text (exact bits for numbers), to compare elements of any type.</summary>
    public static string E(Tensor t, long i)
    {
        if (t.Type == ElementType.String) return t.Strings[i];
        if (t.Type.Bits() == 4) return ((i & 1) == 0 ? t.Bytes[(int)(i >> 1)] & 0xF : t.Bytes[(int)(i >> 1)] >> 4).ToString();
        int size = t.Type.Bits() / 8;
        return Convert.ToHexString(t.Bytes.Slice((int)(i * size), size));
    }

    public static string[] Elements(Tensor t) => Enumerable.Range(0, (int)t.Length).Select(i => E(t, i)).ToArray();

    /// <summary>Asserts <paramref name="y"/> has <paramref name="shape"/> and element k equals element map[k] of x.</summary>
    public static void AssertTaken(Tensor x, Tensor y, long[] shape, long[] map)
    {
        Assert.Equal(x.Type, y.Type);
        Assert.Equal(shape, y.Shape);
        Assert.Equal(map.Length, y.Length);
        for (int k = 0; k < map.Length; k++) Assert.Equal(E(x, map[k]), E(y, k));
    }

    public static void AssertShape(long[] shape, Tensor t) => Assert.Equal(shape, t.Shape);

    public static void Close(double[] expected, double[] actual, double tol = 1e-9)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * Math.Max(1, Math.Abs(expected[i])), $"element {i}: expected {expected[i]}, got {actual[i]}");
    }

    /// <summary>The element types the data-movement ops must handle.</summary>
    public static readonly ElementType[] AllTypes =
    [
        ElementType.Float, ElementType.Double, ElementType.Float16, ElementType.BFloat16, ElementType.Int8, ElementType.UInt8,
        ElementType.Int16, ElementType.UInt16, ElementType.Int32, ElementType.UInt32, ElementType.Int64, ElementType.UInt64,
        ElementType.Bool, ElementType.String, ElementType.Float8E4M3FN, ElementType.Float8E5M2, ElementType.Int4, ElementType.UInt4,
        ElementType.Float4E2M1,
    ];

    public static TheoryData<ElementType> Types()
    {
        var d = new TheoryData<ElementType>();
        foreach (var t in AllTypes) d.Add(t);
        return d;
    }

    /// <summary>Row-major multi-index of flat position <paramref name="k"/>.</summary>
    public static long[] Unflatten(long k, long[] shape)
    {
        var idx = new long[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            idx[d] = k % shape[d];
            k /= shape[d];
        }
        return idx;
    }

    public static long Flatten(long[] idx, long[] shape)
    {
        long k = 0;
        for (int d = 0; d < shape.Length; d++) k = k * shape[d] + idx[d];
        return k;
    }

    /// <summary>
    /// <paramref name="v"/> rounded once, to nearest even, to a binary format with <paramref name="precision"/>
    /// significand bits and smallest normal exponent <paramref name="minExponent"/> (no overflow handling).
    /// </summary>
    public static double RoundToFormat(double v, int precision, int minExponent)
    {
        if (v == 0 || !double.IsFinite(v)) return v;
        int e = Math.Max(Math.ILogB(v), minExponent);
        double ulp = Math.ScaleB(1.0, e - (precision - 1));
        return Math.Round(v / ulp, MidpointRounding.ToEven) * ulp;
    }

    public static double RoundToBf16(double v) => RoundToFormat(v, 8, -126);
    public static double RoundToF16(double v) => RoundToFormat(v, 11, -14);

    public static long Count(long[] shape) => shape.Aggregate(1L, (a, b) => a * b);
}
