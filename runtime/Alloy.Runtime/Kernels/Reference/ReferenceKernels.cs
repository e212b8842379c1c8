namespace Alloy.Runtime.Kernels.Reference;

/// <summary>
/// The reference kernel set. Each op family lives in its own file and registers itself through one of the
/// partial methods below.
/// </summary>
internal static partial class ReferenceKernels
{
    public static void RegisterAll(KernelRegistry r)
    {
        RegisterElementwise(r);
        RegisterReductions(r);
        RegisterNormalization(r);
        RegisterLinearAlgebra(r);
        RegisterConvolution(r);
        RegisterRecurrent(r);
        RegisterShape(r);
        RegisterIndexing(r);
        RegisterQuantization(r);
        RegisterControlFlow(r);
        RegisterMisc(r);
        RegisterLoss(r);
        RegisterSignal(r);
        RegisterVision(r);
        RegisterText(r);
    }

    static partial void RegisterElementwise(KernelRegistry r);
    static partial void RegisterReductions(KernelRegistry r);
    static partial void RegisterNormalization(KernelRegistry r);
    static partial void RegisterLinearAlgebra(KernelRegistry r);
    static partial void RegisterConvolution(KernelRegistry r);
    static partial void RegisterRecurrent(KernelRegistry r);
    static partial void RegisterShape(KernelRegistry r);
    static partial void RegisterIndexing(KernelRegistry r);
    static partial void RegisterQuantization(KernelRegistry r);
    static partial void RegisterControlFlow(KernelRegistry r);
    static partial void RegisterMisc(KernelRegistry r);
    static partial void RegisterLoss(KernelRegistry r);
    static partial void RegisterSignal(KernelRegistry r);
    static partial void RegisterVision(KernelRegistry r);
    static partial void RegisterText(KernelRegistry r);
}
