using Xunit;
using Alloy.Runtime.Execution;
using Alloy.Runtime.Kernels;
using Alloy.Runtime.Numerics;

namespace Alloy.Runtime.Tests.Kernels;

/// <summary>
/// Runs single reference kernels for the linear-algebra, convolution, normalization and recurrent tests, builds
/// their inputs, and checks results against an exact double reference rounded once to the output type.
/// </summary>
internal static class LinAlgHarness
{
    private static readonly KernelRegistry Registry = KernelRegistry.Reference();

    public static IKernel? Create(string op, Dictionary<string, object>? attrs, out string? reason, long opset = 17, int outputs = 1, params ElementType?[] types)
    {
        var node = new KernelNode(op, "", opset, new AttributeMap(attrs ?? []), types, outputs, "test");
        return Registry.Create(node, out reason);
    }

    /// <summary>Creates the kernel (asserting it is supported) and runs it.</summary>
    public static Tensor?[] Run(string op, Dictionary<string, object>? attrs, params Tensor?[] inputs) => RunN(op, attrs, 1, 17, inputs);

    public static Tensor?[] RunN(string op, Dictionary<string, object>? attrs, int outputs, long opset, params Tensor?[] inputs)
    {
        var kernel = Create(op, attrs, out var reason, opset, outputs, inputs.Select(t => t?.Type).ToArray());
        Assert.True(kernel is not null, $"{op} not supported: {reason}");
        var results = new Tensor?[outputs];
        kernel!.Run(new KernelContext(new PlanExecutor(1), 1), inputs, results);
        return results;
    }

    public static Tensor Run1(string op, Dictionary<string, object>? attrs, params Tensor?[] inputs) =>
        Run(op, attrs, inputs)[0] ?? throw new Xunit.Sdk.XunitException($"{op} produced no output");

    /// <summary>Runs and expects a <see cref="KernelException"/> whose message contains <paramref name="fragment"/>.</summary>
    public static void Throws(string fragment, string op, Dictionary<string, object>? attrs, params Tensor?[] inputs)
    {
        var e = Assert.Throws<KernelException>(() => RunN(op, attrs, 1, 17, inputs));
        Assert.Contains(fragment, e.Message);
    }

    public static Tensor T(ElementType type, long[] shape, IEnumerable<double> values) => ElementConvert.FromDoubles(type, shape, values.ToArray());
    public static Tensor F32(long[] shape, IEnumerable<double> values) => T(ElementType.Float, shape, values);
    public static Tensor I64(long[] shape, params long[] values) => ElementConvert.FromLongs(ElementType.Int64, shape, values);

    /// <summary>Deterministic pseudo-random float32 values in [-1, 1) (a fixed LCG, so cases are reproducible).</summary>
    public static double[] Random(long count, int seed)
    {
        var r = new double[count];
        ulong s = (ulong)seed * 6364136223846793005UL + 1442695040888963407UL;
        for (long i = 0; i < count; i++)
        {
            s = s * 6364136223846793005UL + 1442695040888963407UL;
            r[i] = (float)(((s >> 11) * (1.0 / (1UL << 53))) * 2 - 1);
        }
        return r;
    }

    /// <summary>Values already representable in <paramref name="type"/> (so widening loses nothing).</summary>
    public static double[] RandomOf(ElementType type, long count, int seed) => Random(count, seed).Select(v => Round(type, v)).ToArray();

    public static double Round(ElementType type, double v)
    {
        using var t = Tensor.Create(type, [1]);
        ElementConvert.SetDouble(t, 0, v);
        return ElementConvert.GetDouble(t, 0);
    }

    public static long Count(long[] shape) => shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>
    /// Asserts <paramref name="actual"/> has <paramref name="shape"/> and type <paramref name="type"/> and that each
    /// element is the exact value <paramref name="expected"/> rounded once to the type (the other neighbour is
    /// accepted only at a near-tie, where the reference's own summation order could decide).
    /// </summary>
    public static void AssertRounded(double[] expected, Tensor? actual, ElementType type, long[] shape)
    {
        Assert.NotNull(actual);
        Assert.Equal(type, actual!.Type);
        Assert.Equal(shape, actual.Shape);
        var got = ElementConvert.ToDoubles(actual);
        Assert.Equal(expected.Length, got.Length);
        for (int i = 0; i < got.Length; i++)
        {
            double e = expected[i], g = got[i];
            if (double.IsNaN(e))
            {
                Assert.True(double.IsNaN(g), $"element {i}: {g}, expected NaN");
                continue;
            }
            double best = Round(type, e);
            bool ok = g == best || Math.Abs(g - e) <= Math.Abs(best - e) + 1e-12 * Math.Max(1, Math.Abs(e));
            Assert.True(ok, $"element {i}: {g:R}, expected {e:R} rounded to {type.Name()} = {best:R}");
        }
    }

    /// <summary>Asserts closeness within an absolute + relative tolerance.</summary>
    public static void AssertClose(double[] expected, Tensor? actual, long[] shape, double tol = 1e-6)
    {
        Assert.NotNull(actual);
        Assert.Equal(shape, actual!.Shape);
        var got = ElementConvert.ToDoubles(actual);
        Assert.Equal(expected.Length, got.Length);
        for (int i = 0; i < got.Length; i++)
            Assert.True(Math.Abs(got[i] - expected[i]) <= tol * (1 + Math.Abs(expected[i])), $"element {i}: {got[i]:R}, expected {expected[i]:R}");
    }

    public static void AssertLongs(long[] expected, Tensor? actual, ElementType type, long[] shape)
    {
        Assert.NotNull(actual);
        Assert.Equal(type, actual!.Type);
        Assert.Equal(shape, actual.Shape);
        Assert.Equal(expected, ElementConvert.ToLongs(actual));
    }

    public static Dictionary<string, object> A(params (string Name, object Value)[] attrs) => attrs.ToDictionary(a => a.Name, a => a.Value);
}
