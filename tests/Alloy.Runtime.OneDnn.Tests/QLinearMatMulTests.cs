using Alloy.Runtime.Kernels;
using Alloy.Runtime.Kernels.Managed;
using Alloy.Runtime.OneDnn.Kernels;
using Xunit;
using Xunit.Abstractions;
using static Alloy.Runtime.OneDnn.Tests.OneDnnTestKit;

namespace Alloy.Runtime.OneDnn.Tests;

/// <summary>
/// <c>com.alloy::QLinearMatMul</c> on oneDNN against the managed kernel (bit-exact with the reference QLinearMatMul
/// plus bias and ReLU, see Alloy.Runtime.Tests' Int8KernelTests) over sizes, transB, uint8 / int8 activations and
/// results, per-tensor and per-column weight scales, with and without bias and ReLU, on 1 and 2 threads: at most one
/// quantisation step apart, in at most 1% of the elements.
/// </summary>
public sealed class QLinearMatMulTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(1, 1280, 1000)]  // a classifier
    [InlineData(1, 512, 10)]
    [InlineData(7, 33, 65)]
    [InlineData(64, 300, 45)]
    [InlineData(3, 1, 1)]
    public void MatchesTheManagedKernelWithinOneStep(long rows, long k, long n)
    {
        if (!OneDnnRequirement.Check(output)) return;
        var managed = ManagedKernels.CreateRegistry();
        var registry = OneDnnKernels.CreateRegistry();
        int seed = (int)(rows * 31 + k * 7 + n);
        long differing = 0, total = 0;
        foreach (var (aType, yType, perColumn, transB, withBias, relu) in new[]
                 {
                     (ElementType.UInt8, ElementType.UInt8, true, true, true, true),
                     (ElementType.UInt8, ElementType.Int8, false, false, true, false),
                     (ElementType.Int8, ElementType.Int8, true, false, false, true),
                     (ElementType.Int8, ElementType.UInt8, true, true, true, false),
                 })
        {
            using var a = RandomBytes(aType, rows == 3 ? [rows, 1, k] : [rows, k], seed++);
            using var b = RandomBytes(ElementType.Int8, transB ? [n, k] : [k, n], seed++);
            using var aScale = Tensor.FromFloats([], [0.02f]);
            using var aZp = RandomBytes(aType, [], seed++);
            using var bScale = Scales(perColumn ? [n] : [], perColumn ? n : 1, seed++);
            using var bZp = Tensor.Create(ElementType.Int8, perColumn ? [n] : []);
            using var yScale = Tensor.FromFloats([], [(float)(Math.Sqrt(k) * 60 * 0.02 * 0.02 / 40)]);
            using var yZp = RandomBytes(yType, [], seed++);
            using var bias = Tensor.FromArray(ElementType.Int32, [n], Enumerable.Range(0, (int)n).Select(i => (i * 7919 % 4001) - 2000).ToArray());
            Tensor?[] inputs = withBias ? [a, aScale, aZp, b, bScale, bZp, yScale, yZp, bias] : [a, aScale, aZp, b, bScale, bZp, yScale, yZp];
            var attrs = new Dictionary<string, object> { ["transB"] = transB ? 1L : 0L, ["constant_weights"] = 1L };
            if (relu) attrs["relu"] = 1L;
            using var want = Run(managed, "QLinearMatMul", Int8Kernels.Domain, attrs, inputs, 1);
            var kernel = Assert.IsType<OneDnnQLinearMatMulKernel>(registry.Create(Node("QLinearMatMul", Int8Kernels.Domain, attrs, inputs), out _));
            foreach (var threads in new[] { 1, 2 })
            {
                using var y = Run(kernel, inputs, threads);
                Assert.Null(kernel.FallbackReason);
                Assert.Equal(want.Shape, y.Shape);
                Assert.Equal(want.Type, y.Type);
                var (got, expected) = (Values(y), Values(want));
                for (int i = 0; i < got.Length; i++)
                {
                    int d = Math.Abs(got[i] - expected[i]);
                    Assert.True(d <= 1, $"{aType}->{yType} transB {transB}: element {i} is {got[i]}, the managed kernel's {expected[i]}");
                    if (d != 0) differing++;
                }
                total += got.Length;
            }
            output.WriteLine($"{aType}->{yType} per-column {perColumn} transB {transB} bias {withBias} relu {relu}: {kernel.Implementation}");
        }
        output.WriteLine($"{differing} of {total} elements differ by one step");
        Assert.True(differing <= QLinearConvTests.MaxOffByOne * total, $"{differing} of {total} elements differ");
    }

    [Fact]
    public void NonZeroWeightZeroPointsRunTheManagedKernel()
    {
        if (!OneDnnRequirement.Check(output)) return;
        using var a = RandomBytes(ElementType.UInt8, [2, 16], 1);
        using var b = RandomBytes(ElementType.Int8, [16, 8], 2);
        using var s = Tensor.FromFloats([], [0.05f]);
        using var z = Tensor.FromArray(ElementType.UInt8, [], new byte[] { 9 });
        using var bz = Tensor.FromArray(ElementType.Int8, [], new sbyte[] { 4 });
        Tensor?[] inputs = [a, s, z, b, s, bz, s, z];
        var kernel = Assert.IsType<OneDnnQLinearMatMulKernel>(OneDnnKernels.CreateRegistry().Create(Node("QLinearMatMul", Int8Kernels.Domain, [], inputs), out _));
        using var got = Run(kernel, inputs, 1);
        using var want = Run(Reference, "QLinearMatMul", "", [], inputs, 1);
        Assert.Equal(want.ToArray<byte>(), got.ToArray<byte>());
        Assert.Contains("zero point", kernel.FallbackReason);
    }
}
