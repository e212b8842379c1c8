namespace Alloy.Runtime.Kernels;

/// <summary>
/// Runs one node. <paramref name="inputs"/> holds the explicit operands (null for an omitted optional input)
/// followed by the values the node's subgraphs capture; the kernel creates its outputs (null for an output it
/// does not produce). Inputs belong to the caller: a kernel never disposes or returns them as outputs.
/// </summary>
public interface IKernel
{
    void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs);
}

/// <summary>A node cannot run: wrong input types or shapes, bad attributes, an unsupported mode.</summary>
public sealed class KernelException(string message) : Exception(message);
