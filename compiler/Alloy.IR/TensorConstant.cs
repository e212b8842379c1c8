using System.Collections.Immutable;
using System.Runtime.InteropServices;

namespace Alloy.IR;

/// <summary>A constant tensor: element type, dimensions and bytes (initializers and tensor attributes).</summary>
public sealed class TensorConstant
{
    public TensorConstant(DataType elementType, ImmutableArray<long> dims, TensorData data)
    {
        ElementType = elementType;
        Dims = dims.IsDefault ? ImmutableArray<long>.Empty : dims;
        Data = data;
    }

    public DataType ElementType { get; }
    public ImmutableArray<long> Dims { get; }
    public TensorData Data { get; }

    /// <summary>The tensor's own name inside an attribute (initializers are named by their value).</summary>
    public string? Name { get; init; }
    public string? DocString { get; init; }
    public IReadOnlyList<KeyValuePair<string, string>> Metadata { get; init; } = [];

    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (var d in Dims) n *= d;
            return n;
        }
    }

    public TensorType Type => new(ElementType, ShapeOf(Dims));

    /// <summary>The shape of known dimensions <paramref name="dims"/> (one array, no enumerators).</summary>
    internal static Shape ShapeOf(ImmutableArray<long> dims)
    {
        if (dims.IsEmpty) return Shape.Scalar;
        var sizes = new Dim[dims.Length];
        for (int i = 0; i < sizes.Length; i++) sizes[i] = Dim.Of(dims[i]);
        return new Shape(ImmutableCollectionsMarshal.AsImmutableArray(sizes));
    }
}

/// <summary>A sparse constant in ONNX's COO form: values, indices and the dense shape.</summary>
public sealed class SparseTensorConstant(TensorConstant values, TensorConstant indices, ImmutableArray<long> dims)
{
    public TensorConstant Values { get; } = values;
    public TensorConstant Indices { get; } = indices;
    public ImmutableArray<long> Dims { get; } = dims.IsDefault ? ImmutableArray<long>.Empty : dims;
    public SparseTensorType Type => new(Values.ElementType, TensorConstant.ShapeOf(Dims));
}
