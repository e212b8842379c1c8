namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// A kernel that can apply a Relu or Clip to its result before storing it (an epilogue), so the plan compiler can
/// merge the activation node into it.
/// </summary>
public interface IActivationFusion
{
    /// <summary>A kernel computing this one's result followed by <paramref name="clamp"/>; null if it cannot.</summary>
    IKernel? WithActivation(ActivationClamp clamp);
}
