using Alloy.Runtime.Execution;
using Alloy.Runtime.Kernels;
using Alloy.Runtime.Kernels.Managed;
using Alloy.Runtime.Numerics;
using Xunit;

namespace Alloy.Runtime.Tests.Kernels;

/// <summary>
/// The managed fast paths of the transformer ops against the reference kernels, at every ISA this machine has, with
/// odd sizes (1, 3, 17, 1023): Transpose, Slice and Pow(x, 2) must be identical bit for bit; Erf, ReduceMean and
/// Softmax (double arithmetic in another order, rounded once) within one float32 unit in the last place. NaN, ±0
/// and ±∞ inputs are included; configurations without a fast path (and bad inputs) behave as the reference.
/// </summary>
public sealed class ManagedTransformerOpsTests
{
    private static readonly KernelRegistry Reference = KernelRegistry.Reference();
    private static IEnumerable<ManagedIsa> Isas => Enum.GetValues<ManagedIsa>().Where(i => i <= ManagedKernels.DefaultIsa);

    public static TheoryData<long> Sizes() => new([1, 3, 17, 1023]);

    [Theory]
    [MemberData(nameof(Sizes))]
    public void ErfIsWithinAnUlpOfTheReference(long n)
    {
        using var x = Values([2, n], 1, scale: 5);
        Check("Erf", [], [x], 13, ulps: 1);
        // Every region of the series: dense values from -5 to 5.
        using var dense = Tensor.FromFloats([4001], Enumerable.Range(0, 4001).Select(i => (i - 2000) / 400f).ToArray());
        Check("Erf", [], [dense], 13, ulps: 1);
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void PowWithExponentTwoIsExact(long n)
    {
        using var x = Values([n, 3], 2, scale: 1e20f);
        using var two = Tensor.FromFloats([], [2f]);
        using var three = Tensor.FromFloats([], [3f]);
        using var twos = Tensor.FromFloats([3], [2f, 2f, 2f]);
        Check("Pow", [], [x, two], 15, ulps: 0);
        Check("Pow", [], [x, three], 15, ulps: 0); // the reference kernel
        Check("Pow", [], [x, twos], 15, ulps: 0);  // a broadcast exponent: the reference kernel
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void ReduceMeanOverTheLastAxisIsWithinAnUlp(long n)
    {
        using var x = Values([3, 2, n], 3, scale: 1);
        Check("ReduceMean", new() { ["axes"] = new long[] { -1 } }, [x], 13, ulps: 1);
        Check("ReduceMean", new() { ["axes"] = new long[] { 2 }, ["keepdims"] = 0L }, [x], 13, ulps: 1);
        Check("ReduceMean", new() { ["axes"] = new long[] { 1 } }, [x], 13, ulps: 0); // another axis: the reference
        using var axes = ElementConvert.FromLongs(ElementType.Int64, [1], [-1]);
        Check("ReduceMean", [], [x, axes], 18, ulps: 1);
        Check("ReduceMean", [], [x], 18, ulps: 0);
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void SoftmaxOverTheLastAxisIsWithinAnUlp(long n)
    {
        using var x = Values([4, n], 4, scale: 30);
        Check("Softmax", [], [x], 13, ulps: 1);
        Check("Softmax", new() { ["axis"] = 1L }, [x], 11, ulps: 1);
        Check("Softmax", new() { ["axis"] = 0L }, [x], 13, ulps: 0);
    }

    public static TheoryData<long[], long[]?> TransposeCases() => new()
    {
        { [2, 3, 17], [1, 0, 2] },
        { [2, 3, 17], [2, 0, 1] },
        { [1023, 3], null },
        { [1], [0] },
        { [3, 1, 4, 17], [0, 2, 1, 3] },
        { [3, 0, 2], [2, 1, 0] },
    };

    [Theory]
    [MemberData(nameof(TransposeCases))]
    public void TransposeIsExact(long[] shape, long[]? perm)
    {
        var attrs = perm is null ? new Dictionary<string, object>() : new Dictionary<string, object> { ["perm"] = perm };
        using var x = Values(shape, 5, scale: 1);
        Check("Transpose", attrs, [x], 13, ulps: 0);
        using var h = ElementConvert.FromDoubles(ElementType.Float16, shape, Enumerable.Range(0, (int)x.Length).Select(i => (double)i).ToArray());
        Check("Transpose", attrs, [h], 13, ulps: 0);
        using var l = ElementConvert.FromLongs(ElementType.Int64, shape, Enumerable.Range(0, (int)x.Length).Select(i => (long)i * 7).ToArray());
        Check("Transpose", attrs, [l], 13, ulps: 0);
    }

    public static TheoryData<long[], long[], long[]?, long[]?> SliceCases() => new()
    {
        { [1023], [3], [1020], null },
        { [17, 3], [-5], [long.MaxValue], [0] },
        { [17, 3], [16, 2], [long.MinValue, 0], [0, 1] },   // with steps below
        { [3, 17, 2], [1, 0], [3, 17], [-3, 1] },
        { [3, 17, 2], [40], [50], [1] },                     // empty
        { [1, 1, 1], [0], [1], [2] },
    };

    [Theory]
    [MemberData(nameof(SliceCases))]
    public void SliceIsExact(long[] shape, long[] starts, long[]? ends, long[]? axes)
    {
        using var x = Values(shape, 6, scale: 1);
        using var s = ElementConvert.FromLongs(ElementType.Int64, [starts.Length], starts);
        using var e = ElementConvert.FromLongs(ElementType.Int64, [ends!.Length], ends);
        using var a = axes is null ? null : ElementConvert.FromLongs(ElementType.Int64, [axes.Length], axes);
        Check("Slice", [], [x, s, e, a], 13, ulps: 0);
        foreach (var step in new long[] { 1, 2, 3, -1, -2 })
        {
            using var k = ElementConvert.FromLongs(ElementType.Int64, [starts.Length], Enumerable.Repeat(step, starts.Length).ToArray());
            using var a2 = ElementConvert.FromLongs(ElementType.Int64, [starts.Length], axes ?? Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray());
            Check("Slice", [], [x, s, e, a2, k], 13, ulps: 0);
        }
    }

    [Fact]
    public void BadSliceAndTransposeInputsGetTheReferenceErrors()
    {
        using var x = Values([3, 4], 7, scale: 1);
        using var s = ElementConvert.FromLongs(ElementType.Int64, [1], [0]);
        using var e = ElementConvert.FromLongs(ElementType.Int64, [1], [2]);
        using var zeroStep = ElementConvert.FromLongs(ElementType.Int64, [1], [0]);
        using var badAxis = ElementConvert.FromLongs(ElementType.Int64, [1], [5]);
        foreach (var inputs in new Tensor?[][] { [x, s, e, null, zeroStep], [x, s, e, badAxis] })
        {
            var expected = Assert.ThrowsAny<Exception>(() => Run(Reference, "Slice", [], inputs, 13, 1)[0]?.Dispose());
            var actual = Assert.ThrowsAny<Exception>(() => Run(ManagedKernels.CreateRegistry(), "Slice", [], inputs, 13, 1)[0]?.Dispose());
            Assert.Equal(expected.Message, actual.Message);
        }
        var perm = new Dictionary<string, object> { ["perm"] = new long[] { 0, 0 } };
        var e1 = Assert.ThrowsAny<Exception>(() => Run(Reference, "Transpose", perm, [x], 13, 1)[0]?.Dispose());
        var e2 = Assert.ThrowsAny<Exception>(() => Run(ManagedKernels.CreateRegistry(), "Transpose", perm, [x], 13, 1)[0]?.Dispose());
        Assert.Equal(e1.Message, e2.Message);
    }

    private static void Check(string op, Dictionary<string, object> attrs, Tensor?[] inputs, long opset, int ulps)
    {
        var expected = Run(Reference, op, attrs, inputs, opset, 1)[0]!;
        try
        {
            foreach (var isa in Isas)
            {
                using var actual = Run(ManagedKernels.CreateRegistry(isa), op, attrs, inputs, opset, 1)[0]!;
                Assert.Equal(expected.Type, actual.Type);
                Assert.Equal(expected.Shape, actual.Shape);
                for (long i = 0; i < expected.Length; i++)
                {
                    double r = ElementConvert.GetDouble(expected, i), a = ElementConvert.GetDouble(actual, i);
                    if (double.IsNaN(r) && double.IsNaN(a)) continue;
                    if (expected.Type != ElementType.Float || ulps == 0)
                    {
                        Assert.True(BitConverter.DoubleToInt64Bits(r) == BitConverter.DoubleToInt64Bits(a), $"{op} at {isa}: element {i} is {a:R}, the reference {r:R}");
                        continue;
                    }
                    float fr = (float)r, fa = (float)a;
                    long distance = Math.Abs((long)Ordered(fr) - Ordered(fa));
                    Assert.True(distance <= ulps, $"{op} at {isa}: element {i} is {fa:R}, the reference {fr:R} ({distance} ulps apart)");
                }
            }
        }
        finally
        {
            expected.Dispose();
        }
    }

    /// <summary>Float bits mapped to integers in the order of the values (so the difference counts ulps across zero).</summary>
    private static int Ordered(float f)
    {
        int bits = BitConverter.SingleToInt32Bits(f);
        return bits < 0 ? int.MinValue - bits : bits;
    }

    private static Tensor?[] Run(KernelRegistry registry, string op, Dictionary<string, object> attrs, Tensor?[] inputs, long opset, int outputs)
    {
        var node = new KernelNode(op, "", opset, new AttributeMap(attrs), inputs.Select(t => t?.Type).ToArray(), outputs, "test");
        var kernel = registry.Create(node, out var reason);
        Assert.True(kernel is not null, $"{op}: {reason}");
        var results = new Tensor?[outputs];
        kernel!.Run(new KernelContext(new PlanExecutor(1), 1), inputs, results);
        return results;
    }

    private static Tensor Values(long[] shape, int seed, float scale)
    {
        long count = shape.Aggregate(1L, (p, d) => p * d);
        var random = new Random(seed);
        float[] specials = [float.NaN, 0f, -0f, float.PositiveInfinity, float.NegativeInfinity];
        var values = new float[count];
        for (long i = 0; i < count; i++)
            values[i] = random.Next(16) == 0 ? specials[random.Next(specials.Length)] : (float)(random.NextDouble() * 2 - 1) * scale;
        return Tensor.FromFloats(shape, values);
    }
}
