using Alloy.Runtime.Kernels;
using Alloy.Runtime.Kernels.Managed;
using Alloy.Runtime.OneDnn.Convolution;
using Alloy.Runtime.OneDnn.Native;

namespace Alloy.Runtime.OneDnn.Kernels;

/// <summary>
/// Float32 2-D Conv (NCHW, groups, strides, dilations, pads, auto_pad) on oneDNN, with the bias and a fused Relu / Clip
/// (<see cref="IActivationFusion"/>) in the primitive's epilogue. oneDNN sums the products in its own order and
/// blocking (and may use Winograd-free direct or GEMM-based algorithms), so results agree with the reference within
/// float32 rounding of the sum, not bit for bit. Other element types, ranks and operands run the managed kernel.
/// </summary>
internal sealed unsafe class OneDnnConvKernel : OneDnnConvolutionKernel, IKernel, IWeightPrepacking, IActivationFusion
{
    private readonly ActivationClamp _clamp;
    private readonly Lock _lock = new();
    private Parameters? _parameters;

    private OneDnnConvKernel(IKernel managed, ConvolutionAttributes attrs, ActivationClamp clamp, string node)
        : base(managed, attrs, node)
    {
        _clamp = clamp;
    }

    /// <summary>The oneDNN kernel over <paramref name="managed"/>; null with the reason when the node's known types rule oneDNN out.</summary>
    public static IKernel? Create(KernelNode n, IKernel managed, out string? reason)
    {
        var attrs = ConvolutionAttributes.Read(n, out reason);
        if (attrs is null) return null;
        for (int i = 0; i < Math.Min(3, n.InputTypes.Count); i++)
            if (n.InputTypes[i] is { } t && t != ElementType.Float)
            {
                reason = $"{n}: input {i} is {t.Name()}; the oneDNN Conv takes float32";
                return null;
            }
        if (n.OutputTypes.Count > 0 && n.OutputTypes[0] is { } o && o != ElementType.Float)
        {
            reason = $"{n}: the result is {o.Name()}; the oneDNN Conv stores float32";
            return null;
        }
        return new OneDnnConvKernel(managed, attrs, default, n.ToString());
    }

    public IKernel? WithActivation(ActivationClamp clamp)
    {
        if (Managed is not IActivationFusion fusable || fusable.WithActivation(clamp) is not { } managed) return null;
        return new OneDnnConvKernel(managed, Attributes, clamp, Node);
    }

    public void Prepack(ReadOnlySpan<Tensor?> constantInputs, int threads)
    {
        if (At(constantInputs, 1) is { } w) Get(w, At(constantInputs, 2));
    }

    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = At(inputs, 0);
        var w = At(inputs, 1);
        var b = At(inputs, 2);
        if (x is null || w is null || x.Rank != 4 || w.Rank != 4 || x.Type != ElementType.Float || w.Type != ElementType.Float)
        {
            Fallback(context, inputs, outputs, "only 2-D float32 convolutions run on oneDNN");
            return;
        }
        var p = Get(w, b);
        if (p.Reason is not null)
        {
            Fallback(context, inputs, outputs, p.Reason);
            return;
        }
        RunPrimitive(context, inputs, outputs, x, w, p.Primitives!, p.Bias, ElementType.Float);
    }

    /// <summary>The bias copy and primitives for this weight / bias pair: kept while they are the same tensor objects.</summary>
    private Parameters Get(Tensor w, Tensor? b)
    {
        lock (_lock)
        {
            if (_parameters is { } cached && ReferenceEquals(cached.Weights, w) && ReferenceEquals(cached.BiasTensor, b)) return cached;
            string? reason = null;
            if (w.Rank != 4) reason = $"w {w.ShapeText} is not 4-D";
            else if (b is not null && (b.Type != ElementType.Float || b.Length != w.Shape[0])) reason = $"B {b} does not hold {w.Shape[0]} float32 values";
            var epilogue = new ConvolutionEpilogue(null, 0, 0, _clamp.Enabled, _clamp.Lo, _clamp.Hi);
            var types = new ConvolutionTypes(Dnnl.F32, Dnnl.F32, b is null ? 0 : Dnnl.F32, Dnnl.F32);
            _parameters = reason is not null
                ? new Parameters(w, b, reason, null, null)
                : new Parameters(w, b, null, b is null ? null : new NativeBuffer(b.Bytes), new ConvolutionPrimitives(types, epilogue));
            return _parameters;
        }
    }

    private sealed record Parameters(Tensor Weights, Tensor? BiasTensor, string? Reason, NativeBuffer? Bias, ConvolutionPrimitives? Primitives);
}
