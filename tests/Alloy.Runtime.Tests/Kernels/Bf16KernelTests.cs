using Alloy.Runtime.Execution;
using Alloy.Runtime.Kernels;
using Alloy.Runtime.Kernels.Managed;
using Alloy.Runtime.Numerics;
using Xunit;

namespace Alloy.Runtime.Tests.Kernels;

/// <summary>
/// The managed bfloat16 paths (Add / Sub / Mul / Div, Relu, Clip, MaxPool, Cast f32 ↔ bf16) against the reference
/// kernels, at every ISA this machine has (AVX-512, AVX2, scalar): the output bits must be identical, NaN payloads
/// included. Inputs are random bf16 bit patterns over the whole range (normals from the smallest to the largest
/// exponent, subnormals, ±0, ±∞, quiet and signalling NaNs) on odd lengths, so that vector bodies and scalar tails
/// both run, sums and products overflow to infinity and underflow into subnormals.
/// </summary>
public sealed class Bf16KernelTests
{
    private static readonly KernelRegistry Reference = KernelRegistry.Reference();
    private static IEnumerable<ManagedIsa> Isas => Enum.GetValues<ManagedIsa>().Where(i => i <= ManagedKernels.DefaultIsa);

    public static TheoryData<long[], long[]> BinaryShapes() => new()
    {
        { [1], [1] },
        { [3], [3] },
        { [17], [17] },
        { [1023], [1023] },
        { [3, 1023], [] },              // scalar B
        { [1], [17, 3] },               // scalar A
        { [5, 1023], [1023] },          // B: trailing dims
        { [17], [3, 17] },              // A: trailing dims
        { [2, 17, 1], [2, 17, 33] },    // A: leading dims then 1
        { [1, 7, 3, 5], [1, 7, 1, 1] }, // per-channel
        { [3, 1, 17], [1, 5, 17] },     // general broadcast (reference inside)
    };

    [Theory]
    [MemberData(nameof(BinaryShapes))]
    public void BinaryOpsAreBitExact(long[] aShape, long[] bShape)
    {
        foreach (var op in new[] { "Add", "Sub", "Mul", "Div" })
        {
            using var a = Bf16Values(aShape, 11);
            using var b = Bf16Values(bShape, 12);
            Check(op, [], [a, b], opset: 14);
        }
    }

    [Fact]
    public void BinaryOpsAreBitExactOnManyRandomPatterns()
    {
        for (int seed = 0; seed < 40; seed++)
            foreach (var op in new[] { "Add", "Sub", "Mul", "Div" })
            {
                using var a = Bf16Values([4093], 100 + seed);
                using var b = Bf16Values([4093], 200 + seed);
                Check(op, [], [a, b], opset: 14);
            }
    }

    [Fact]
    public void SubnormalProductsAndQuotientsAreBitExact()
    {
        // Operands whose exact product / quotient lands in or near bf16's subnormal range, where rounding to float32
        // first could in principle disturb the final rounding.
        var random = new Random(7);
        const int n = 8191;
        var a = new ushort[n];
        var b = new ushort[n];
        for (int i = 0; i < n; i++)
        {
            a[i] = Pattern(random, random.Next(1, 110));
            b[i] = Pattern(random, random.Next(1, 40));
            if (random.Next(3) == 0) b[i] = Pattern(random, random.Next(130, 200));
        }
        using var ta = Tensor.FromArray<ushort>(ElementType.BFloat16, [n], a);
        using var tb = Tensor.FromArray<ushort>(ElementType.BFloat16, [n], b);
        foreach (var op in new[] { "Mul", "Div", "Add", "Sub" }) Check(op, [], [ta, tb], opset: 14);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(17)]
    [InlineData(1023)]
    public void ReluClipAndCastAreBitExact(int length)
    {
        using var x = Bf16Values([length], 21);
        Check("Relu", [], [x], opset: 14);
        Check("Clip", new() { ["min"] = -0.25f, ["max"] = 0.5f }, [x], opset: 6);
        using var zero = Tensor.FromArray<ushort>(ElementType.BFloat16, [], [BFloat16.FromFloat(0f).Bits]);
        using var six = Tensor.FromArray<ushort>(ElementType.BFloat16, [], [BFloat16.FromFloat(6f).Bits]);
        Check("Clip", [], [x, zero, six], opset: 13);
        Check("Clip", [], [x, null, six], opset: 13);
        Check("Cast", new() { ["to"] = (long)ElementType.Float }, [x], opset: 19);
        using var f = Float32Values([length], 22);
        Check("Cast", new() { ["to"] = (long)ElementType.BFloat16 }, [f], opset: 19);
        Check("Cast", new() { ["to"] = (long)ElementType.BFloat16 }, [f], opset: 19, untyped: true);
    }

    [Fact]
    public void CastRoundsTiesToEvenAndOverflowsToInfinity()
    {
        uint[] bits =
        [
            0x3F80_8000, 0x3F81_8000, 0x3F80_7FFF, 0x3F80_8001, // ties to even (down, up), just below / above the tie
            0x7F7F_7FFF, 0x7F7F_8000, 0x7F7F_FFFF, 0xFF7F_8000, // largest bf16, its tie to infinity, float32 max
            0x0000_8000, 0x0001_8000, 0x0000_0001, 0x8000_7FFF, // subnormals
            0x7F80_0001, 0xFF80_0001, 0x7FC0_1234, 0xFFFF_FFFF, // signalling / quiet NaNs with payloads
            0x7F80_0000, 0xFF80_0000, 0x0000_0000, 0x8000_0000,
        ];
        var values = bits.Select(BitConverter.UInt32BitsToSingle).ToArray();
        for (int repeat = 0; repeat < 3; repeat++) values = [.. values, .. values]; // 160: vector body and tail
        using var f = Tensor.FromFloats([values.Length], values);
        Check("Cast", new() { ["to"] = (long)ElementType.BFloat16 }, [f], opset: 19);
        using var back = Tensor.FromArray<ushort>(ElementType.BFloat16, [bits.Length], bits.Select(b => (ushort)(b >> 16)).ToArray());
        Check("Cast", new() { ["to"] = (long)ElementType.Float }, [back], opset: 19);
    }

    [Fact]
    public void MaxPoolIsBitExact()
    {
        using var x = Bf16Values([1, 5, 37, 41], 31);
        Check("MaxPool", new() { ["kernel_shape"] = new long[] { 3, 3 }, ["strides"] = new long[] { 2, 2 }, ["pads"] = new long[] { 1, 1, 1, 1 } }, [x], opset: 12);
        Check("MaxPool", new() { ["kernel_shape"] = new long[] { 2, 2 } }, [x], opset: 12, outputs: 2);
    }

    [Fact]
    public void Bf16NodesGetTheManagedKernelsAndOtherTypesKeepTheirs()
    {
        var managed = ManagedKernels.CreateRegistry();
        foreach (var op in new[] { "Add", "Sub", "Mul", "Div", "Relu", "Clip", "MaxPool", "Cast" })
        {
            var attrs = op switch
            {
                "MaxPool" => new Dictionary<string, object> { ["kernel_shape"] = new long[] { 2, 2 } },
                "Cast" => new Dictionary<string, object> { ["to"] = (long)ElementType.Float },
                _ => new Dictionary<string, object>(),
            };
            var node = new KernelNode(op, "", 13, new AttributeMap(attrs), [ElementType.BFloat16, ElementType.BFloat16], 1, "n");
            var kernel = managed.Create(node, out var reason);
            Assert.True(kernel is not null, reason);
            Assert.StartsWith("Alloy.Runtime.Kernels.Managed.Bf16", kernel!.GetType().FullName);
        }
        var f32 = managed.Create(new KernelNode("Add", "", 13, new AttributeMap(new Dictionary<string, object>()), [ElementType.Float, ElementType.Float], 1, "n"), out _);
        Assert.StartsWith("Alloy.Runtime.Kernels.Managed.ManagedElementwise", f32!.GetType().FullName);
        var f16 = managed.Create(new KernelNode("Add", "", 13, new AttributeMap(new Dictionary<string, object>()), [ElementType.Float16, ElementType.BFloat16], 1, "n"), out _);
        Assert.DoesNotContain("Bf16", f16!.GetType().FullName);
    }

    /// <summary>Runs the op on the reference kernels and on the managed registry at every ISA; the output bits must be identical.</summary>
    private static void Check(string op, Dictionary<string, object> attrs, Tensor?[] inputs, long opset, int outputs = 1, bool untyped = false)
    {
        var expected = Run(Reference, op, attrs, inputs, opset, outputs, untyped);
        try
        {
            foreach (var isa in Isas)
            {
                var actual = Run(ManagedKernels.CreateRegistry(isa), op, attrs, inputs, opset, outputs, untyped);
                try
                {
                    for (int i = 0; i < outputs; i++)
                    {
                        var (e, a) = (expected[i]!, actual[i]!);
                        string what = $"{op} output {i} at {isa}";
                        Assert.Equal(e.Type, a.Type);
                        Assert.Equal(e.Shape, a.Shape);
                        var eb = e.Bytes;
                        var ab = a.Bytes;
                        int size = (int)(e.ByteLength / Math.Max(1, e.Length));
                        for (int k = 0; k < eb.Length; k++)
                            Assert.True(eb[k] == ab[k], $"{what}: element {k / size} differs (bytes {Convert.ToHexString(ab.Slice(k / size * size, size))}, reference {Convert.ToHexString(eb.Slice(k / size * size, size))}); inputs {Describe(inputs, k / size)}");
                    }
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

    private static string Describe(Tensor?[] inputs, long i) =>
        string.Join(", ", inputs.Select(t => t is null ? "-" : t.Length == 0 ? "[]" : Convert.ToHexString(t.Bytes.Slice((int)(Math.Min(i, t.Length - 1) * (t.ByteLength / t.Length)), (int)(t.ByteLength / t.Length)))));

    private static Tensor?[] Run(KernelRegistry registry, string op, Dictionary<string, object> attrs, Tensor?[] inputs, long opset, int outputs, bool untyped)
    {
        var node = new KernelNode(op, "", opset, new AttributeMap(attrs), inputs.Select(t => untyped ? null : t?.Type).ToArray(), outputs, "test");
        var kernel = registry.Create(node, out var reason);
        Assert.True(kernel is not null, $"{op}: {reason}");
        var results = new Tensor?[outputs];
        kernel!.Run(new KernelContext(new PlanExecutor(1), 1), inputs, results);
        return results;
    }

    /// <summary>A random bf16 pattern with the given biased exponent (0: subnormal or zero) and a random sign and fraction.</summary>
    private static ushort Pattern(Random random, int exponent) =>
        (ushort)((random.Next(2) << 15) | (exponent << 7) | random.Next(128));

    /// <summary>Seeded bf16 bit patterns: mostly values near 1, then any exponent, subnormals, ±0, ±∞, quiet and signalling NaNs.</summary>
    private static Tensor Bf16Values(long[] shape, int seed)
    {
        long count = shape.Aggregate(1L, (p, d) => p * d);
        var random = new Random(seed);
        ushort[] specials = [0x0000, 0x8000, 0x7F80, 0xFF80, 0x7FC0, 0xFFC1, 0x7F81, 0xFFA5, 0x7F7F, 0xFF7F, 0x0001, 0x807F, 0x0080];
        var values = new ushort[count];
        for (long i = 0; i < count; i++)
            values[i] = random.Next(8) switch
            {
                0 => specials[random.Next(specials.Length)],
                1 or 2 => Pattern(random, random.Next(0, 255)),
                3 => Pattern(random, 0),
                _ => Pattern(random, random.Next(120, 132)),
            };
        return Tensor.FromArray<ushort>(ElementType.BFloat16, shape, values);
    }

    /// <summary>Seeded float32 values: random bit patterns of every class, so that roundings hit ties, overflow and NaNs.</summary>
    private static Tensor Float32Values(long[] shape, int seed)
    {
        long count = shape.Aggregate(1L, (p, d) => p * d);
        var random = new Random(seed);
        var values = new float[count];
        for (long i = 0; i < count; i++)
        {
            uint bits = (uint)random.NextInt64(0, 1L << 32);
            if (random.Next(4) == 0) bits = (bits & 0xFFFF_0000) | 0x8000; // a tie
            values[i] = BitConverter.UInt32BitsToSingle(bits);
        }
        return Tensor.FromFloats(shape, values);
    }
}
