using Alloy.IR;

namespace Alloy.TorchScript;

/// <summary>
/// What a TorchScript archive does not record: the element types and shapes of <c>forward</c>'s tensor
/// parameters. Dimensions may be symbolic (<c>Dim.Named("N")</c>) to keep a dynamic batch. Inputs not listed are
/// float32 of unknown rank; an op that fixes the rank (convolution, recurrent layers, pooling) or the element type
/// (embedding indices) refines them.
/// </summary>
public sealed record TorchScriptImportOptions
{
    public IReadOnlyDictionary<string, TensorType> InputTypes { get; init; } = new Dictionary<string, TensorType>();

    public static TorchScriptImportOptions Default { get; } = new();
}
