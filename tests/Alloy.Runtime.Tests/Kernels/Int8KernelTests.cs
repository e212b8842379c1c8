using Alloy.Runtime.Execution;
using Alloy.Runtime.Kernels;
using Alloy.Runtime.Kernels.Managed;
using Xunit;

namespace Alloy.Runtime.Tests.Kernels;

/// <summary>
/// The managed integer kernels against the reference kernels, bit for bit: QLinearMatMul, MatMulInteger and
/// QLinearConv (reference kernels), ConvInteger (an independent int32 loop), the fused <c>com.alloy</c> ops (the
/// reference op followed by the fused step, or the QDQ chain they replace), and the QuantizeLinear /
/// DequantizeLinear fast paths. Seeded random data with odd sizes, uint8 and int8 on both sides, per-tensor and
/// per-channel weight parameters, on both integer ISAs this machine allows (AVX-512 BW and the portable scalar
/// path) and on 1 and 2 threads.
/// </summary>
public sealed class Int8KernelTests
{
    private static readonly KernelRegistry Reference = KernelRegistry.Reference();

    private static IEnumerable<Int8Isa> Isas => Enum.GetValues<Int8Isa>().Where(i => i <= Int8Gemm_DefaultIsa);

    private static Int8Isa Int8Gemm_DefaultIsa => Int8Kernels.IsaFor(ManagedKernels.DefaultIsa);

    private static readonly Dictionary<Int8Isa, KernelRegistry> Registries =
        Enum.GetValues<Int8Isa>().ToDictionary(i => i, Int8Kernels.CreateRegistry);

    [Fact]
    public void TheIsaFollowsTheCpuProbeAndTheCap()
    {
        // AVX-512 BW exactly when the probe (under ALLOY_MAX_CPU_ISA) allows it; a cap below avx512_core selects the
        // scalar path, so running these tests with ALLOY_MAX_CPU_ISA=avx2 covers the fallback end to end.
        bool bw = Alloy.Runtime.Cpu.CpuFeatures.Detect().IsUsable(Alloy.Runtime.Cpu.CpuFeature.Avx512BW)
            && System.Runtime.Intrinsics.X86.Avx512BW.IsSupported && System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated;
        Assert.Equal(bw ? Int8Isa.Avx512BW : Int8Isa.Scalar, Int8Gemm_DefaultIsa);
        Assert.Equal(Int8Isa.Scalar, Int8Kernels.IsaFor(ManagedIsa.Vector256));
    }

    // ---------------------------------------------------------------------------------------------------------
    // QLinearMatMul / MatMulInteger

    public static TheoryData<long, long, long> MatMulSizes()
    {
        var d = new TheoryData<long, long, long>();
        long[] sizes = [1, 3, 17, 1023];
        foreach (var m in sizes)
            foreach (var k in sizes)
                foreach (var n in sizes)
                    if ((m == 1023 ? 1 : 0) + (k == 1023 ? 1 : 0) + (n == 1023 ? 1 : 0) <= 1)
                        d.Add(m, k, n);
        d.Add(70, 300, 45);
        return d;
    }

    [Theory]
    [MemberData(nameof(MatMulSizes))]
    public void QLinearMatMulMatchesTheReference(long m, long k, long n)
    {
        int seed = (int)(m * 31 + k * 7 + n);
        foreach (var (aType, bType, yType, perColumn) in new[]
                 {
                     (ElementType.UInt8, ElementType.Int8, ElementType.UInt8, false),
                     (ElementType.UInt8, ElementType.Int8, ElementType.Int8, true),
                     (ElementType.Int8, ElementType.UInt8, ElementType.UInt8, true),
                     (ElementType.Int8, ElementType.Int8, ElementType.Int8, false),
                 })
        {
            using var a = RandomInt8(aType, [m, k], seed++);
            using var b = RandomInt8(bType, [k, n], seed++);
            long channels = perColumn ? n : 1;
            using var aScale = Scale([], 1, seed++);
            using var aZp = RandomInt8(aType, [], seed++);
            using var bScale = Scale(perColumn ? [n] : [], channels, seed++);
            using var bZp = RandomInt8(bType, perColumn ? [n] : [], seed++);
            // y_scale chosen so that the outputs spread over the whole range (and some saturate).
            using var yScale = Tensor.FromFloats([], [(float)(Math.Sqrt(k) * 60 * 0.02 * 0.02 / 40)]);
            using var yZp = RandomInt8(yType, [], seed++);
            CheckAll("QLinearMatMul", "", [], [a, aScale, aZp, b, bScale, bZp, yScale, yZp]);
            CheckAll("MatMulInteger", "", [], [a, b, aZp, bZp]);
        }
    }

    [Fact]
    public void QLinearMatMulWithBatchedActivations()
    {
        using var a = RandomInt8(ElementType.UInt8, [2, 3, 5, 33], 1);
        using var b = RandomInt8(ElementType.Int8, [33, 19], 2);
        using var s = Tensor.FromFloats([], [0.02f]);
        using var ys = Tensor.FromFloats([], [0.05f]);
        using var az = Tensor.FromArray(ElementType.UInt8, [], new byte[] { 128 });
        using var bz = Tensor.FromArray(ElementType.Int8, [], new sbyte[] { 0 });
        CheckAll("QLinearMatMul", "", [], [a, s, az, b, s, bz, ys, az]);
        // A batched right operand runs the reference kernel inside the managed one.
        using var b3 = RandomInt8(ElementType.Int8, [3, 33, 4], 3);
        CheckAll("QLinearMatMul", "", [], [a, s, az, b3, s, bz, ys, az]);
    }

    [Fact]
    public void FusedMatMulAddsBiasTransposesAndAppliesRelu()
    {
        const long m = 5, k = 37, n = 21;
        using var a = RandomInt8(ElementType.UInt8, [m, k], 10);
        using var b = RandomInt8(ElementType.Int8, [k, n], 11);
        using var bt = Transpose(b);
        using var aScale = Tensor.FromFloats([], [0.03f]);
        using var aZp = Tensor.FromArray(ElementType.UInt8, [], new byte[] { 121 });
        using var bScale = Scale([n], n, 12);
        using var bZp = Tensor.FromArray(ElementType.Int8, [], new sbyte[] { 0 });
        using var yScale = Tensor.FromFloats([], [0.08f]);
        using var yZp = Tensor.FromArray(ElementType.UInt8, [], new byte[] { 100 });
        var biasValues = Enumerable.Range(0, (int)n).Select(j => (j * 7919 % 4001) - 2000).ToArray();
        using var bias = Tensor.FromArray(ElementType.Int32, [n], biasValues);
        var av = a.ToArray<byte>();
        var bv = b.ToArray<sbyte>();
        var scales = bScale.ToArray<float>();
        foreach (var relu in new[] { false, true })
        {
            // Exact expectation: the int32 sum plus the bias, requantised as the reference QLinearMatMul does.
            var expected = new byte[m * n];
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    int acc = biasValues[j];
                    for (int q = 0; q < k; q++) acc += (av[i * k + q] - 121) * bv[q * n + j];
                    float multiplier = 0.03f * scales[j] / 0.08f;
                    double r = Math.Round(acc * (double)multiplier, MidpointRounding.ToEven) + 100;
                    expected[i * n + j] = (byte)Math.Clamp(r, relu ? 100 : 0, 255);
                }
            foreach (var isa in Isas)
                foreach (var threads in new[] { 1, 2 })
                {
                    var attrs = new Dictionary<string, object> { ["transB"] = 1L, ["relu"] = relu ? 1L : 0L };
                    using var y = Run(Registries[isa], "QLinearMatMul", Int8Kernels.Domain, attrs, [a, aScale, aZp, bt, bScale, bZp, yScale, yZp, bias], threads);
                    Assert.Equal(expected, y.ToArray<byte>());
                }
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // QLinearConv / ConvInteger

    /// <summary>N, C, H, W, M, KH, KW, stride, pad, dilation, group.</summary>
    public static TheoryData<long[]> ConvCases() => new()
    {
        new long[] { 1, 3, 17, 17, 8, 3, 3, 1, 1, 1, 1 },
        new long[] { 2, 5, 9, 13, 17, 3, 3, 2, 1, 1, 1 },
        new long[] { 1, 3, 23, 23, 16, 7, 7, 2, 3, 1, 1 },    // a resnet stem
        new long[] { 1, 64, 14, 14, 33, 1, 1, 1, 0, 1, 1 },   // 1×1
        new long[] { 1, 16, 15, 15, 24, 1, 1, 2, 0, 1, 1 },   // 1×1 stride 2 (downsample)
        new long[] { 1, 17, 11, 11, 17, 3, 3, 1, 1, 1, 17 },  // depthwise
        new long[] { 1, 12, 12, 12, 24, 3, 3, 2, 1, 1, 12 },  // depthwise stride 2, multiplier 2
        new long[] { 1, 8, 10, 10, 12, 3, 3, 1, 2, 2, 4 },    // grouped, dilated
        new long[] { 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1 },       // 1×1×1
        new long[] { 1, 3, 1, 1023, 5, 1, 3, 1, 1, 1, 1 },    // a long row
        new long[] { 1, 130, 7, 7, 40, 3, 3, 1, 1, 1, 1 },    // K = 1170, 49 columns
        new long[] { 1, 3, 9, 150, 8, 3, 3, 2, 1, 1, 1 },     // stride 2 over long rows (vector even-byte path)
        new long[] { 1, 4, 9, 151, 4, 3, 3, 2, 1, 1, 4 },     // depthwise, stride 2, long rows
        new long[] { 2, 5, 7, 7, 5, 3, 3, 1, 1, 1, 5 },       // depthwise, small planes, two images
        new long[] { 1, 6, 14, 14, 6, 3, 3, 2, 1, 1, 6 },     // depthwise, stride 2, small planes
        new long[] { 1, 3, 40, 37, 3, 5, 5, 1, 2, 1, 3 },     // depthwise 5×5 (odd tap count 25)
        new long[] { 1, 4, 19, 23, 8, 3, 3, 2, 2, 2, 4 },     // depthwise, dilated, stride 2, multiplier 2
        new long[] { 1, 3, 33, 70, 3, 2, 3, 3, 0, 1, 3 },     // depthwise 2×3, stride 3, no padding
        new long[] { 1, 2, 6, 9, 5, 5, 5, 1, 2, 1, 1 },       // 5×5 "same": im2col rows as shifted planes
        new long[] { 1, 3, 4, 3, 4, 5, 5, 1, 2, 1, 1 },       // kernel wider than the plane, "same"
    };

    [Theory]
    [MemberData(nameof(ConvCases))]
    public void QLinearConvMatchesTheReference(long[] p)
    {
        var (n, c, h, w, m, kh, kw, stride, pad, dil, group) = (p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10]);
        int seed = (int)p.Sum();
        var attrs = new Dictionary<string, object>
        {
            ["strides"] = new[] { stride, stride },
            ["pads"] = new[] { pad, pad, pad, pad },
            ["dilations"] = new[] { dil, dil },
            ["group"] = group,
        };
        foreach (var (xType, wType, yType, perChannel) in new[]
                 {
                     (ElementType.UInt8, ElementType.Int8, ElementType.UInt8, true),
                     (ElementType.UInt8, ElementType.Int8, ElementType.UInt8, false),
                     (ElementType.Int8, ElementType.Int8, ElementType.Int8, true),
                     (ElementType.UInt8, ElementType.UInt8, ElementType.Int8, false),
                 })
        {
            using var x = RandomInt8(xType, [n, c, h, w], seed++);
            using var wt = RandomInt8(wType, [m, c / group, kh, kw], seed++);
            using var xScale = Tensor.FromFloats([], [0.02f]);
            using var xZp = RandomInt8(xType, [], seed++);
            using var wScale = Scale(perChannel ? [m] : [], perChannel ? m : 1, seed++);
            using var wZp = wType == ElementType.Int8 && perChannel ? Tensor.Create(ElementType.Int8, [m]) : RandomInt8(wType, perChannel ? [m] : [], seed++);
            long taps = c / group * kh * kw;
            using var yScale = Tensor.FromFloats([], [(float)(Math.Sqrt(taps) * 60 * 0.02 * 0.02 / 40)]);
            using var yZp = RandomInt8(yType, [], seed++);
            var bv = Enumerable.Range(0, (int)m).Select(i => (i * 104729 % 20001) - 10000).ToArray();
            using var bias = Tensor.FromArray(ElementType.Int32, [m], bv);
            CheckAll("QLinearConv", "", attrs, [x, xScale, xZp, wt, wScale, wZp, yScale, yZp, bias]);
            CheckAll("QLinearConv", "", attrs, [x, xScale, xZp, wt, wScale, wZp, yScale, yZp]);

            // ConvInteger: the exact int32 sums, from an independent loop.
            using var expected = ConvIntegerLoop(x, wt, xZp, wZp, stride, pad, dil, group);
            foreach (var isa in Isas)
                foreach (var threads in new[] { 1, 2 })
                {
                    using var y = Run(Registries[isa], "ConvInteger", "", attrs, [x, wt, xZp, wZp], threads);
                    Assert.Equal(expected.Shape, y.Shape);
                    Assert.Equal(expected.ToArray<int>(), y.ToArray<int>());
                }

            // The fused op with relu: the reference QLinearConv, then max(y, y_zero_point).
            var reluAttrs = new Dictionary<string, object>(attrs) { ["relu"] = 1L };
            using var plain = Run(Reference, "QLinearConv", "", attrs, [x, xScale, xZp, wt, wScale, wZp, yScale, yZp, bias], 1);
            int zy = (int)ElementConvertLong(yZp);
            var want = plain.ToArray<byte>().Select(v => (byte)(yType == ElementType.UInt8 ? Math.Max(v, zy) : Math.Max((sbyte)v, zy))).ToArray();
            foreach (var isa in Isas)
            {
                using var fused = Run(Registries[isa], "QLinearConv", Int8Kernels.Domain, reluAttrs, [x, xScale, xZp, wt, wScale, wZp, yScale, yZp, bias], 2);
                Assert.Equal(want, fused.ToArray<byte>());
            }
        }
    }

    [Fact]
    public void ConvWeightsArePackedAgainWhenTheirBytesChange()
    {
        using var x = RandomInt8(ElementType.UInt8, [1, 4, 6, 6], 1);
        using var w = RandomInt8(ElementType.Int8, [5, 4, 3, 3], 2);
        using var s = Tensor.FromFloats([], [0.05f]);
        using var z = Tensor.FromArray(ElementType.UInt8, [], new byte[] { 3 });
        using var wz = Tensor.Create(ElementType.Int8, []);
        var attrs = new Dictionary<string, object> { ["pads"] = new long[] { 1, 1, 1, 1 } };
        var node = Node("QLinearConv", "", attrs, [x, s, z, w, s, wz, s, z]);
        var kernel = Registries[Int8Gemm_DefaultIsa].Create(node, out var reason) ?? throw new InvalidOperationException(reason);
        for (int round = 0; round < 2; round++)
        {
            if (round == 1) w.Span<sbyte>().Reverse(); // same tensor object, new contents
            using var expected = Run(Reference, "QLinearConv", "", attrs, [x, s, z, w, s, wz, s, z], 1);
            var outputs = new Tensor?[1];
            kernel.Run(new KernelContext(new PlanExecutor(1), 1), new Tensor?[] { x, s, z, w, s, wz, s, z }, outputs);
            using var y = outputs[0]!;
            Assert.Equal(expected.ToArray<byte>(), y.ToArray<byte>());
        }
    }

    [Fact]
    public void RequantisationFollowsScalesAndBiasThatChangeBetweenRuns()
    {
        using var x = RandomInt8(ElementType.UInt8, [1, 6, 5, 5], 3);
        using var w = RandomInt8(ElementType.Int8, [7, 6, 1, 1], 4);
        using var s = Tensor.FromFloats([], [0.05f]);
        using var ws = Tensor.FromFloats([7], [0.01f, 0.02f, 0.03f, 0.04f, 0.05f, 0.06f, 0.07f]);
        using var z = Tensor.FromArray(ElementType.UInt8, [], new byte[] { 3 });
        using var wz = Tensor.Create(ElementType.Int8, [7]);
        using var bias = Tensor.FromArray(ElementType.Int32, [7], new[] { 5, -7, 100, 0, 3, -300, 9 });
        var node = Node("QLinearConv", "", new(), [x, s, z, w, ws, wz, s, z, bias]);
        var kernel = Registries[Int8Gemm_DefaultIsa].Create(node, out var reason) ?? throw new InvalidOperationException(reason);
        var mmNode = Node("QLinearMatMul", "", new(), [x, s, z, w, ws, wz, s, z]);
        var matMul = Registries[Int8Gemm_DefaultIsa].Create(mmNode, out reason) ?? throw new InvalidOperationException(reason);
        using var a = RandomInt8(ElementType.UInt8, [3, 6], 5);
        using var b = RandomInt8(ElementType.Int8, [6, 7], 6);
        for (int round = 0; round < 3; round++)
        {
            // Same tensor objects, new values: the kernels must not reuse the parameters of the previous run.
            if (round == 1) ws.Span<float>().Reverse();
            if (round == 2) bias.Span<int>()[2] = -100;
            using var expected = Run(Reference, "QLinearConv", "", new(), [x, s, z, w, ws, wz, s, z, bias], 1);
            var outputs = new Tensor?[1];
            kernel.Run(new KernelContext(new PlanExecutor(1), 1), new Tensor?[] { x, s, z, w, ws, wz, s, z, bias }, outputs);
            using var y = outputs[0]!;
            Assert.Equal(expected.ToArray<byte>(), y.ToArray<byte>());

            using var expectedMm = Run(Reference, "QLinearMatMul", "", new(), [a, s, z, b, ws, wz, s, z], 1);
            matMul.Run(new KernelContext(new PlanExecutor(1), 1), new Tensor?[] { a, s, z, b, ws, wz, s, z }, outputs);
            using var ym = outputs[0]!;
            Assert.Equal(expectedMm.ToArray<byte>(), ym.ToArray<byte>());
        }
    }

    [Fact]
    public void BadOperandsGetClearErrors()
    {
        using var x = RandomInt8(ElementType.UInt8, [1, 4, 6, 6], 1);
        using var w = RandomInt8(ElementType.Int8, [5, 3, 3, 3], 2);
        using var s = Tensor.FromFloats([], [0.05f]);
        var e = Assert.Throws<KernelException>(() => Run(Registries[Int8Gemm_DefaultIsa], "ConvInteger", "", new(), [x, w], 1));
        Assert.Contains("channels", e.Message);
        using var f = Tensor.FromFloats([1, 4, 6, 6], new float[144]);
        // Known before running: the node gets no kernel, with the reason.
        Assert.Null(Registries[Int8Gemm_DefaultIsa].Create(Node("QLinearConv", Int8Kernels.Domain, new(), [f, s, null, w, s, null, s, null]), out var reason));
        Assert.Contains("int8/uint8", reason);
        // Known only when running: a kernel error naming the operand.
        var untyped = new KernelNode("QLinearConv", Int8Kernels.Domain, 21, AttributeMap.Empty, [null, null, null, null, null, null, null, null], 1, "conv");
        var kernel = Registries[Int8Gemm_DefaultIsa].Create(untyped, out _)!;
        e = Assert.Throws<KernelException>(() => kernel.Run(new KernelContext(new PlanExecutor(1), 1), new Tensor?[] { f, s, null, w, s, null, s, null }, new Tensor?[1]));
        Assert.Contains("x must be int8 or uint8", e.Message);
    }

    // ---------------------------------------------------------------------------------------------------------
    // QuantizeLinear / DequantizeLinear / QLinearAdd

    [Theory]
    [InlineData(ElementType.UInt8)]
    [InlineData(ElementType.Int8)]
    public void QuantizeAndDequantizeMatchTheReference(ElementType type)
    {
        var rng = new Random(5);
        var values = Enumerable.Range(0, 1000).Select(i => (float)(rng.NextDouble() * 8 - 4)).ToList();
        // Exact ties (half-to-even), saturation, NaN and infinities.
        values.AddRange([0.5f * 0.03125f, 1.5f * 0.03125f, 2.5f * 0.03125f, -2.5f * 0.03125f, 1e9f, -1e9f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, -0f]);
        using var x = Tensor.FromFloats([values.Count], values.ToArray());
        using var scale = Tensor.FromFloats([], [0.03125f]);
        using var zp = Tensor.FromArray(type, [], new byte[] { type == ElementType.UInt8 ? (byte)131 : unchecked((byte)(sbyte)-7) });
        using var q = Run(Reference, "QuantizeLinear", "", new(), [x, scale, zp], 1);
        using var dq = Run(Reference, "DequantizeLinear", "", new(), [q, scale, zp], 1);
        var managed = ManagedKernels.CreateRegistry();
        using var mq = Run(managed, "QuantizeLinear", "", new(), [x, scale, zp], 1);
        using var mdq = Run(managed, "DequantizeLinear", "", new(), [q, scale, zp], 1);
        Assert.Equal(q.ToArray<byte>(), mq.ToArray<byte>());
        Assert.Equal(dq.ToArray<float>(), mdq.ToArray<float>());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void QLinearAddMatchesTheQdqChain(bool relu)
    {
        const int count = 1000 + 7;
        using var a = RandomInt8(ElementType.UInt8, [count], 1);
        using var b = RandomInt8(ElementType.UInt8, [count], 2);
        using var sa = Tensor.FromFloats([], [0.0371f]);
        using var sb = Tensor.FromFloats([], [0.0213f]);
        using var sy = Tensor.FromFloats([], [0.05f]);
        using var za = Tensor.FromArray(ElementType.UInt8, [], new byte[] { 120 });
        using var zb = Tensor.FromArray(ElementType.UInt8, [], new byte[] { 133 });
        using var zy = Tensor.FromArray(ElementType.UInt8, [], new byte[] { 99 });
        using var da = Run(Reference, "DequantizeLinear", "", new(), [a, sa, za], 1);
        using var db = Run(Reference, "DequantizeLinear", "", new(), [b, sb, zb], 1);
        using var sum = Run(Reference, "Add", "", new(), [da, db], 1);
        using var act = relu ? Run(Reference, "Relu", "", new(), [sum], 1) : null;
        using var expected = Run(Reference, "QuantizeLinear", "", new(), [act ?? sum, sy, zy], 1);
        using var y = Run(ManagedKernels.CreateRegistry(), "QLinearAdd", Int8Kernels.Domain,
            new() { ["relu"] = relu ? 1L : 0L }, [a, sa, za, b, sb, zb, sy, zy], 1);
        Assert.Equal(expected.ToArray<byte>(), y.ToArray<byte>());
    }

    [Theory]
    [InlineData(ElementType.UInt8, 3, 2, 1)]
    [InlineData(ElementType.Int8, 3, 2, 1)]
    [InlineData(ElementType.Int8, 2, 1, 0)]
    [InlineData(ElementType.UInt8, 5, 3, 2)]
    [InlineData(ElementType.UInt8, 3, 1, 1, 150)]
    [InlineData(ElementType.Int8, 3, 2, 1, 263)]
    public void MaxPoolOnIntegerDataMatchesTheReference(ElementType type, long kernel, long stride, long pad, long width = 71)
    {
        using var x = RandomInt8(type, [2, 3, 67, width], (int)(kernel * 10 + stride));
        var attrs = new Dictionary<string, object>
        {
            ["kernel_shape"] = new[] { kernel, kernel },
            ["strides"] = new[] { stride, stride },
            ["pads"] = new[] { pad, pad, pad, pad },
        };
        using var expected = Run(Reference, "MaxPool", "", attrs, [x], 1);
        foreach (var threads in new[] { 1, 2 })
        {
            using var y = Run(ManagedKernels.CreateRegistry(), "MaxPool", "", attrs, [x], threads);
            Assert.Equal(expected.Shape, y.Shape);
            Assert.Equal(expected.ToArray<byte>(), y.ToArray<byte>());
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Helpers

    private static void CheckAll(string op, string domain, Dictionary<string, object> attrs, Tensor?[] inputs)
    {
        using var expected = Run(Reference, op, domain, attrs, inputs, 1);
        foreach (var isa in Isas)
            foreach (var threads in new[] { 1, 2 })
            {
                using var y = Run(Registries[isa], op, domain, attrs, inputs, threads);
                Assert.Equal(expected.Type, y.Type);
                Assert.Equal(expected.Shape, y.Shape);
                if (!expected.Bytes.SequenceEqual(y.Bytes))
                {
                    var e = expected.Bytes.ToArray();
                    var g = y.Bytes.ToArray();
                    int first = Enumerable.Range(0, e.Length).First(i => e[i] != g[i]);
                    Assert.Fail($"{op} ({isa}, {threads} threads): byte {first} is {g[first]}, the reference has {e[first]} ({e.Zip(g).Count(t => t.First != t.Second)} of {e.Length} bytes differ)");
                }
            }
    }

    private static KernelNode Node(string op, string domain, Dictionary<string, object> attrs, Tensor?[] inputs) =>
        new(op, domain, 21, new AttributeMap(attrs), inputs.Select(t => t?.Type).ToArray(), 1, op);

    private static Tensor Run(KernelRegistry registry, string op, string domain, Dictionary<string, object> attrs, Tensor?[] inputs, int threads)
    {
        var kernel = registry.Create(Node(op, domain, attrs, inputs), out var reason) ?? throw new InvalidOperationException(reason);
        var outputs = new Tensor?[1];
        kernel.Run(new KernelContext(new PlanExecutor(threads), threads), inputs, outputs);
        return outputs[0]!;
    }

    private static Tensor RandomInt8(ElementType type, long[] shape, int seed)
    {
        var t = Tensor.Create(type, shape);
        new Random(seed).NextBytes(t.Bytes);
        return t;
    }

    /// <summary>Positive float32 scales around 0.02.</summary>
    private static Tensor Scale(long[] shape, long count, int seed)
    {
        var rng = new Random(seed);
        return Tensor.FromFloats(shape, Enumerable.Range(0, (int)count).Select(_ => (float)(0.01 + rng.NextDouble() * 0.02)).ToArray());
    }

    private static long ElementConvertLong(Tensor t) => Alloy.Runtime.Numerics.ElementConvert.GetLong(t, 0);

    private static Tensor Transpose(Tensor b)
    {
        long k = b.Shape[0], n = b.Shape[1];
        var t = Tensor.Create(b.Type, [n, k]);
        var src = b.Bytes;
        var dst = t.Bytes;
        for (long i = 0; i < k; i++)
            for (long j = 0; j < n; j++) dst[(int)(j * k + i)] = src[(int)(i * n + j)];
        return t;
    }

    private static Tensor ConvIntegerLoop(Tensor x, Tensor w, Tensor xZp, Tensor wZp, long stride, long pad, long dil, long group)
    {
        long n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], wd = x.Shape[3], m = w.Shape[0], cg = w.Shape[1], kh = w.Shape[2], kw = w.Shape[3];
        long oh = (h + 2 * pad - dil * (kh - 1) - 1) / stride + 1, ow = (wd + 2 * pad - dil * (kw - 1) - 1) / stride + 1;
        var xv = Alloy.Runtime.Numerics.ElementConvert.ToLongs(x);
        var wv = Alloy.Runtime.Numerics.ElementConvert.ToLongs(w);
        long zx = ElementConvertLong(xZp);
        var zw = Alloy.Runtime.Numerics.ElementConvert.ToLongs(wZp);
        var y = new int[n * m * oh * ow];
        long mg = m / group;
        for (long img = 0; img < n; img++)
            for (long o = 0; o < m; o++)
                for (long i = 0; i < oh; i++)
                    for (long j = 0; j < ow; j++)
                    {
                        long acc = 0, g = o / mg;
                        for (long ci = 0; ci < cg; ci++)
                            for (long a = 0; a < kh; a++)
                                for (long b = 0; b < kw; b++)
                                {
                                    long ih = i * stride - pad + a * dil, iw = j * stride - pad + b * dil;
                                    if (ih < 0 || ih >= h || iw < 0 || iw >= wd) continue;
                                    acc += (xv[((img * c + g * cg + ci) * h + ih) * wd + iw] - zx) * (wv[((o * cg + ci) * kh + a) * kw + b] - zw[zw.Length == 1 ? 0 : o]);
                                }
                        y[((img * m + o) * oh + i) * ow + j] = (int)acc;
                    }
        return Tensor.FromArray(ElementType.Int32, [n, m, oh, ow], y);
    }
}
