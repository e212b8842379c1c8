using Alloy.Runtime.Kernels;
using Alloy.Runtime.OneDnn.Convolution;
using Alloy.Runtime.OneDnn.Native;

namespace Alloy.Runtime.OneDnn.Kernels;

/// <summary>
/// What the float32 and the integer oneDNN convolution kernels share: the managed kernel they fall back to, the
/// channels-last edges the plan finisher agrees, running a prepared primitive set on one input shape, and the
/// fallback that converts the agreed channels-last operands back to NCHW for the managed kernel.
/// </summary>
internal abstract unsafe class OneDnnConvolutionKernel(IKernel managed, ConvolutionAttributes attrs, string node) : IChannelsLastConvolution
{
    protected IKernel Managed { get; } = managed;

    protected ConvolutionAttributes Attributes { get; } = attrs;

    protected string Node { get; } = node;

    public bool ChannelsLastInput { get; set; }

    public bool ChannelsLastOutput { get; set; }

    /// <summary>Why the last run used the managed kernel (null: it ran on oneDNN).</summary>
    public string? FallbackReason { get; private set; }

    /// <summary>oneDNN's implementation name for the last run on oneDNN.</summary>
    public string? Implementation { get; private set; }

    protected static Tensor? At(ReadOnlySpan<Tensor?> inputs, int i) => i < inputs.Length ? inputs[i] : null;

    /// <summary>Runs <paramref name="x"/> ⊛ <paramref name="w"/> on the primitive for this shape, or falls back with the reason.</summary>
    protected void RunPrimitive(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs, Tensor x, Tensor w,
        ConvolutionPrimitives primitives, NativeBuffer? bias, ElementType outputType)
    {
        if (ConvolutionShape.From(Attributes, x.Shape, w.Shape) is not { } shape)
        {
            Fallback(context, inputs, outputs, $"x {x.ShapeText} and w {w.ShapeText} do not form a convolution");
            return;
        }
        var conv = primitives.Get(shape, context.Threads, new ConvolutionLayouts(ChannelsLastInput, ChannelsLastOutput), w.Pointer, bias is null ? null : bias.Pointer, out var reason);
        if (conv is null)
        {
            Fallback(context, inputs, outputs, reason ?? "oneDNN has no implementation");
            return;
        }
        var y = Tensor.Create(outputType, [shape.N, shape.M, shape.OH, shape.OW]);
        try
        {
            conv.Execute(x.Pointer, y.Pointer, context.Threads);
        }
        catch
        {
            y.Dispose();
            throw;
        }
        Implementation = conv.Implementation;
        FallbackReason = null;
        outputs[0] = y;
    }

    /// <summary>Runs the managed kernel, converting the data operand and the result on the agreed channels-last edges.</summary>
    protected void Fallback(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs, string reason)
    {
        FallbackReason = $"{Node}: {reason}";
        if (!ChannelsLastInput && !ChannelsLastOutput)
        {
            Managed.Run(context, inputs, outputs);
            return;
        }
        var args = inputs.ToArray();
        using var nchw = ChannelsLastInput && args[0] is { Rank: 4 } x ? ChannelsLast.ToNchw(x) : null;
        if (nchw is not null) args[0] = nchw;
        Managed.Run(context, args, outputs);
        if (ChannelsLastOutput && outputs[0] is { Rank: 4 } y)
        {
            outputs[0] = ChannelsLast.FromNchw(y);
            y.Dispose();
        }
    }
}
