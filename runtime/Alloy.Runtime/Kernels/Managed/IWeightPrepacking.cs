namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// A kernel that prepares its constant operands once (packs a Conv's or matrix product's weights into the layout its
/// inner loops read), so the plan's runs skip that work. The plan compiler calls <see cref="Prepack"/> once, with the
/// operands whose values are plan constants (null for the others); a run whose operand is another tensor computes as
/// without it.
/// </summary>
public interface IWeightPrepacking
{
    /// <summary>Prepares what the kernel can from the constant operands (explicit operands, in node order).</summary>
    void Prepack(ReadOnlySpan<Tensor?> constantInputs, int threads);
}
