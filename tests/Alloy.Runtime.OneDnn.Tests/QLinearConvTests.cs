using Alloy.Runtime.Kernels;
using Alloy.Runtime.Kernels.Managed;
using Alloy.Runtime.OneDnn.Kernels;
using Xunit;
using Xunit.Abstractions;
using static Alloy.Runtime.OneDnn.Tests.OneDnnTestKit;

namespace Alloy.Runtime.OneDnn.Tests;

/// <summary>
/// <c>com.alloy::QLinearConv</c> on oneDNN against the reference QLinearConv (followed by max(y, y_zero_point) for the
/// fused ReLU), over shapes, strides, pads, dilations, groups (dense, grouped, depthwise), uint8 / int8 activations,
/// per-tensor and per-channel weight scales, random zero points, with and without bias, on 1 and 2 threads.
/// Tolerance: oneDNN requantises in float32 (<c>round(float(acc + bias) · scale)</c>) where the reference rounds the
/// double product, so an element may differ by one quantisation step (1 LSB), never more, and at most
/// <see cref="MaxOffByOne"/> of the elements may differ at all.
/// </summary>
public sealed class QLinearConvTests(ITestOutputHelper output)
{
    /// <summary>The largest fraction of elements allowed to differ (by exactly 1) from the reference.</summary>
    public const double MaxOffByOne = 0.01;

    /// <summary>N, C, H, W, M, KH, KW, stride, pad, dilation, group.</summary>
    public static TheoryData<long[]> Cases() => new()
    {
        new long[] { 1, 3, 17, 17, 8, 3, 3, 1, 1, 1, 1 },
        new long[] { 2, 5, 9, 13, 17, 3, 3, 2, 1, 1, 1 },
        new long[] { 1, 3, 23, 23, 16, 7, 7, 2, 3, 1, 1 },    // a resnet stem
        new long[] { 1, 64, 14, 14, 33, 1, 1, 1, 0, 1, 1 },   // 1×1
        new long[] { 1, 16, 15, 15, 24, 1, 1, 2, 0, 1, 1 },   // 1×1 stride 2 (downsample)
        new long[] { 1, 17, 11, 11, 17, 3, 3, 1, 1, 1, 17 },  // depthwise
        new long[] { 1, 32, 12, 12, 32, 3, 3, 2, 1, 1, 32 },  // depthwise stride 2
        new long[] { 1, 12, 12, 12, 24, 3, 3, 2, 1, 1, 12 },  // depthwise, multiplier 2
        new long[] { 1, 8, 10, 10, 12, 3, 3, 1, 2, 2, 4 },    // grouped, dilated
        new long[] { 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1 },       // 1×1×1
        new long[] { 1, 130, 7, 7, 40, 3, 3, 1, 1, 1, 1 },    // K = 1170
        new long[] { 1, 64, 56, 56, 64, 3, 3, 1, 1, 1, 1 },   // a resnet18 block
        new long[] { 1, 3, 33, 70, 3, 2, 3, 3, 0, 1, 3 },     // depthwise 2×3, stride 3, no padding
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTheReferenceWithinOneStep(long[] p)
    {
        if (!OneDnnRequirement.Check(output)) return;
        var (n, c, h, w, m, kh, kw, stride, pad, dil, group) = (p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10]);
        int seed = (int)p.Sum();
        var attrs = new Dictionary<string, object>
        {
            ["strides"] = new[] { stride, stride },
            ["pads"] = new[] { pad, pad, pad, pad },
            ["dilations"] = new[] { dil, dil },
            ["group"] = group,
            ["constant_weights"] = 1L,
        };
        var registry = OneDnnKernels.CreateRegistry();
        long differing = 0, total = 0;
        foreach (var (xType, yType, perChannel, withBias, relu) in new[]
                 {
                     (ElementType.UInt8, ElementType.UInt8, true, true, true),
                     (ElementType.UInt8, ElementType.UInt8, false, false, false),
                     (ElementType.UInt8, ElementType.Int8, true, true, false),
                     (ElementType.Int8, ElementType.Int8, true, true, true),
                     (ElementType.Int8, ElementType.UInt8, false, true, false),
                 })
        {
            using var x = RandomBytes(xType, [n, c, h, w], seed++);
            using var wt = RandomBytes(ElementType.Int8, [m, c / group, kh, kw], seed++);
            using var xScale = Tensor.FromFloats([], [0.02f]);
            using var xZp = RandomBytes(xType, [], seed++);
            using var wScale = Scales(perChannel ? [m] : [], perChannel ? m : 1, seed++);
            using var wZp = Tensor.Create(ElementType.Int8, perChannel ? [m] : []);
            long taps = c / group * kh * kw;
            // y_scale spreads the outputs over the whole range (and some saturate).
            using var yScale = Tensor.FromFloats([], [(float)(Math.Sqrt(taps) * 60 * 0.02 * 0.02 / 40)]);
            using var yZp = RandomBytes(yType, [], seed++);
            var bv = Enumerable.Range(0, (int)m).Select(i => (i * 104729 % 20001) - 10000).ToArray();
            using var bias = Tensor.FromArray(ElementType.Int32, [m], bv);
            Tensor?[] inputs = withBias ? [x, xScale, xZp, wt, wScale, wZp, yScale, yZp, bias] : [x, xScale, xZp, wt, wScale, wZp, yScale, yZp];

            var plain = new Dictionary<string, object>(attrs);
            plain.Remove("constant_weights");
            using var reference = Run(Reference, "QLinearConv", "", plain, inputs, 1);
            int zy = (int)Alloy.Runtime.Numerics.ElementConvert.GetLong(yZp, 0);
            var want = Values(reference).Select(v => relu ? Math.Max(v, zy) : v).ToArray();

            var fusedAttrs = new Dictionary<string, object>(attrs);
            if (relu) fusedAttrs["relu"] = 1L;
            var kernel = registry.Create(Node("QLinearConv", Int8Kernels.Domain, fusedAttrs, inputs), out var reason);
            var onednn = Assert.IsType<OneDnnQLinearConvKernel>(kernel);
            foreach (var threads in new[] { 1, 2 })
            {
                using var y = Run(onednn, inputs, threads);
                Assert.Null(onednn.FallbackReason);
                Assert.Equal(reference.Shape, y.Shape);
                Assert.Equal(yType, y.Type);
                var got = Values(y);
                for (int i = 0; i < got.Length; i++)
                {
                    int d = Math.Abs(got[i] - want[i]);
                    Assert.True(d <= 1, $"{xType}->{yType} threads {threads}: element {i} is {got[i]}, the reference {want[i]}");
                    if (d != 0) differing++;
                }
                total += got.Length;
            }
            output.WriteLine($"{xType}->{yType} per-channel {perChannel} bias {withBias} relu {relu}: {onednn.Implementation}");
        }
        output.WriteLine($"{differing} of {total} elements differ by one step ({(double)differing / total:P3})");
        Assert.True(differing <= MaxOffByOne * total, $"{differing} of {total} elements differ from the reference");
    }

    [Fact]
    public void WeightsOutsideOneDnnRunTheManagedKernelBitExactly()
    {
        if (!OneDnnRequirement.Check(output)) return;
        var registry = OneDnnKernels.CreateRegistry();
        var attrs = new Dictionary<string, object> { ["pads"] = new long[] { 1, 1, 1, 1 } };
        using var x = RandomBytes(ElementType.UInt8, [1, 4, 6, 6], 1);
        using var s = Tensor.FromFloats([], [0.05f]);
        using var z = Tensor.FromArray(ElementType.UInt8, [], new byte[] { 3 });

        // uint8 weights: known when the plan is built, so the managed kernel is bound directly.
        using var wu = RandomBytes(ElementType.UInt8, [5, 4, 3, 3], 2);
        using var wuz = Tensor.FromArray(ElementType.UInt8, [], new byte[] { 7 });
        Tensor?[] unsigned = [x, s, z, wu, s, wuz, s, z];
        Assert.IsNotType<OneDnnQLinearConvKernel>(registry.Create(Node("QLinearConv", Int8Kernels.Domain, attrs, unsigned), out _));
        using (var expected = Run(Reference, "QLinearConv", "", attrs, unsigned, 1))
        using (var actual = Run(registry, "QLinearConv", Int8Kernels.Domain, attrs, unsigned, 2))
            Assert.Equal(expected.ToArray<byte>(), actual.ToArray<byte>());

        // int8 weights with a non-zero zero point: known only when the run sees the tensor.
        using var ws = RandomBytes(ElementType.Int8, [5, 4, 3, 3], 3);
        using var wsz = Tensor.FromArray(ElementType.Int8, [], new sbyte[] { 2 });
        Tensor?[] shifted = [x, s, z, ws, s, wsz, s, z];
        var kernel = Assert.IsType<OneDnnQLinearConvKernel>(registry.Create(Node("QLinearConv", Int8Kernels.Domain, attrs, shifted), out _));
        using var want = Run(Reference, "QLinearConv", "", attrs, shifted, 1);
        using var got = Run(kernel, shifted, 2);
        Assert.Equal(want.ToArray<byte>(), got.ToArray<byte>());
        Assert.Contains("zero point", kernel.FallbackReason);
        output.WriteLine(kernel.FallbackReason);
    }

    [Fact]
    public void NaNAndZeroScalesRunTheManagedKernel()
    {
        if (!OneDnnRequirement.Check(output)) return;
        var registry = OneDnnKernels.CreateRegistry();
        using var x = RandomBytes(ElementType.UInt8, [1, 4, 6, 6], 1);
        using var w = RandomBytes(ElementType.Int8, [5, 4, 3, 3], 2);
        using var s = Tensor.FromFloats([], [0.05f]);
        using var z = Tensor.FromArray(ElementType.UInt8, [], new byte[] { 3 });
        using var wz = Tensor.Create(ElementType.Int8, []);
        foreach (var bad in new[] { float.NaN, 0f })
        {
            using var ws = Tensor.FromFloats([], [bad]);
            Tensor?[] inputs = [x, s, z, w, ws, wz, s, z];
            var kernel = Assert.IsType<OneDnnQLinearConvKernel>(registry.Create(Node("QLinearConv", Int8Kernels.Domain, [], inputs), out _));
            using var want = Run(ManagedKernels.CreateRegistry(), "QLinearConv", Int8Kernels.Domain, [], inputs, 1);
            using var got = Run(kernel, inputs, 1);
            Assert.Equal(want.ToArray<byte>(), got.ToArray<byte>());
            Assert.Contains("multipliers", kernel.FallbackReason);
        }
    }

    [Fact]
    public void BadOperandsGetTheManagedKernelsError()
    {
        if (!OneDnnRequirement.Check(output)) return;
        var registry = OneDnnKernels.CreateRegistry();
        using var x = RandomBytes(ElementType.UInt8, [1, 4, 6, 6], 1);
        using var w = RandomBytes(ElementType.Int8, [5, 3, 3, 3], 2); // 3 input channels for a 4-channel x
        using var s = Tensor.FromFloats([], [0.05f]);
        using var z = Tensor.FromArray(ElementType.UInt8, [], new byte[] { 3 });
        using var wz = Tensor.Create(ElementType.Int8, []);
        var e = Assert.Throws<KernelException>(() => Run(registry, "QLinearConv", Int8Kernels.Domain, [], [x, s, z, w, s, wz, s, z], 1).Dispose());
        Assert.Contains("channels", e.Message);
    }
}
