using Alloy.Runtime.Kernels;
using Alloy.Runtime.Kernels.Managed;
using Alloy.Runtime.OneDnn.Kernels;
using Xunit;
using Xunit.Abstractions;
using static Alloy.Runtime.OneDnn.Tests.OneDnnTestKit;

namespace Alloy.Runtime.OneDnn.Tests;

/// <summary>
/// Float32 Conv on oneDNN against the reference Conv (and its fused Relu / Clip against the reference followed by the
/// clamp), over shapes, strides, pads, dilations, groups, auto_pad, with and without bias, on 1 and 2 threads.
/// oneDNN sums in its own order, so each element may differ from the reference by the rounding of two float32 sums
/// of K products: |got − want| ≤ 2·K·2⁻²⁴·Σ|x·w| (+ |b|), with Σ|x·w| from the reference Conv of |x| and |w|.
/// </summary>
public sealed class ConvTests(ITestOutputHelper output)
{
    /// <summary>N, C, H, W, M, KH, KW, stride, pad, dilation, group.</summary>
    public static TheoryData<long[]> Cases() => new()
    {
        new long[] { 1, 3, 17, 17, 8, 3, 3, 1, 1, 1, 1 },
        new long[] { 2, 5, 9, 13, 17, 3, 3, 2, 1, 1, 1 },
        new long[] { 1, 3, 32, 32, 16, 7, 7, 2, 3, 1, 1 },    // a resnet stem
        new long[] { 1, 64, 14, 14, 33, 1, 1, 1, 0, 1, 1 },   // 1×1
        new long[] { 1, 16, 15, 15, 24, 1, 1, 2, 0, 1, 1 },   // 1×1 stride 2
        new long[] { 1, 32, 12, 12, 32, 3, 3, 2, 1, 1, 32 },  // depthwise stride 2
        new long[] { 1, 12, 12, 12, 24, 3, 3, 1, 1, 1, 12 },  // depthwise, multiplier 2
        new long[] { 1, 8, 10, 10, 12, 3, 3, 1, 2, 2, 4 },    // grouped, dilated
        new long[] { 1, 130, 7, 7, 40, 3, 3, 1, 1, 1, 1 },    // K = 1170
        new long[] { 1, 64, 28, 28, 64, 3, 3, 1, 1, 1, 1 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTheReferenceWithinRounding(long[] p)
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
        };
        using var x = RandomFloats([n, c, h, w], seed++);
        using var wt = RandomFloats([m, c / group, kh, kw], seed++, 0.5f);
        using var b = RandomFloats([m], seed++);
        long k = c / group * kh * kw;
        var registry = OneDnnKernels.CreateRegistry();
        foreach (var withBias in new[] { true, false })
        {
            Tensor?[] inputs = withBias ? [x, wt, b] : [x, wt];
            using var want = Run(Reference, "Conv", "", attrs, inputs, 1);
            var bound = Bound(attrs, x, wt, withBias ? b : null, k);
            var kernel = Assert.IsType<OneDnnConvKernel>(registry.Create(Node("Conv", "", attrs, inputs), out _));
            foreach (var clamp in new ActivationClamp?[] { null, ActivationClamp.Relu, ActivationClamp.Between(-0.5f, 6f) })
            {
                var k2 = clamp is { } cl ? Assert.IsType<OneDnnConvKernel>(kernel.WithActivation(cl)) : kernel;
                var expected = want.ToArray<float>().Select(v => clamp?.Apply(v) ?? v).ToArray();
                foreach (var threads in new[] { 1, 2 })
                {
                    using var y = Run(k2, inputs, threads);
                    Assert.Null(k2.FallbackReason);
                    Assert.Equal(want.Shape, y.Shape);
                    var got = y.ToArray<float>();
                    for (int i = 0; i < got.Length; i++)
                        Assert.True(Math.Abs(got[i] - expected[i]) <= bound[i],
                            $"bias {withBias} clamp {clamp} threads {threads}: element {i} is {got[i]}, the reference {expected[i]} (bound {bound[i]})");
                }
            }
            output.WriteLine($"bias {withBias}: {kernel.Implementation}");
        }
    }

    [Theory]
    [InlineData("SAME_UPPER")]
    [InlineData("SAME_LOWER")]
    [InlineData("VALID")]
    public void AutoPadMatchesTheReference(string autoPad)
    {
        if (!OneDnnRequirement.Check(output)) return;
        var attrs = new Dictionary<string, object> { ["auto_pad"] = autoPad, ["strides"] = new long[] { 2, 2 } };
        using var x = RandomFloats([1, 4, 11, 12], 5);
        using var wt = RandomFloats([6, 4, 4, 3], 6);
        using var want = Run(Reference, "Conv", "", attrs, [x, wt], 1);
        using var got = Run(OneDnnKernels.CreateRegistry(), "Conv", "", attrs, [x, wt], 2);
        Assert.Equal(want.Shape, got.Shape);
        var bound = Bound(attrs, x, wt, null, 4 * 4 * 3);
        var (a, e) = (got.ToArray<float>(), want.ToArray<float>());
        for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - e[i]) <= bound[i], $"element {i}: {a[i]} vs {e[i]}");
    }

    [Fact]
    public void OtherTypesAndRanksRunTheManagedKernel()
    {
        if (!OneDnnRequirement.Check(output)) return;
        var registry = OneDnnKernels.CreateRegistry();
        // A 1-D convolution (its rank is seen only when it runs): the oneDNN kernel hands it to the managed one.
        using var x = RandomFloats([1, 3, 20], 1);
        using var w = RandomFloats([4, 3, 3], 2);
        var attrs = new Dictionary<string, object>();
        var kernel = Assert.IsType<OneDnnConvKernel>(registry.Create(Node("Conv", "", attrs, [x, w]), out _));
        using var got = Run(kernel, [x, w], 1);
        using var want = Run(ManagedKernels.CreateRegistry(), "Conv", "", attrs, [x, w], 1);
        Assert.Equal(want.ToArray<float>(), got.ToArray<float>());
        Assert.Contains("2-D", kernel.FallbackReason);
        // bfloat16 operands known when the plan is built: the managed kernel is bound directly.
        var bf16 = new KernelNode("Conv", "", 21, AttributeMap.Empty, [ElementType.BFloat16, ElementType.BFloat16], 1, "c");
        Assert.IsNotType<OneDnnConvKernel>(registry.Create(bf16, out _));
    }

    /// <summary>Per element, 2·K·2⁻²⁴·(Σ|x·w| + |b|) + a tiny absolute floor.</summary>
    private static float[] Bound(Dictionary<string, object> attrs, Tensor x, Tensor w, Tensor? b, long k)
    {
        using var ax = Tensor.FromFloats(x.Shape, x.ToArray<float>().Select(Math.Abs).ToArray());
        using var aw = Tensor.FromFloats(w.Shape, w.ToArray<float>().Select(Math.Abs).ToArray());
        using var ab = b is null ? null : Tensor.FromFloats(b.Shape, b.ToArray<float>().Select(Math.Abs).ToArray());
        using var sum = Run(Reference, "Conv", "", attrs, ab is null ? [ax, aw] : [ax, aw, ab], 1);
        double u = Math.Pow(2, -24);
        return sum.ToArray<float>().Select(s => (float)(2 * (k + 1) * u * s + 1e-6)).ToArray();
    }
}
