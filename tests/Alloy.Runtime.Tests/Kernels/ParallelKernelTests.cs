using Alloy.Runtime.Execution;
using Alloy.Runtime.Kernels;
using Alloy.Runtime.Kernels.Managed;
using Alloy.Runtime.Numerics;
using Xunit;

namespace Alloy.Runtime.Tests.Kernels;

/// <summary>
/// The parallel paths of the managed element-wise, pooling, Erf / Pow and Concat kernels: tensors large enough to be
/// split over threads (and sizes right at the split threshold, odd sizes whose last range is partial, every broadcast
/// pattern) against the reference kernels at every ISA on 1, 2 and 3 threads, bit for bit (NaN as NaN). Concat's bad
/// inputs must give the reference kernel's error.
/// </summary>
public sealed class ParallelKernelTests
{
    private static readonly KernelRegistry Reference = KernelRegistry.Reference();
    private static IEnumerable<ManagedIsa> Isas => Enum.GetValues<ManagedIsa>().Where(i => i <= ManagedKernels.DefaultIsa);

    /// <summary>Element counts around the split threshold: one range, exactly two, two plus a partial vector.</summary>
    private const long Threshold = 2 * 16 * 1024;

    public static TheoryData<long[], long[]> LargeBinaryShapes() => new()
    {
        { [1, 32, 56, 56], [1, 32, 56, 56] },   // a residual Add
        { [Threshold - 1], [Threshold - 1] },    // just below the threshold: one thread
        { [Threshold], [Threshold] },            // exactly two ranges
        { [3, 33331], [3, 33331] },              // odd: the last range ends in a partial vector
        { [5, 40009], [] },                      // scalar B
        { [1], [7, 20011] },                     // scalar A
        { [2000, 37], [37] },                    // B: trailing dims, many small blocks
        { [3, 70001], [70001] },                 // B: trailing dims, three large blocks
        { [601], [64, 601] },                    // A: trailing dims
        { [1, 64, 55, 55], [1, 64, 1, 1] },      // B: per channel
        { [2, 3, 1], [2, 3, 30011] },            // A: leading dims then 1
    };

    [Theory]
    [MemberData(nameof(LargeBinaryShapes))]
    public void LargeBinaryOpsMatchTheReference(long[] aShape, long[] bShape)
    {
        using var a = Values(aShape, 1);
        using var b = Values(bShape, 2);
        foreach (var op in new[] { "Add", "Sub", "Mul", "Div" })
            Check(op, [], [a, b], opset: 14);
    }

    [Theory]
    [InlineData(Threshold - 1)]
    [InlineData(Threshold)]
    [InlineData(100_003)]
    public void LargeReluClipPowAndErfMatchTheReference(long count)
    {
        using var x = Values([count], 3);
        Check("Relu", [], [x], opset: 14);
        Check("Clip", new() { ["min"] = -0.25f, ["max"] = 0.5f }, [x], opset: 6);
        using var lo = Tensor.FromFloats([], [0f]);
        using var hi = Tensor.FromFloats([], [6f]);
        Check("Clip", [], [x, lo, hi], opset: 13);
        using var two = Tensor.FromFloats([], [2f]);
        Check("Pow", [], [x, two], opset: 15);
    }

    [Theory]
    [InlineData(2047)]
    [InlineData(4096)]
    [InlineData(20_001)]
    public void LargeErfMatchesTheReferenceWithinOneUlp(long count)
    {
        // Erf is within 1 ulp of the reference; across thread counts it must be bit-identical to one thread.
        using var x = Values([count], 4);
        var one = Run(ManagedKernels.CreateRegistry(), "Erf", [], [x], 9, 1, threads: 1)[0]!;
        try
        {
            using var reference = Run(Reference, "Erf", [], [x], 9, 1, threads: 1)[0]!;
            for (long i = 0; i < count; i++)
            {
                float e = reference.Span<float>()[(int)i], a = one.Span<float>()[(int)i];
                if (e == a || (float.IsNaN(e) && float.IsNaN(a))) continue;
                long ulps = Math.Abs((long)BitConverter.SingleToInt32Bits(e) - BitConverter.SingleToInt32Bits(a));
                Assert.True(!float.IsNaN(e) && !float.IsNaN(a) && Math.Sign(e) == Math.Sign(a) && ulps <= 1, $"Erf element {i}: {a:R} vs the reference {e:R}");
            }
            foreach (var isa in Isas)
                foreach (int threads in new[] { 1, 2, 3 })
                {
                    var oneAtIsa = Run(ManagedKernels.CreateRegistry(isa), "Erf", [], [x], 9, 1, threads: 1)[0]!;
                    using var many = Run(ManagedKernels.CreateRegistry(isa), "Erf", [], [x], 9, 1, threads)[0]!;
                    using (oneAtIsa) AssertIdentical(oneAtIsa, many, $"Erf at {isa}, {threads} thread(s)");
                }
        }
        finally
        {
            one.Dispose();
        }
    }

    [Theory]
    [InlineData(new long[] { 1, 1000, 13, 13 })]
    [InlineData(new long[] { 2, 3, 40_009 })]
    [InlineData(new long[] { 1, 1023, 17 })]
    [InlineData(new long[] { 1, 512, 7, 7 })]
    public void LargeGlobalAveragePoolMatchesTheReference(long[] shape)
    {
        using var x = Values(shape, 5);
        Check("GlobalAveragePool", [], [x], opset: 1);
    }

    [Fact]
    public void LargeMaxPoolMatchesTheReference()
    {
        using var x = Values([1, 64, 111, 111], 6);
        Check("MaxPool", new() { ["kernel_shape"] = new long[] { 3, 3 }, ["strides"] = new long[] { 2, 2 }, ["ceil_mode"] = 1L }, [x], opset: 12);
    }

    public static TheoryData<string, long, long[][]> ConcatCases() => new()
    {
        { "fire module (axis 1, two large inputs)", 1, [[1, 64, 55, 55], [1, 64, 55, 55]] },
        { "axis 0", 0, [[3, 5000], [1, 5000], [2, 5000]] },
        { "negative axis, many outer blocks", -1, [[40, 30, 100], [40, 30, 3], [40, 30, 1]] },
        { "one input", 2, [[2, 3, 40_000]] },
        { "an empty input", 1, [[4, 0, 9], [4, 5, 9]] },
        { "empty output", 0, [[0, 7], [0, 7]] },
        { "small, one thread", 1, [[2, 3], [2, 1]] },
        { "odd sizes", 1, [[3, 33_331], [3, 1], [3, 17]] },
    };

    [Theory]
    [MemberData(nameof(ConcatCases))]
    public void ConcatMatchesTheReference(string name, long axis, long[][] shapes)
    {
        Assert.NotEmpty(name);
        foreach (var type in new[] { ElementType.Float, ElementType.UInt8, ElementType.Int64, ElementType.Float16, ElementType.Bool })
        {
            var inputs = shapes.Select((s, i) => Typed(type, s, 10 + i)).ToArray();
            try
            {
                Check("Concat", new() { ["axis"] = axis }, inputs, opset: 13);
            }
            finally
            {
                foreach (var t in inputs) t.Dispose();
            }
        }
    }

    [Fact]
    public void ConcatOfStringsAndSubByteTypesRunsTheReference()
    {
        using var s1 = Tensor.FromStrings([2], ["a", "b"]);
        using var s2 = Tensor.FromStrings([1], ["c"]);
        var outputs = new Tensor?[1];
        Kernel(ManagedKernels.CreateRegistry(), "Concat", new() { ["axis"] = 0L }, [s1, s2], 13).Run(Context(2), [s1, s2], outputs);
        using (var y = outputs[0]!) Assert.Equal(["a", "b", "c"], y.Strings.ToArray());
        using var i4a = ElementConvert.FromLongs(ElementType.Int4, [3], [1, -2, 7]);
        using var i4b = ElementConvert.FromLongs(ElementType.Int4, [2], [-8, 5]);
        Check("Concat", new() { ["axis"] = 0L }, [i4a, i4b], opset: 21);
    }

    [Fact]
    public void ConcatOfMismatchedInputsReportsTheReferenceError()
    {
        using var a = Values([2, 3, 4], 20);
        using var b = Values([2, 5, 4], 21);
        using var c = ElementConvert.FromLongs(ElementType.Int32, [2, 3, 4], new long[24]);
        using var d = Values([2, 3], 22);
        foreach (var (inputs, axis) in new (Tensor?[], long)[] { ([a, b], 2), ([a, c], 0), ([a, d], 0), ([a, a], 3), ([a, a], -4), ([a, null], 0) })
        {
            var expected = Assert.ThrowsAny<Exception>(() => Run(Reference, "Concat", new() { ["axis"] = axis }, inputs, 13, 1, 1));
            foreach (int threads in new[] { 1, 2 })
            {
                var actual = Assert.ThrowsAny<Exception>(() => Run(ManagedKernels.CreateRegistry(), "Concat", new() { ["axis"] = axis }, inputs, 13, 1, threads));
                Assert.Equal(expected.GetType(), actual.GetType());
                Assert.Equal(expected.Message, actual.Message);
            }
        }
    }

    [Fact]
    public void ConcatIsManaged()
    {
        var kernel = Kernel(ManagedKernels.CreateRegistry(), "Concat", new() { ["axis"] = 1L }, [null, null], 13);
        Assert.StartsWith("Alloy.Runtime.Kernels.Managed.", kernel.GetType().FullName);
    }

    // ---------------------------------------------------------------------------------------------------------

    /// <summary>The op on the reference kernels, and on the managed registry at every ISA and 1 / 2 / 3 threads: identical bits.</summary>
    private static void Check(string op, Dictionary<string, object> attrs, Tensor?[] inputs, long opset)
    {
        var expected = Run(Reference, op, attrs, inputs, opset, 1, 1)[0]!;
        try
        {
            foreach (var isa in Isas)
                foreach (int threads in new[] { 1, 2, 3 })
                {
                    using var actual = Run(ManagedKernels.CreateRegistry(isa), op, attrs, inputs, opset, 1, threads)[0]!;
                    AssertIdentical(expected, actual, $"{op} {string.Join(" x ", inputs.Select(t => t?.ShapeText))} at {isa}, {threads} thread(s)");
                }
        }
        finally
        {
            expected.Dispose();
        }
    }

    private static KernelContext Context(int threads) => new(new PlanExecutor(threads), threads);

    private static IKernel Kernel(KernelRegistry registry, string op, Dictionary<string, object> attrs, Tensor?[] inputs, long opset)
    {
        var node = new KernelNode(op, "", opset, new AttributeMap(attrs), inputs.Select(t => t?.Type).ToArray(), 1, "test");
        var kernel = registry.Create(node, out var reason);
        Assert.True(kernel is not null, $"{op}: {reason}");
        return kernel!;
    }

    private static Tensor?[] Run(KernelRegistry registry, string op, Dictionary<string, object> attrs, Tensor?[] inputs, long opset, int outputs, int threads)
    {
        var results = new Tensor?[outputs];
        Kernel(registry, op, attrs, inputs, opset).Run(Context(threads), inputs, results);
        return results;
    }

    private static void AssertIdentical(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.Type, actual.Type);
        Assert.Equal(expected.Shape, actual.Shape);
        Assert.Equal(expected.ByteLength, actual.ByteLength);
        var e = expected.Bytes;
        var a = actual.Bytes;
        if (e.SequenceEqual(a)) return;
        for (long i = 0; i < expected.Length; i++)
        {
            double ev = ElementConvert.GetDouble(expected, i), av = ElementConvert.GetDouble(actual, i);
            if (double.IsNaN(ev) && double.IsNaN(av)) continue;
            Assert.True(BitConverter.DoubleToInt64Bits(ev) == BitConverter.DoubleToInt64Bits(av), $"{what}: element {i} is {av:R}, the reference {ev:R}");
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

    /// <summary>Seeded values of any numeric type (each element distinct enough that a misplaced block shows).</summary>
    private static Tensor Typed(ElementType type, long[] shape, int seed)
    {
        long count = shape.Aggregate(1L, (p, d) => p * d);
        var random = new Random(seed);
        var t = Tensor.Create(type, shape);
        for (long i = 0; i < count; i++)
        {
            if (type.IsFloat()) ElementConvert.SetDouble(t, i, random.NextDouble() * 200 - 100);
            else ElementConvert.SetLong(t, i, random.Next(0, type == ElementType.Bool ? 2 : 250));
        }
        return t;
    }
}
