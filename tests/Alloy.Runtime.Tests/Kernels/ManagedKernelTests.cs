using Alloy.Runtime.Cpu;
using Alloy.Runtime.Execution;
using Alloy.Runtime.Kernels;
using Alloy.Runtime.Kernels.Managed;
using Alloy.Runtime.Numerics;
using Xunit;

namespace Alloy.Runtime.Tests.Kernels;

/// <summary>
/// The fast managed kernels (MatMul, Gemm, Conv) against two references, on seeded random data with odd sizes, at
/// every SIMD width this machine has (scalar, Vector256, Vector512), on 1 and 2 threads:
/// <list type="bullet">
/// <item>the reference kernel (double accumulation): for f32, |managed − reference| ≤ 1e-5 · S per element, where S
/// is the same op on the absolute values of the operands (Σ|a·b| + |bias|) — the float32 rounding-error scale of a
/// dot product; for bf16 / f16 the two may differ by one unit in the last place of the 16-bit type (the reference
/// rounds the exact sum, the managed kernel a float32 sum), so ≤ 1 ulp + 1e-5 · S is asserted;</item>
/// <item>an independent float32 loop with the managed kernels' documented numerics (products accumulated in
/// ascending reduction order with one fused multiply-add each, then alpha / beta·C / bias in float32, one rounding
/// to the output type): the managed results must equal it bit for bit, for f32, bf16 and f16 — the managed kernels
/// never reorder a sum (threads split M×N, never K). A kernel that starts reordering must relax this to the
/// bf16/f16 1-ulp bound above.</item>
/// </list>
/// Every case also runs with the weights packed beforehand (<see cref="IWeightPrepacking"/>), as plans run constant
/// weights.
/// </summary>
public sealed class ManagedKernelTests
{
    private static readonly KernelRegistry Reference = KernelRegistry.Reference();

    private static readonly ElementType[] FloatTypes = [ElementType.Float, ElementType.BFloat16, ElementType.Float16];

    /// <summary>Every ISA this machine (and <c>ALLOY_MAX_CPU_ISA</c>) allows.</summary>
    private static IEnumerable<ManagedIsa> Isas => Enum.GetValues<ManagedIsa>().Where(i => i <= ManagedKernels.DefaultIsa);

    // ---------------------------------------------------------------------------------------------------------
    // MatMul

    public static TheoryData<long, long, long> MatMulSizes()
    {
        var d = new TheoryData<long, long, long>();
        long[] sizes = [1, 3, 17, 1023];
        foreach (var m in sizes)
            foreach (var k in sizes)
                foreach (var n in sizes)
                    if ((m == 1023 ? 1 : 0) + (k == 1023 ? 1 : 0) + (n == 1023 ? 1 : 0) <= 1 || (m, k, n) == (1023, 1023, 17))
                        d.Add(m, k, n);
        d.Add(40, 300, 70);     // one partial K block
        d.Add(3, 5, 4100);      // more than one packed column chunk
        d.Add(200, 520, 300);   // several row and column tiles, two K blocks (the second 8 deep)
        d.Add(37, 1100, 70);    // three K blocks, a partial last row panel read from A in place and packed
        d.Add(9, 1030, 33);     // one full row panel and one row, partial column tiles, three K blocks
        d.Add(256, 300, 49);    // two column panels: split by rows on two threads
        d.Add(130, 70, 196);    // seven column panels
        return d;
    }

    [Theory]
    [MemberData(nameof(MatMulSizes))]
    public void MatMulMatchesTheReference(long m, long k, long n)
    {
        foreach (var type in FloatTypes)
        {
            if (type != ElementType.Float && m * k * n > 5_000_000) continue; // the 16-bit paths are covered by the smaller sizes
            using var a = RandomTensor(type, [m, k], 1);
            using var b = RandomTensor(type, [k, n], 2);
            CheckAllIsas("MatMul", [], [a, b]);
        }
    }

    public static TheoryData<long[], long[]> MatMulShapes() => new()
    {
        { [2, 3, 17, 5], [2, 3, 5, 19] },   // batched, same batch dims
        { [3, 1, 4, 5], [2, 5, 6] },        // broadcast batch
        { [2, 17, 33], [33, 9] },           // batch folded into M
        { [1, 33], [4, 33, 8] },            // A shared by every batch
        { [7], [7, 5] },                    // 1-D A
        { [6, 7], [7] },                    // 1-D B
        { [7], [7] },                       // dot product
        { [2, 1, 3, 300], [1, 5, 300, 18] },// broadcast on both sides, two K blocks
        { [0, 4], [4, 3] },                 // empty
        { [3, 0], [0, 5] },                 // K = 0
    };

    [Theory]
    [MemberData(nameof(MatMulShapes))]
    public void BatchedMatMulMatchesTheReference(long[] aShape, long[] bShape)
    {
        foreach (var type in FloatTypes)
        {
            using var a = RandomTensor(type, aShape, 3);
            using var b = RandomTensor(type, bShape, 4);
            CheckAllIsas("MatMul", [], [a, b]);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Gemm

    public static TheoryData<long, long, long, int, int, string> GemmCases()
    {
        var d = new TheoryData<long, long, long, int, int, string>();
        foreach (var (m, k, n) in new (long, long, long)[] { (1, 1, 1), (3, 17, 1), (17, 3, 33), (1, 1023, 17), (1, 300, 130), (1, 1280, 1000), (33, 300, 65), (33, 600, 65), (130, 17, 3) })
            foreach (int ta in new[] { 0, 1 })
                foreach (int tb in new[] { 0, 1 })
                    d.Add(m, k, n, ta, tb, "MN");
        foreach (var bias in new[] { "none", "scalar", "N", "1N", "M1", "MN", "1" })
            d.Add(17, 19, 35, 0, 1, bias);
        return d;
    }

    [Theory]
    [MemberData(nameof(GemmCases))]
    public void GemmMatchesTheReference(long m, long k, long n, int transA, int transB, string bias)
    {
        foreach (var type in FloatTypes)
            foreach (var (alpha, beta) in new[] { (1f, 1f), (0.75f, -1.5f) })
            {
                using var a = RandomTensor(type, transA != 0 ? [k, m] : [m, k], 5);
                using var b = RandomTensor(type, transB != 0 ? [n, k] : [k, n], 6);
                long[]? cShape = bias switch
                {
                    "none" => null,
                    "scalar" => [],
                    "1" => [1],
                    "N" => [n],
                    "1N" => [1, n],
                    "M1" => [m, 1],
                    _ => [m, n],
                };
                using var c = cShape is null ? null : RandomTensor(type, cShape, 7);
                var attrs = new Dictionary<string, object> { ["alpha"] = alpha, ["beta"] = beta, ["transA"] = (long)transA, ["transB"] = (long)transB };
                CheckAllIsas("Gemm", attrs, c is null ? [a, b] : [a, b, c]);
            }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Conv

    /// <summary>A Conv case: X shape, W shape, attributes, bias or not.</summary>
    public sealed record ConvCase(string Name, long[] X, long[] W, bool Bias, long[]? Pads = null, long[]? Strides = null, long[]? Dilations = null,
        long Group = 1, string? AutoPad = null)
    {
        public override string ToString() => Name;

        public Dictionary<string, object> Attributes()
        {
            var a = new Dictionary<string, object>();
            if (Pads is not null) a["pads"] = Pads;
            if (Strides is not null) a["strides"] = Strides;
            if (Dilations is not null) a["dilations"] = Dilations;
            if (Group != 1) a["group"] = Group;
            if (AutoPad is not null) a["auto_pad"] = AutoPad;
            return a;
        }
    }

    private static readonly ConvCase[] ConvCaseTable =
    [
        new ConvCase("1x1 direct", [1, 17, 9, 7], [5, 17, 1, 1], true),
        new ConvCase("1x1 batch 2 no bias", [2, 3, 5, 5], [17, 3, 1, 1], false),
        new ConvCase("1x1 stride 2", [1, 6, 9, 11], [4, 6, 1, 1], true, Strides: [2, 2]),
        new ConvCase("1x1 padded", [1, 3, 4, 5], [2, 3, 1, 1], true, Pads: [1, 0, 0, 2]),
        new ConvCase("3x3 pad 1", [1, 17, 13, 11], [19, 17, 3, 3], true, Pads: [1, 1, 1, 1]),
        new ConvCase("3x3 stride 2 pad 1", [2, 5, 17, 15], [7, 5, 3, 3], true, Pads: [1, 1, 1, 1], Strides: [2, 2]),
        new ConvCase("3x3 no pad", [1, 3, 7, 9], [33, 3, 3, 3], false),
        new ConvCase("7x7 stride 2 pad 3", [1, 3, 33, 31], [8, 3, 7, 7], true, Pads: [3, 3, 3, 3], Strides: [2, 2]),
        new ConvCase("dilation 2", [1, 4, 15, 16], [6, 4, 3, 3], true, Pads: [2, 2, 2, 2], Dilations: [2, 2]),
        new ConvCase("asymmetric pads, strides and dilations", [1, 3, 12, 19], [5, 3, 3, 2], true, Pads: [0, 2, 1, 0], Strides: [3, 2], Dilations: [1, 3]),
        new ConvCase("wide pads", [1, 2, 3, 3], [3, 2, 2, 2], true, Pads: [3, 2, 4, 3]),
        new ConvCase("grouped", [1, 8, 9, 10], [6, 4, 3, 3], true, Pads: [1, 1, 1, 1], Group: 2),
        new ConvCase("grouped 3 stride 2", [2, 9, 11, 11], [12, 3, 3, 3], false, Pads: [1, 1, 1, 1], Strides: [2, 2], Group: 3),
        new ConvCase("depthwise 3x3", [1, 17, 21, 37], [17, 1, 3, 3], true, Pads: [1, 1, 1, 1], Group: 17),
        new ConvCase("depthwise 3x3 stride 2", [2, 6, 40, 41], [6, 1, 3, 3], true, Pads: [1, 1, 1, 1], Strides: [2, 2], Group: 6),
        new ConvCase("depthwise 5x5 stride 2 dilation 2", [1, 3, 45, 70], [3, 1, 5, 5], false, Pads: [4, 4, 3, 5], Strides: [2, 2], Dilations: [2, 2], Group: 3),
        new ConvCase("depthwise stride 3", [1, 4, 13, 50], [4, 1, 3, 3], true, Pads: [1, 1, 1, 1], Strides: [3, 3], Group: 4),
        new ConvCase("depthwise multiplier 2", [1, 3, 10, 19], [6, 1, 3, 3], true, Pads: [1, 1, 1, 1], Group: 3),
        new ConvCase("pointwise row and column tails", [1, 19, 7, 7], [13, 19, 1, 1], true),
        new ConvCase("pointwise one position", [2, 5, 1, 1], [9, 5, 1, 1], false),
        new ConvCase("pointwise fewer than 16 positions", [1, 7, 3, 5], [8, 7, 1, 1], true),
        new ConvCase("pointwise split across threads", [1, 64, 30, 31], [24, 64, 1, 1], true),
        new ConvCase("pointwise batch 3", [3, 8, 5, 13], [17, 8, 1, 1], false),
        new ConvCase("pointwise batch 2 split across threads", [2, 32, 20, 21], [20, 32, 1, 1], true),
        new ConvCase("single input channel 1x1", [1, 1, 9, 9], [3, 1, 1, 1], true),
        new ConvCase("depthwise 3x3 width 1", [1, 3, 5, 1], [3, 1, 3, 3], true, Pads: [1, 1, 1, 1], Group: 3),
        new ConvCase("depthwise 3x3 stride 2 width 3", [1, 2, 7, 3], [2, 1, 3, 3], true, Pads: [1, 1, 1, 1], Strides: [2, 2], Group: 2),
        new ConvCase("depthwise 3x3 stride 1 wide plane", [1, 5, 33, 70], [5, 1, 3, 3], true, Pads: [1, 1, 1, 1], Group: 5),
        new ConvCase("depthwise 3x3 stride 2 wide plane", [1, 8, 66, 67], [8, 1, 3, 3], true, Pads: [1, 1, 1, 1], Strides: [2, 2], Group: 8),
        new ConvCase("depthwise 3x3 no padding", [1, 3, 9, 18], [3, 1, 3, 3], false, Group: 3),
        new ConvCase("depthwise 3x3 asymmetric pads stride 2", [1, 3, 12, 21], [3, 1, 3, 3], true, Pads: [0, 1, 2, 0], Strides: [2, 2], Group: 3),
        new ConvCase("depthwise 3x3 stride 1 by 2", [1, 2, 3, 19], [2, 1, 3, 3], true, Pads: [1, 1, 1, 1], Strides: [1, 2], Group: 2),
        new ConvCase("depthwise 3x3 stride 2 by 1", [1, 2, 9, 17], [2, 1, 3, 3], true, Pads: [1, 1, 1, 1], Strides: [2, 1], Group: 2),
        new ConvCase("depthwise 3x3 dilation 2", [1, 4, 19, 23], [4, 1, 3, 3], true, Pads: [2, 2, 2, 2], Dilations: [2, 2], Group: 4),
        new ConvCase("depthwise 5x5 stride 1", [1, 3, 11, 29], [3, 1, 5, 5], true, Pads: [2, 2, 2, 2], Group: 3),
        new ConvCase("depthwise multiplier 2 stride 2", [1, 3, 10, 19], [6, 1, 3, 3], true, Pads: [1, 1, 1, 1], Strides: [2, 2], Group: 3),
        new ConvCase("depthwise 3x3 batch 2 split across threads", [2, 24, 17, 33], [24, 1, 3, 3], true, Pads: [1, 1, 1, 1], Group: 24),
        new ConvCase("auto_pad SAME_UPPER", [1, 3, 10, 11], [4, 3, 4, 3], true, Strides: [2, 2], AutoPad: "SAME_UPPER"),
        new ConvCase("auto_pad SAME_LOWER", [1, 3, 10, 11], [4, 3, 4, 3], true, Strides: [2, 1], AutoPad: "SAME_LOWER"),
        new ConvCase("auto_pad VALID", [1, 3, 10, 11], [4, 3, 3, 3], true, Strides: [2, 2], AutoPad: "VALID"),
        new ConvCase("many channels", [1, 64, 14, 14], [96, 64, 3, 3], true, Pads: [1, 1, 1, 1]),
        new ConvCase("large plane", [1, 3, 70, 70], [5, 3, 3, 3], true, Pads: [1, 1, 1, 1]),
        new ConvCase("7x7 plane, two column panels", [1, 40, 7, 7], [136, 40, 3, 3], true, Pads: [1, 1, 1, 1]),
        // Seven column panels for two threads: the rows are split and the im2col matrix is packed once, by both threads.
        new ConvCase("14x14 plane, rows split, im2col packed once", [1, 32, 14, 14], [128, 32, 3, 3], true, Pads: [1, 1, 1, 1]),
        new ConvCase("14x14 plane, rows split, odd channels, no bias", [1, 29, 14, 14], [120, 29, 3, 3], false, Pads: [1, 1, 1, 1]),
        // Wide output rows and few channels: the direct path at Vector512.
        new ConvCase("direct 7x7 stride 2, partial channel panel", [1, 3, 61, 67], [10, 3, 7, 7], true, Pads: [3, 3, 3, 3], Strides: [2, 2]),
        new ConvCase("direct batch 2, partial column tile, no bias", [2, 5, 20, 40], [17, 5, 3, 3], false, Pads: [1, 1, 1, 1]),
        new ConvCase("direct grouped, dilated, asymmetric pads", [1, 8, 30, 50], [12, 4, 3, 3], true, Pads: [1, 2, 0, 1], Dilations: [2, 1], Group: 2),
        new ConvCase("direct 3 rows of 130, column stride 3", [1, 4, 9, 390], [9, 4, 3, 2], true, Pads: [0, 1, 0, 1], Strides: [3, 3]),
        // Planes of 12 to 16 outputs square: one 16-column tile per row, rows split over the threads.
        new ConvCase("direct 14x14 plane", [1, 24, 14, 14], [40, 24, 3, 3], true, Pads: [1, 1, 1, 1]),
        new ConvCase("direct 14x14 plane from stride 2, partial channel panel", [1, 9, 28, 27], [75, 9, 3, 3], false, Pads: [1, 1, 1, 1], Strides: [2, 2]),
        new ConvCase("direct 12x12 plane, no padding", [1, 5, 14, 14], [16, 5, 3, 3], true),
        new ConvCase("direct 16x13 plane, 5x5", [1, 3, 16, 13], [8, 3, 5, 5], true, Pads: [2, 2, 2, 2]),
    ];

    public static TheoryData<string> ConvCases() => new(ConvCaseTable.Select(c => c.Name));

    [Theory]
    [MemberData(nameof(ConvCases))]
    public void ConvMatchesTheReference(string name)
    {
        var c = ConvCaseTable.Single(k => k.Name == name);
        foreach (var type in FloatTypes)
        {
            using var x = RandomTensor(type, c.X, 8);
            using var w = RandomTensor(type, c.W, 9);
            using var b = c.Bias ? RandomTensor(type, [c.W[0]], 10) : null;
            CheckAllIsas("Conv", c.Attributes(), b is null ? [x, w] : [x, w, b], conv: c);
        }
    }

    [Fact]
    public void AKernelWithPrepackedWeightsComputesWithTheWeightsItIsGiven()
    {
        // Packed weights are used only for the tensor they were packed from; any other weight tensor is packed per run.
        using var x = RandomTensor(ElementType.Float, [1, 6, 9, 9], 11);
        using var w1 = RandomTensor(ElementType.Float, [10, 6, 3, 3], 12);
        using var w2 = RandomTensor(ElementType.Float, [10, 6, 3, 3], 13);
        using var a = RandomTensor(ElementType.Float, [20, 30], 14);
        using var b1 = RandomTensor(ElementType.Float, [30, 40], 15);
        using var b2 = RandomTensor(ElementType.Float, [30, 40], 16);
        var pads = new Dictionary<string, object> { ["pads"] = new long[] { 1, 1, 1, 1 } };
        foreach (var (op, attrs, first, packed, other) in new[] { ("Conv", pads, x, w1, w2), ("MatMul", new Dictionary<string, object>(), a, b1, b2) })
        {
            var registry = ManagedKernels.CreateRegistry();
            var kernel = CreateKernel(registry, op, attrs, ElementType.Float, ElementType.Float);
            ((IWeightPrepacking)kernel).Prepack([null, packed], 2);
            var outputs = new Tensor?[1];
            kernel.Run(Context(2), [first, other], outputs);
            using var actual = outputs[0]!;
            using var expected = RunKernel(registry, op, attrs, [first, other], 2)[0]!;
            using var withPacked = RunKernel(registry, op, attrs, [first, packed], 2)[0]!;
            Assert.True(expected.Bytes.SequenceEqual(actual.Bytes), $"{op}: the result with other weights differs from a fresh kernel's");
            Assert.False(withPacked.Bytes.SequenceEqual(actual.Bytes), $"{op}: the packed weights were used for another weight tensor");
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Registration, fallback, ISA selection

    [Fact]
    public void TheManagedRegistryReplacesTheHotOpsAndKeepsEverythingElse()
    {
        var managed = ManagedKernels.CreateRegistry();
        // The same ONNX ops, plus the fused integer ops the QDQ lowering binds.
        Assert.Equal(Reference.Ops, managed.Ops.Where(o => o.Domain != Int8Kernels.Domain));
        Assert.Equal(["QLinearAdd", "QLinearConv", "QLinearMatMul"], managed.Ops.Where(o => o.Domain == Int8Kernels.Domain).Select(o => o.Op));
        Assert.Equal("ManagedMatMulKernel", CreateKernel(managed, "MatMul", [], ElementType.Float, ElementType.Float).GetType().Name);
        Assert.Equal("ManagedGemmKernel", CreateKernel(managed, "Gemm", [], ElementType.BFloat16, ElementType.BFloat16).GetType().Name);
        Assert.Equal("ManagedConvKernel", CreateKernel(managed, "Conv", [], ElementType.Float16, ElementType.Float16).GetType().Name);
        // Types the managed kernels do not compute on get the reference kernel itself.
        Assert.Equal(CreateKernel(Reference, "MatMul", [], ElementType.Int32, ElementType.Int32).GetType(),
            CreateKernel(managed, "MatMul", [], ElementType.Int32, ElementType.Int32).GetType());
        Assert.Equal(CreateKernel(Reference, "Conv", [], ElementType.Double, ElementType.Double).GetType(),
            CreateKernel(managed, "Conv", [], ElementType.Double, ElementType.Double).GetType());
    }

    [Fact]
    public void WhatTheReferenceRejectsTheManagedRegistryRejectsWithTheSameReason()
    {
        var managed = ManagedKernels.CreateRegistry();
        var attrs = new Dictionary<string, object> { ["auto_pad"] = "SOMETIMES" };
        var node = new KernelNode("Conv", "", 11, new AttributeMap(attrs), [ElementType.Float, ElementType.Float], 1, "bad");
        Assert.Null(managed.Create(node, out var reason));
        Reference.Create(node, out var referenceReason);
        Assert.Equal(referenceReason, reason);
        var strings = new KernelNode("MatMul", "", 13, AttributeMap.Empty, [ElementType.String, ElementType.String], 1, "s");
        Assert.Null(managed.Create(strings, out reason));
        Assert.NotNull(reason);
    }

    [Fact]
    public void ConfigurationsWithoutAFastPathRunTheReferenceKernel()
    {
        var managed = ManagedKernels.CreateRegistry();
        // Types unknown when the plan was built: the managed kernel hands int32 to the reference at run time.
        using var ai = ElementConvert.FromLongs(ElementType.Int32, [2, 3], [1, 2, 3, 4, 5, 6]);
        using var bi = ElementConvert.FromLongs(ElementType.Int32, [3, 2], [1, -1, 2, -2, 3, -3]);
        AssertSameResult(managed, "MatMul", [], [ai, bi], untyped: true);
        AssertSameResult(managed, "Gemm", new() { ["transB"] = 1L }, [ai, ai], untyped: true);
        // 1-D and 3-D convolutions, and float64.
        using var x1 = RandomTensor(ElementType.Float, [1, 3, 11], 11);
        using var w1 = RandomTensor(ElementType.Float, [4, 3, 3], 12);
        AssertSameResult(managed, "Conv", new() { ["pads"] = new long[] { 1, 1 } }, [x1, w1], untyped: false);
        using var x3 = RandomTensor(ElementType.Float, [1, 2, 4, 5, 3], 13);
        using var w3 = RandomTensor(ElementType.Float, [3, 2, 2, 2, 2], 14);
        AssertSameResult(managed, "Conv", [], [x3, w3], untyped: false);
        using var xd = RandomTensor(ElementType.Double, [1, 2, 5, 5], 15);
        using var wd = RandomTensor(ElementType.Double, [3, 2, 3, 3], 16);
        AssertSameResult(managed, "Conv", [], [xd, wd], untyped: true);
        // Mixed operand types are the reference kernel's error to report.
        using var af = RandomTensor(ElementType.Float, [2, 3], 17);
        using var bh = RandomTensor(ElementType.Float16, [3, 2], 18);
        var kernel = CreateKernel(managed, "MatMul", [], null, null);
        var e = Assert.Throws<KernelException>(() => kernel.Run(Context(1), new Tensor?[] { af, bh }, new Tensor?[1]));
        Assert.Contains("same type", e.Message);
    }

    [Fact]
    public void ShapeErrorsAreKernelExceptions()
    {
        var managed = ManagedKernels.CreateRegistry();
        using var a = RandomTensor(ElementType.Float, [2, 3], 1);
        using var b = RandomTensor(ElementType.Float, [4, 2], 2);
        Assert.Contains("inner dimensions", Assert.Throws<KernelException>(() => RunKernel(managed, "MatMul", [], [a, b], 1)).Message);
        Assert.Contains("inner dimensions", Assert.Throws<KernelException>(() => RunKernel(managed, "Gemm", [], [a, b], 1)).Message);
        using var c = RandomTensor(ElementType.Float, [3, 3], 3);
        using var bt = RandomTensor(ElementType.Float, [3, 4], 4);
        Assert.Contains("cannot be broadcast", Assert.Throws<KernelException>(() => RunKernel(managed, "Gemm", [], [a, bt, c], 1)).Message);
        using var x = RandomTensor(ElementType.Float, [1, 4, 5, 5], 5);
        using var w = RandomTensor(ElementType.Float, [2, 3, 3, 3], 6);
        Assert.Contains("channels", Assert.Throws<KernelException>(() => RunKernel(managed, "Conv", [], [x, w], 1)).Message);
        using var big = RandomTensor(ElementType.Float, [2, 4, 7, 7], 7);
        Assert.Contains("larger than the padded input", Assert.Throws<KernelException>(() => RunKernel(managed, "Conv", [], [x, big], 1)).Message);
    }

    [Fact]
    public void TheIsaFollowsTheCpuAndTheIsaCap()
    {
        var probe = CpuFeatures.Detect("default");
        var best = ManagedKernels.DetectIsa(probe);
        Assert.Equal(probe.IsUsable(CpuFeature.Avx512F) && System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated, best == ManagedIsa.Vector512);
        // ALLOY_MAX_CPU_ISA=avx2 takes AVX-512 away: Vector256 where AVX2 + FMA exist.
        var avx2 = ManagedKernels.DetectIsa(CpuFeatures.Detect("avx2"));
        Assert.NotEqual(ManagedIsa.Vector512, avx2);
        Assert.Equal(probe.IsUsable(CpuFeature.Avx2) && probe.IsUsable(CpuFeature.Fma) ? ManagedIsa.Vector256 : ManagedIsa.Scalar, avx2);
        // The default ISA is the one the process's own cap allows.
        Assert.Equal(ManagedKernels.DetectIsa(CpuFeatures.Detect()), ManagedKernels.DefaultIsa);
    }

    [Fact]
    public void ARequestedIsaAboveTheMachineIsLowered()
    {
        // Asking for Vector512 always works: on a machine without it the registry uses the best available path.
        var registry = ManagedKernels.CreateRegistry(ManagedIsa.Vector512);
        using var a = RandomTensor(ElementType.Float, [9, 40], 1);
        using var b = RandomTensor(ElementType.Float, [40, 33], 2);
        var results = RunKernel(registry, "MatMul", [], [a, b], 2);
        using var y = results[0]!;
        AssertBitExact(FmaMatMul(a, b, out _), y, "MatMul at the best ISA");
    }

    [Fact]
    public void TheResultTypeTheCompilerDecidedIsStoredWithOneRounding()
    {
        // bf16 operands accumulating and returning f32 (the IR's acc = f32), and f32 operands returning bf16.
        using var a = RandomTensor(ElementType.BFloat16, [17, 300], 1);
        using var b = RandomTensor(ElementType.BFloat16, [300, 33], 2);
        using var x = RandomTensor(ElementType.Float16, [1, 5, 9, 9], 3);
        using var w = RandomTensor(ElementType.Float16, [4, 5, 3, 3], 4);
        using var af = RandomTensor(ElementType.Float, [17, 300], 5);
        using var bf = RandomTensor(ElementType.Float, [300, 33], 6);
        var conv = new ConvCase("declared", [1, 5, 9, 9], [4, 5, 3, 3], false, Pads: [1, 1, 1, 1]);
        var gemmAttrs = new Dictionary<string, object> { ["alpha"] = 1f, ["beta"] = 1f, ["transA"] = 0L, ["transB"] = 0L };
        var cases = new (string Op, Dictionary<string, object> Attrs, Tensor[] Inputs, ElementType Output, float[] Exact)[]
        {
            ("MatMul", [], [a, b], ElementType.Float, FmaMatMul(a, b, out _)),
            ("Gemm", gemmAttrs, [a, b], ElementType.Float, FmaGemm([a, b], gemmAttrs)),
            ("Conv", conv.Attributes(), [x, w], ElementType.Float, FmaConv([x, w], conv)),
            ("MatMul", [], [af, bf], ElementType.BFloat16, FmaMatMul(af, bf, out _)),
        };
        foreach (var (op, attrs, inputs, output, exact) in cases)
            foreach (var isa in Isas)
            {
                var node = new KernelNode(op, "", 13, new AttributeMap(attrs), inputs.Select(t => (ElementType?)t.Type).ToArray(), 1, "declared")
                {
                    OutputTypes = [output],
                };
                var kernel = ManagedKernels.CreateRegistry(isa).Create(node, out var reason);
                Assert.True(kernel is not null, reason);
                var results = new Tensor?[1];
                kernel!.Run(Context(2), inputs, results);
                using var y = results[0]!;
                Assert.Equal(output, y.Type);
                AssertBitExact(exact, y, $"{op} {inputs[0].Type.Name()} -> {output.Name()} at {isa}");
            }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Checking

    /// <summary>Runs the op on the reference and on the managed kernels at every ISA and 1 / 2 threads, and compares.</summary>
    private static void CheckAllIsas(string op, Dictionary<string, object> attrs, Tensor?[] inputs, ConvCase? conv = null)
    {
        var type = inputs[0]!.Type;
        var results = RunKernel(Reference, op, attrs, inputs, 1);
        using var reference = results[0]!;
        // The error scale: the same op on |operands| (and |alpha|, |beta|).
        var absInputs = inputs.Select(t => t is null ? null : Abs(t)).ToArray();
        var absAttrs = attrs.ToDictionary(kv => kv.Key, kv => kv.Value is float f ? Math.Abs(f) : kv.Value);
        Tensor scale;
        try
        {
            scale = RunKernel(Reference, op, absAttrs, absInputs, 1)[0]!;
        }
        finally
        {
            foreach (var t in absInputs) t?.Dispose();
        }
        using var scaleOwner = scale;
        var exact = op switch
        {
            "MatMul" => FmaMatMul(inputs[0]!, inputs[1]!, out _),
            "Gemm" => FmaGemm(inputs, attrs),
            _ => FmaConv(inputs, conv!),
        };
        foreach (var isa in Isas)
            foreach (int threads in new[] { 1, 2 })
            {
                var registry = ManagedKernels.CreateRegistry(isa);
                PoisonTheHeap(reference);
                var managed = RunKernel(registry, op, attrs, inputs, threads);
                using var y = managed[0]!;
                string what = $"{op} {type.Name()} {string.Join(" x ", inputs.Where(t => t is not null).Select(t => t!.ShapeText))} at {isa}, {threads} thread(s)";
                Assert.Equal(reference.Type, y.Type);
                Assert.Equal(reference.Shape, y.Shape);
                AssertClose(reference, scale, y, type, what);
                AssertBitExact(exact, y, what);

                // The same kernel with its weights (every operand but the first) packed once beforehand, as the plan
                // compiler does for constants: the same bits, run twice (the packed copy is reused).
                var prepacked = CreateKernel(registry, op, attrs, inputs.Select(t => t?.Type).ToArray());
                Assert.IsAssignableFrom<IWeightPrepacking>(prepacked);
                ((IWeightPrepacking)prepacked).Prepack([null, .. inputs[1..]], threads);
                for (int run = 0; run < 2; run++)
                {
                    var outputs = new Tensor?[1];
                    prepacked.Run(Context(threads), inputs, outputs);
                    using var p = outputs[0]!;
                    AssertBitExact(exact, p, what + $", weights prepacked (run {run + 1})");
                }
            }
    }

    /// <summary>
    /// Frees a block of the result's size filled with NaN, so the kernel's uninitialized output most likely reuses it
    /// (instead of the block an earlier run left correct results in): an output element the kernel never writes
    /// then fails the comparison.
    /// </summary>
    private static void PoisonTheHeap(Tensor like)
    {
        using var poison = Tensor.Create(like.Type, like.Shape);
        poison.Bytes.Fill(0xFF);
    }

    /// <summary>|managed − reference| ≤ 1e-5 · scale (+ one ulp of the 16-bit types).</summary>
    private static void AssertClose(Tensor reference, Tensor scale, Tensor actual, ElementType type, string what)
    {
        for (long i = 0; i < reference.Length; i++)
        {
            double r = ElementConvert.GetDouble(reference, i), a = ElementConvert.GetDouble(actual, i), s = ElementConvert.GetDouble(scale, i);
            double bound = 1e-5 * s + (type == ElementType.Float ? 0 : Ulp(type, r));
            Assert.True(Math.Abs(a - r) <= bound, $"{what}: element {i} is {a:R}, the reference {r:R} (bound {bound:G3})");
        }
    }

    private static void AssertBitExact(float[] expected, Tensor actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        using var e = Tensor.Create(actual.Type, actual.Shape);
        for (int i = 0; i < expected.Length; i++) ElementConvert.SetDouble(e, i, expected[i]); // one rounding of a float32 value
        var eb = e.Bytes;
        var ab = actual.Bytes;
        if (eb.SequenceEqual(ab)) return;
        for (long i = 0; i < actual.Length; i++)
        {
            double x = ElementConvert.GetDouble(e, i), y = ElementConvert.GetDouble(actual, i);
            Assert.True(BitConverter.DoubleToInt64Bits(x) == BitConverter.DoubleToInt64Bits(y),
                $"{what}: element {i} is {y:R}, the float32 fused-multiply-add loop gives {x:R}");
        }
    }

    /// <summary>The spacing of <paramref name="type"/> at <paramref name="v"/>.</summary>
    private static double Ulp(ElementType type, double v)
    {
        int bits = type == ElementType.BFloat16 ? 7 : 10;
        int minExp = type == ElementType.BFloat16 ? -126 : -14;
        int e = v == 0 ? minExp : Math.Max(minExp, (int)Math.Floor(Math.Log2(Math.Abs(v))));
        return Math.Pow(2, e - bits);
    }

    // ---------------------------------------------------------------------------------------------------------
    // The float32 fused-multiply-add loops (the managed kernels' numerics, written independently)

    private static float[] FmaMatMul(Tensor a, Tensor b, out long[] shape)
    {
        var av = ElementConvert.ToFloats(a);
        var bv = ElementConvert.ToFloats(b);
        long[] ap = a.Rank == 1 ? [1, a.Shape[0]] : a.Shape, bp = b.Rank == 1 ? [b.Shape[0], 1] : b.Shape;
        long m = ap[^2], k = ap[^1], n = bp[^1];
        var batch = Broadcast.Shape(ap[..^2], bp[..^2]);
        var aIndex = Broadcast.SourceIndices(ap[..^2], batch);
        var bIndex = Broadcast.SourceIndices(bp[..^2], batch);
        shape = [.. batch, m, n];
        var y = new float[aIndex.Length * m * n];
        for (long p = 0; p < aIndex.Length; p++)
            for (long i = 0; i < m; i++)
                for (long j = 0; j < n; j++)
                {
                    float acc = 0;
                    for (long q = 0; q < k; q++)
                        acc = MathF.FusedMultiplyAdd(av[(aIndex[p] * m + i) * k + q], bv[(bIndex[p] * k + q) * n + j], acc);
                    y[(p * m + i) * n + j] = acc;
                }
        return y;
    }

    private static float[] FmaGemm(Tensor?[] inputs, Dictionary<string, object> attrs)
    {
        var a = inputs[0]!;
        var b = inputs[1]!;
        var c = inputs.Length > 2 ? inputs[2] : null;
        bool ta = (long)attrs["transA"] != 0, tb = (long)attrs["transB"] != 0;
        float alpha = (float)attrs["alpha"], beta = (float)attrs["beta"];
        var av = ElementConvert.ToFloats(a);
        var bv = ElementConvert.ToFloats(b);
        var cv = c is null ? null : ElementConvert.ToFloats(c);
        long m = ta ? a.Shape[1] : a.Shape[0], k = ta ? a.Shape[0] : a.Shape[1], n = tb ? b.Shape[0] : b.Shape[1];
        var y = new float[m * n];
        for (long i = 0; i < m; i++)
            for (long j = 0; j < n; j++)
            {
                float acc = 0;
                for (long q = 0; q < k; q++)
                    acc = MathF.FusedMultiplyAdd(av[ta ? q * m + i : i * k + q], bv[tb ? j * k + q : q * n + j], acc);
                float v = alpha == 1 ? acc : alpha * acc;
                if (cv is not null)
                {
                    long cm = c!.Rank == 2 ? c.Shape[0] : 1, cn = c.Rank >= 1 ? c.Shape[^1] : 1;
                    float cval = cv[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
                    v += beta == 1 ? cval : beta * cval;
                }
                y[i * n + j] = v;
            }
        return y;
    }

    private static float[] FmaConv(Tensor?[] inputs, ConvCase cc)
    {
        var x = inputs[0]!;
        var w = inputs[1]!;
        var b = inputs.Length > 2 && inputs[2] is { } bt ? ElementConvert.ToFloats(bt) : null;
        var xv = ElementConvert.ToFloats(x);
        var wv = ElementConvert.ToFloats(w);
        long n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], wd = x.Shape[3];
        long m = w.Shape[0], cg = w.Shape[1], kh = w.Shape[2], kw = w.Shape[3], group = cc.Group, mg = m / group;
        long[] s = cc.Strides ?? [1, 1], d = cc.Dilations ?? [1, 1];
        long[] pads = cc.Pads ?? [0, 0, 0, 0];
        var outDims = new long[2];
        var begin = new long[2];
        long[] inDims = [h, wd], kDims = [kh, kw];
        for (int a = 0; a < 2; a++)
        {
            long extent = (kDims[a] - 1) * d[a] + 1;
            if (cc.AutoPad is "SAME_UPPER" or "SAME_LOWER")
            {
                outDims[a] = (inDims[a] + s[a] - 1) / s[a];
                long total = Math.Max(0, (outDims[a] - 1) * s[a] + extent - inDims[a]);
                begin[a] = cc.AutoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
            }
            else if (cc.AutoPad == "VALID")
                outDims[a] = (inDims[a] - extent) / s[a] + 1;
            else
            {
                begin[a] = pads[a];
                outDims[a] = (inDims[a] + pads[a] + pads[a + 2] - extent) / s[a] + 1;
            }
        }
        long oh = outDims[0], ow = outDims[1];
        var y = new float[n * m * oh * ow];
        for (long img = 0; img < n; img++)
            for (long oc = 0; oc < m; oc++)
            {
                long g = oc / mg;
                for (long r = 0; r < oh; r++)
                    for (long q = 0; q < ow; q++)
                    {
                        float acc = 0;
                        for (long ic = 0; ic < cg; ic++)
                            for (long i = 0; i < kh; i++)
                                for (long j = 0; j < kw; j++)
                                {
                                    long ih = r * s[0] - begin[0] + i * d[0], iw = q * s[1] - begin[1] + j * d[1];
                                    if (ih < 0 || ih >= h || iw < 0 || iw >= wd) continue;
                                    acc = MathF.FusedMultiplyAdd(xv[((img * c + g * cg + ic) * h + ih) * wd + iw], wv[((oc * cg + ic) * kh + i) * kw + j], acc);
                                }
                        y[((img * m + oc) * oh + r) * ow + q] = b is null ? acc : acc + b[oc];
                    }
            }
        return y;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Helpers

    private static KernelContext Context(int threads) => new(new PlanExecutor(threads), threads);

    private static IKernel CreateKernel(KernelRegistry registry, string op, Dictionary<string, object> attrs, params ElementType?[] types)
    {
        var node = new KernelNode(op, "", 13, new AttributeMap(attrs), types, 1, "test");
        var kernel = registry.Create(node, out var reason);
        Assert.True(kernel is not null, $"{op}: {reason}");
        return kernel!;
    }

    private static Tensor?[] RunKernel(KernelRegistry registry, string op, Dictionary<string, object> attrs, Tensor?[] inputs, int threads, bool untyped = false)
    {
        var kernel = CreateKernel(registry, op, attrs, inputs.Select(t => untyped ? null : t?.Type).ToArray());
        var outputs = new Tensor?[1];
        kernel.Run(Context(threads), inputs, outputs);
        return outputs;
    }

    private static void AssertSameResult(KernelRegistry managed, string op, Dictionary<string, object> attrs, Tensor?[] inputs, bool untyped)
    {
        using var expected = RunKernel(Reference, op, attrs, inputs, 1)[0]!;
        using var actual = RunKernel(managed, op, attrs, inputs, 2, untyped)[0]!;
        Assert.Equal(expected.Type, actual.Type);
        Assert.Equal(expected.Shape, actual.Shape);
        Assert.True(expected.Bytes.SequenceEqual(actual.Bytes), $"{op}: the managed registry's result differs from the reference kernel's");
    }

    /// <summary>Seeded values in [-1, 1), representable in <paramref name="type"/>.</summary>
    private static Tensor RandomTensor(ElementType type, long[] shape, int seed)
    {
        long count = shape.Aggregate(1L, (p, d) => p * d);
        var random = new Random(seed * 7919 + (int)type);
        var values = new double[count];
        for (long i = 0; i < count; i++) values[i] = random.NextDouble() * 2 - 1;
        return ElementConvert.FromDoubles(type, shape, values);
    }

    private static Tensor Abs(Tensor t)
    {
        var r = Tensor.Create(t.Type, t.Shape);
        for (long i = 0; i < t.Length; i++) ElementConvert.SetDouble(r, i, Math.Abs(ElementConvert.GetDouble(t, i)));
        return r;
    }
}
