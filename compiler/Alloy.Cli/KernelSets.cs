using Alloy.Runtime.Kernels;
using Alloy.Runtime.Kernels.Managed;
using Alloy.Runtime.OneDnn;

namespace Alloy.Cli;

/// <summary>
/// The kernel sets <c>--kernels</c> names: <c>auto</c> (oneDNN when <c>libdnnl.so.2</c> loads, else managed),
/// <c>onednn</c> (an error when oneDNN cannot be loaded), <c>managed</c> and <c>reference</c>.
/// </summary>
public static class KernelSets
{
    public static readonly string[] Names = ["auto", "onednn", "managed", "reference"];

    public static KernelRegistry Create(string name) => name switch
    {
        "auto" => OneDnnLibrary.IsAvailable ? OneDnnKernels.CreateRegistry() : ManagedKernels.CreateRegistry(),
        "onednn" => OneDnnLibrary.TryLoad(out var reason)
            ? OneDnnKernels.CreateRegistry()
            : throw new UserError($"--kernels onednn: oneDNN cannot be loaded: {reason}"),
        "managed" => ManagedKernels.CreateRegistry(),
        "reference" => KernelRegistry.Reference(),
        _ => throw new UserError($"--kernels '{name}': use {string.Join(", ", Names)}"),
    };
}
