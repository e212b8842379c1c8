using Alloy.Runtime;
using Alloy.Runtime.Kernels;

namespace Alloy.Calibration;

/// <summary>Runs a step's kernel, then shows each float32 result to an observer (by result position) before the executor stores it.</summary>
internal sealed class ObservingKernel(IKernel inner, Action<int, Tensor> observe) : IKernel
{
    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        inner.Run(context, inputs, outputs);
        for (int i = 0; i < outputs.Length; i++)
            if (outputs[i] is { Type: ElementType.Float } t) observe(i, t);
    }
}
