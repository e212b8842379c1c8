using Alloy.Runtime.Execution;
using Alloy.Runtime.Kernels;
using Alloy.Runtime.Kernels.Managed;
using Alloy.Runtime.Numerics;
using Xunit;

namespace Alloy.Runtime.Tests.Kernels;

/// <summary>
/// The managed float32 fast paths of Add / Sub / Mul / Div, Relu, Clip, MaxPool and GlobalAveragePool against the
/// reference kernels, at every ISA this machine has, on 1 and 2 threads: the results must be identical bit for bit
/// (NaN compared as NaN), including NaN, ±0 and ±∞ inputs, and configurations without a fast path must give the
/// reference result.
/// </summary>
public sealed class ManagedElementwiseTests
{
    private static readonly KernelRegistry Reference = KernelRegistry.Reference();
    private static IEnumerable<ManagedIsa> Isas => Enum.GetValues<ManagedIsa>().Where(i => i <= ManagedKernels.DefaultIsa);

    public static TheoryData<long[], long[]> BinaryShapes() => new()
    {
        { [2, 3, 17], [2, 3, 17] },     // same shape
        { [2, 3, 17], [] },             // scalar B
        { [1], [2, 3, 17] },            // scalar A
        { [2, 3, 17], [17] },           // B: trailing dims
        { [2, 3, 17], [1, 3, 17] },     // B: trailing dims with a leading 1
        { [17], [5, 17] },              // A: trailing dims
        { [2, 3, 17], [2, 3, 1] },      // B: leading dims then 1
        { [1, 32, 1], [1, 32, 40] },    // A: leading dims then 1 (LayerNorm-style)
        { [2, 5, 1, 1], [2, 5, 6, 7] }, // per-channel
        { [2, 1, 17], [1, 3, 17] },     // general broadcast: reference
        { [4, 0], [0] },                // empty
    };

    [Theory]
    [MemberData(nameof(BinaryShapes))]
    public void BinaryOpsMatchTheReference(long[] aShape, long[] bShape)
    {
        foreach (var op in new[] { "Add", "Sub", "Mul", "Div" })
        {
            using var a = Values(aShape, 1);
            using var b = Values(bShape, 2);
            Check(op, [], [a, b], opset: 14);
        }
    }

    [Fact]
    public void OtherTypesAndLegacyBroadcastRunTheReference()
    {
        using var ai = ElementConvert.FromLongs(ElementType.Int32, [2, 3], [1, 2, 3, 4, 5, 6]);
        using var bi = ElementConvert.FromLongs(ElementType.Int32, [3], [7, 8, 9]);
        Check("Add", [], [ai, bi], opset: 14);
        Check("Div", [], [ai, bi], opset: 14, untyped: true);
        using var ah = ElementConvert.FromDoubles(ElementType.Float16, [2, 3], [1, 2, 3, 4, 5, 6]);
        using var bh = ElementConvert.FromDoubles(ElementType.Float16, [2, 3], [0.5, 0.25, 3, -4, 5, 6e4]);
        Check("Mul", [], [ah, bh], opset: 14, untyped: true);
        using var a = Values([2, 3, 4], 3);
        using var b = Values([3], 4);
        Check("Add", new() { ["broadcast"] = 1L, ["axis"] = 1L }, [a, b], opset: 6);
    }

    [Fact]
    public void ReluAndClipMatchTheReference()
    {
        using var x = Values([3, 41], 5);
        Check("Relu", [], [x], opset: 14);
        Check("Clip", new() { ["min"] = -0.25f, ["max"] = 0.5f }, [x], opset: 6);
        Check("Clip", [], [x], opset: 6);
        using var zero = Tensor.FromFloats([], [0f]);
        using var six = Tensor.FromFloats([], [6f]);
        using var negZero = Tensor.FromFloats([], [-0f]);
        using var nan = Tensor.FromFloats([], [float.NaN]);
        Check("Clip", [], [x, zero, six], opset: 13);
        Check("Clip", [], [x, null, six], opset: 13);
        Check("Clip", [], [x, negZero], opset: 13);
        Check("Clip", [], [x, six, zero], opset: 13);   // min > max: everything becomes max
        Check("Clip", [], [x, nan, six], opset: 13);
        Check("Clip", [], [x], opset: 13);
        using var i = ElementConvert.FromLongs(ElementType.Int32, [4], [-3, 0, 3, 9]);
        using var i0 = ElementConvert.FromLongs(ElementType.Int32, [], [0]);
        Check("Clip", [], [i, i0], opset: 13);
        Check("Relu", [], [i], opset: 14);
    }

    public static TheoryData<string> PoolCases() => new(PoolTable.Select(c => c.Name));

    private sealed record PoolCase(string Name, long[] X, Dictionary<string, object> Attributes);

    private static readonly PoolCase[] PoolTable =
    [
        new("3x3 stride 2 pad 1", [1, 5, 37, 41], new() { ["kernel_shape"] = new long[] { 3, 3 }, ["strides"] = new long[] { 2, 2 }, ["pads"] = new long[] { 1, 1, 1, 1 } }),
        new("3x3 stride 2 ceil", [2, 3, 27, 26], new() { ["kernel_shape"] = new long[] { 3, 3 }, ["strides"] = new long[] { 2, 2 }, ["ceil_mode"] = 1L }),
        new("2x2 stride 2", [1, 4, 16, 34], new() { ["kernel_shape"] = new long[] { 2, 2 }, ["strides"] = new long[] { 2, 2 } }),
        new("3x2 asymmetric, dilated", [1, 2, 19, 40], new() { ["kernel_shape"] = new long[] { 3, 2 }, ["strides"] = new long[] { 1, 3 }, ["pads"] = new long[] { 2, 0, 1, 1 }, ["dilations"] = new long[] { 2, 2 } }),
        new("same upper", [1, 3, 10, 35], new() { ["kernel_shape"] = new long[] { 3, 3 }, ["strides"] = new long[] { 2, 1 }, ["auto_pad"] = "SAME_UPPER" }),
        new("wide padding", [1, 1, 3, 3], new() { ["kernel_shape"] = new long[] { 2, 2 }, ["pads"] = new long[] { 1, 1, 1, 1 } }),
    ];

    [Theory]
    [MemberData(nameof(PoolCases))]
    public void MaxPoolMatchesTheReference(string name)
    {
        var c = PoolTable.Single(p => p.Name == name);
        using var x = Values(c.X, 6);
        Check("MaxPool", c.Attributes, [x], opset: 12);
        // With the Indices output the reference kernel runs.
        Check("MaxPool", c.Attributes, [x], opset: 12, outputs: 2);
    }

    [Fact]
    public void GlobalAveragePoolMatchesTheReference()
    {
        using var x = Values([2, 5, 7, 9], 7);
        Check("GlobalAveragePool", [], [x], opset: 1);
        using var x3 = Values([1, 3, 50], 8);
        Check("GlobalAveragePool", [], [x3], opset: 1);
    }

    [Fact]
    public void TheFastPathsAreRegistered()
    {
        var managed = ManagedKernels.CreateRegistry();
        foreach (var op in new[] { "Add", "Sub", "Mul", "Div", "Relu", "Clip", "MaxPool", "GlobalAveragePool" })
        {
            var node = new KernelNode(op, "", 13, new AttributeMap(op == "MaxPool" ? new Dictionary<string, object> { ["kernel_shape"] = new long[] { 2, 2 } } : new Dictionary<string, object>()),
                [ElementType.Float, ElementType.Float], 1, "n");
            var kernel = managed.Create(node, out var reason);
            Assert.True(kernel is not null, reason);
            Assert.StartsWith("Alloy.Runtime.Kernels.Managed.", kernel!.GetType().FullName);
        }
    }

    /// <summary>Runs the op on the reference kernels and on the managed registry at every ISA and 1 / 2 threads; the results must be identical.</summary>
    private static void Check(string op, Dictionary<string, object> attrs, Tensor?[] inputs, long opset, int outputs = 1, bool untyped = false)
    {
        var expected = Run(Reference, op, attrs, inputs, opset, outputs, 1, untyped);
        try
        {
            foreach (var isa in Isas)
                foreach (int threads in new[] { 1, 2 })
                {
                    var actual = Run(ManagedKernels.CreateRegistry(isa), op, attrs, inputs, opset, outputs, threads, untyped);
                    try
                    {
                        for (int i = 0; i < outputs; i++) AssertIdentical(expected[i]!, actual[i]!, $"{op} output {i} at {isa}, {threads} thread(s)");
                    }
                    finally
                    {
                        foreach (var t in actual) t?.Dispose();
                    }
                }
        }
        finally
        {
            foreach (var t in expected) t?.Dispose();
        }
    }

    private static Tensor?[] Run(KernelRegistry registry, string op, Dictionary<string, object> attrs, Tensor?[] inputs, long opset, int outputs, int threads, bool untyped)
    {
        var node = new KernelNode(op, "", opset, new AttributeMap(attrs), inputs.Select(t => untyped ? null : t?.Type).ToArray(), outputs, "test");
        var kernel = registry.Create(node, out var reason);
        Assert.True(kernel is not null, $"{op}: {reason}");
        var results = new Tensor?[outputs];
        kernel!.Run(new KernelContext(new PlanExecutor(threads), threads), inputs, results);
        return results;
    }

    private static void AssertIdentical(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.Type, actual.Type);
        Assert.Equal(expected.Shape, actual.Shape);
        for (long i = 0; i < expected.Length; i++)
        {
            double e = ElementConvert.GetDouble(expected, i), a = ElementConvert.GetDouble(actual, i);
            if (double.IsNaN(e) && double.IsNaN(a)) continue;
            Assert.True(BitConverter.DoubleToInt64Bits(e) == BitConverter.DoubleToInt64Bits(a), $"{what}: element {i} is {a:R}, the reference {e:R}");
        }
    }

    /// <summary>Seeded float32 values in [-1, 1) with NaN, ±0, ±∞ and large values sprinkled in.</summary>
    private static Tensor Values(long[] shape, int seed)
    {
        long count = shape.Aggregate(1L, (p, d) => p * d);
        var random = new Random(seed);
        float[] specials = [float.NaN, 0f, -0f, float.PositiveInfinity, float.NegativeInfinity, 6f, -7.5f, 1e30f, -1e-30f];
        var values = new float[count];
        for (long i = 0; i < count; i++)
            values[i] = random.Next(12) == 0 ? specials[random.Next(specials.Length)] : (float)(random.NextDouble() * 2 - 1);
        return Tensor.FromFloats(shape, values);
    }
}
