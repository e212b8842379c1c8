using Alloy.Backend;
using Alloy.Onnx;
using Alloy.Runtime.Kernels;
using Alloy.Runtime.Kernels.Managed;
using Alloy.Runtime.OneDnn.Kernels;
using Alloy.Testing;
using Xunit;
using Xunit.Abstractions;
using static Alloy.Runtime.OneDnn.Tests.OneDnnTestKit;

namespace Alloy.Runtime.OneDnn.Tests;

/// <summary>
/// Channels-last edges between oneDNN convolutions: a chain of two convolutions passing NHWC data gives the reference's
/// result, also when either side hands its run to the managed kernel (which converts to and from NCHW), and the plan
/// finisher marks exactly the edges whose readers are all oneDNN convolutions.
/// </summary>
public sealed class ChannelsLastTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(0, 0)]
    [InlineData(2, 0)] // the producer falls back (weight zero point) and writes NHWC through a conversion
    [InlineData(0, 3)] // the consumer falls back and reads NHWC through a conversion
    public void AChannelsLastChainMatchesTheReference(int firstWeightZeroPoint, int secondWeightZeroPoint)
    {
        if (!OneDnnRequirement.Check(output)) return;
        var registry = OneDnnKernels.CreateRegistry();
        var attrs = new Dictionary<string, object> { ["pads"] = new long[] { 1, 1, 1, 1 } };
        using var x = RandomBytes(ElementType.UInt8, [1, 8, 9, 11], 1);
        using var w1 = RandomBytes(ElementType.Int8, [16, 8, 3, 3], 2);
        using var w2 = RandomBytes(ElementType.Int8, [5, 16, 3, 3], 3);
        using var s = Tensor.FromFloats([], [0.02f]);
        using var ys = Tensor.FromFloats([], [0.3f]);
        using var z = Tensor.FromArray(ElementType.UInt8, [], new byte[] { 120 });
        using var wz1 = Tensor.FromArray(ElementType.Int8, [], new[] { (sbyte)firstWeightZeroPoint });
        using var wz2 = Tensor.FromArray(ElementType.Int8, [], new[] { (sbyte)secondWeightZeroPoint });
        Tensor?[] first = [x, s, z, w1, s, wz1, ys, z];
        using var mid = Run(Reference, "QLinearConv", "", attrs, first, 1);
        using var want = Run(Reference, "QLinearConv", "", attrs, [mid, ys, z, w2, s, wz2, ys, z], 1);

        var producer = Assert.IsType<OneDnnQLinearConvKernel>(registry.Create(Node("QLinearConv", Int8Kernels.Domain, attrs, first), out _));
        var consumer = Assert.IsType<OneDnnQLinearConvKernel>(registry.Create(Node("QLinearConv", Int8Kernels.Domain, attrs, first), out _));
        producer.ChannelsLastOutput = true;
        consumer.ChannelsLastInput = true;
        using var nhwc = Run(producer, first, 2);
        using var got = Run(consumer, [nhwc, ys, z, w2, s, wz2, ys, z], 2);
        Assert.Equal(firstWeightZeroPoint != 0, producer.FallbackReason is not null);
        Assert.Equal(secondWeightZeroPoint != 0, consumer.FallbackReason is not null);
        // Within one step of the reference wherever oneDNN ran (the first convolution's step may move the second's
        // result by more, so the chain is compared where the first convolution is exact).
        using var midNhwc = Alloy.Runtime.OneDnn.Convolution.ChannelsLast.FromNchw(mid);
        var (a, b) = (Values(nhwc), Values(midNhwc));
        Assert.True(a.Zip(b).All(p => Math.Abs(p.First - p.Second) <= 1), "the NHWC intermediate is not the reference's, transposed");
        if (a.SequenceEqual(b))
            Assert.True(Values(got).Zip(Values(want)).All(p => Math.Abs(p.First - p.Second) <= 1), "the chain's result is not the reference's");
    }

    [Fact]
    public void ThePlanKeepsOnlyConvToConvEdgesChannelsLast()
    {
        if (!OneDnnRequirement.Check(output)) return;
        using var model = OnnxImporter.Load(Path.Combine(RepoPaths.CorpusModels, "untrained", "resnet18_w32", "resnet18_w32.opset13.onnx"));
        var plan = PlanCompiler.Compile(model, OneDnnKernels.CreateRegistry());
        var convs = plan.Steps.Where(s => s.Kernel is OneDnnConvKernel).ToList();
        var marked = convs.Count(s => ((OneDnnConvKernel)s.Kernel).ChannelsLastOutput);
        output.WriteLine($"{convs.Count} oneDNN Conv steps, {marked} write channels-last");
        Assert.True(marked > 0);
        var graphOutputs = plan.Outputs.Select(o => o.Slot).ToHashSet();
        foreach (var step in convs.Where(s => ((OneDnnConvKernel)s.Kernel).ChannelsLastOutput))
        {
            int slot = step.OutputSlots[0];
            Assert.DoesNotContain(slot, graphOutputs);
            var readers = plan.Steps.Where(s => s.InputSlots.Contains(slot)).ToList();
            Assert.NotEmpty(readers);
            Assert.All(readers, r =>
            {
                var reader = Assert.IsType<OneDnnConvKernel>(r.Kernel);
                Assert.True(reader.ChannelsLastInput);
                Assert.Equal(0, Array.IndexOf(r.InputSlots, slot));
            });
        }
        // A managed registry's plan is untouched by the finisher.
        Assert.Empty(ManagedKernels.CreateRegistry().PlanFinishers);
    }
}
