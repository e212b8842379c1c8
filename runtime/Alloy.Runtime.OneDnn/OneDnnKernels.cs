using Alloy.Runtime.Kernels;
using Alloy.Runtime.Kernels.Managed;
using Alloy.Runtime.OneDnn.Convolution;
using Alloy.Runtime.OneDnn.Kernels;

namespace Alloy.Runtime.OneDnn;

/// <summary>
/// The oneDNN kernels, layered over the managed ones: <c>com.alloy::QLinearConv</c> and <c>com.alloy::QLinearMatMul</c>
/// (the QDQ lowering's fused integer convolution and matrix product) and float32 <c>Conv</c> run on oneDNN primitives when <c>libdnnl.so.2</c> loads
/// (<see cref="OneDnnLibrary"/>); every other op, and every node or run whose configuration oneDNN cannot express,
/// runs the managed kernel (<see cref="ManagedKernels"/>, <see cref="Int8Kernels"/>). Plans built from the registry
/// keep the values passed between two oneDNN convolutions channels-last (<see cref="ChannelsLastPlan"/>).
/// </summary>
public static class OneDnnKernels
{
    /// <summary>The managed registry with the oneDNN kernels over it; exactly the managed registry when oneDNN is absent.</summary>
    public static KernelRegistry CreateRegistry()
    {
        var r = ManagedKernels.CreateRegistry();
        if (OneDnnLibrary.IsAvailable) Register(r);
        return r;
    }

    /// <summary>Registers the oneDNN kernels in <paramref name="r"/>, falling back to the managed kernels.</summary>
    public static void Register(KernelRegistry r) => Register(r, ManagedKernels.CreateRegistry());

    /// <summary>
    /// Registers the oneDNN kernels in <paramref name="r"/>; a node or run oneDNN cannot take runs the kernel
    /// <paramref name="fallback"/> creates for it.
    /// </summary>
    public static void Register(KernelRegistry r, KernelRegistry fallback)
    {
        ArgumentNullException.ThrowIfNull(r);
        ArgumentNullException.ThrowIfNull(fallback);
        if (!OneDnnLibrary.TryLoad(out var why)) throw new InvalidOperationException($"oneDNN is not available: {why}");
        r.Register("QLinearConv", (KernelNode n, out string? reason) =>
        {
            var managed = fallback.Create(n, out reason);
            return managed is null ? null : OneDnnQLinearConvKernel.Create(n, managed, out _) ?? managed;
        }, Int8Kernels.Domain);
        r.Register("QLinearMatMul", (KernelNode n, out string? reason) =>
        {
            var managed = fallback.Create(n, out reason);
            return managed is null ? null : OneDnnQLinearMatMulKernel.Create(n, managed, out _) ?? managed;
        }, Int8Kernels.Domain);
        r.Register("Conv", (KernelNode n, out string? reason) =>
        {
            var managed = fallback.Create(n, out reason);
            return managed is null ? null : OneDnnConvKernel.Create(n, managed, out _) ?? managed;
        });
        r.AddPlanFinisher(plan => ChannelsLastPlan.Apply(plan));
    }
}
