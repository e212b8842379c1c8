using Alloy.IR;
using Alloy.TorchScript.Script;

namespace Alloy.TorchScript.Lowering;

/// <summary>
/// A tensor during lowering: the IR value that holds it, its element type and what is known of its shape
/// (null when the rank is unknown). <see cref="Precision"/> is an autocast mark its consumers inherit.
/// </summary>
internal sealed class TensorValue(Value ir, DataType type, Dim[]? shape)
{
    public Value Ir { get; } = ir;
    public DataType Type { get; set; } = type;
    public Dim[]? Shape { get; set; } = shape;
    public int? Rank => Shape?.Length;
    /// <summary>Set on the result of <c>_autocast_to_reduced_precision</c>: the precision its consumers run in.</summary>
    public string? Precision { get; init; }
    /// <summary>For parameters: whether torch saved them with <c>requires_grad</c> (read by scripted fast-path checks).</summary>
    public bool RequiresGrad { get; init; }
    public override string ToString() => $"Tensor %{Ir.Name}";
}

/// <summary>
/// A Python number whose value is known only at run time (a size of a dynamic dimension and arithmetic on it):
/// held by a 0-d IR tensor. <see cref="Dim"/> is the symbolic dimension it equals, when known.
/// </summary>
internal sealed class DynNumber(Value ir, NumberKind kind, Dim dim)
{
    public Value Ir { get; } = ir;
    public NumberKind Kind { get; } = kind;
    public Dim Dim { get; } = dim;
    public DataType IrType => Kind switch { NumberKind.Bool => DataType.Bool, NumberKind.BinaryFloat => DataType.Double, _ => DataType.Int64 };
    public override string ToString() => $"{(Kind == NumberKind.BinaryFloat ? "float" : Kind == NumberKind.Bool ? "bool" : "int")} %{Ir.Name}";
}

/// <summary>A dotted name that is not a value yet: <c>torch</c>, <c>ops.prim</c>, <c>__torch__.torch.nn.functional</c>.</summary>
internal sealed record NamespaceValue(string Path);

/// <summary>A builtin of the TorchScript language (<c>int</c>, <c>len</c>, <c>getattr</c>, <c>annotate</c>, …).</summary>
internal sealed record BuiltinValue(string Name);

/// <summary>A module-level function of the archive's code.</summary>
internal sealed record FunctionValue(FunctionDef Function, string QualifiedName);

/// <summary>A method bound to an object.</summary>
internal sealed record BoundMethod(Pickle.TorchObject Self, FunctionDef Method);

/// <summary>A <c>torch.device</c>.</summary>
internal sealed record DeviceValue(string Name);

/// <summary>The value of <c>uninitialized(T)</c>: a placeholder that must be assigned before use.</summary>
internal sealed record UninitializedValue(string Type);
