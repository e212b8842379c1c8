namespace Alloy.IR;

/// <summary>The type of a value: a tensor, a sparse tensor, or a sequence, optional or map of types.</summary>
public abstract record IrType;

/// <summary>A dense tensor. <see cref="Shape"/> is null when the rank is unknown.</summary>
public sealed record TensorType(DataType ElementType, Shape? Shape) : IrType
{
    public int? Rank => Shape?.Rank;
}

public sealed record SparseTensorType(DataType ElementType, Shape? Shape) : IrType;

/// <summary>A sequence of values; <see cref="ElementType"/> null when unknown.</summary>
public sealed record SequenceType(IrType? ElementType) : IrType;

public sealed record OptionalType(IrType? ElementType) : IrType;

public sealed record MapType(DataType KeyType, IrType? ValueType) : IrType;

/// <summary>An opaque type named by domain and name (ONNX-ML).</summary>
public sealed record OpaqueType(string Domain, string Name) : IrType;
