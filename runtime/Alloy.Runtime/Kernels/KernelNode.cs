namespace Alloy.Runtime.Kernels;

/// <summary>
/// What a kernel factory knows about the node it is asked to run: op, domain, opset version of that domain,
/// attributes, the element types of its inputs when known before running (null when not), its output count,
/// and a name for messages.
/// </summary>
public sealed record KernelNode(
    string OpType,
    string Domain,
    long Opset,
    AttributeMap Attributes,
    IReadOnlyList<ElementType?> InputTypes,
    int OutputCount,
    string Name)
{
    /// <summary>Element types the compiler decided for the results (null where unknown); e.g. a BF16 MatMul with an FP32 result.</summary>
    public IReadOnlyList<ElementType?> OutputTypes { get; init; } = [];

    public override string ToString() => string.IsNullOrEmpty(Name) ? OpType : $"{OpType} '{Name}'";
}
