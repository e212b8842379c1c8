using System.Collections.Immutable;

namespace Alloy.IR;

/// <summary>The kinds of attribute value (ONNX <c>AttributeProto.AttributeType</c> codes).</summary>
public enum AttrKind
{
    Undefined = 0,
    Float = 1,
    Int = 2,
    String = 3,
    Tensor = 4,
    Graph = 5,
    Floats = 6,
    Ints = 7,
    Strings = 8,
    Tensors = 9,
    Graphs = 10,
    SparseTensor = 11,
    SparseTensors = 12,
    TypeProto = 13,
    TypeProtos = 14,
}

/// <summary>A named attribute of a node. <see cref="RefName"/> is set inside function bodies for attributes
/// that refer to an attribute of the calling node.</summary>
public sealed record Attr(string Name, AttrValue Value)
{
    public string? DocString { get; init; }

    public AttrKind Kind => Value.Kind;

    public static Attr Int(string name, long v) => new(name, new IntAttr(v));
    public static Attr Float(string name, float v) => new(name, new FloatAttr(v));
    public static Attr String(string name, string v) => new(name, new StringAttr(v));
    public static Attr Ints(string name, params long[] v) => new(name, new IntsAttr([.. v]));
    public static Attr Floats(string name, params float[] v) => new(name, new FloatsAttr([.. v]));
}

public abstract record AttrValue
{
    public abstract AttrKind Kind { get; }
}

public sealed record IntAttr(long Value) : AttrValue { public override AttrKind Kind => AttrKind.Int; }
public sealed record FloatAttr(float Value) : AttrValue { public override AttrKind Kind => AttrKind.Float; }
public sealed record StringAttr(string Value) : AttrValue { public override AttrKind Kind => AttrKind.String; }
public sealed record TensorAttr(TensorConstant Value) : AttrValue { public override AttrKind Kind => AttrKind.Tensor; }
public sealed record SparseTensorAttr(SparseTensorConstant Value) : AttrValue { public override AttrKind Kind => AttrKind.SparseTensor; }
public sealed record GraphAttr(Graph Value) : AttrValue { public override AttrKind Kind => AttrKind.Graph; }
public sealed record TypeAttr(IrType? Value) : AttrValue { public override AttrKind Kind => AttrKind.TypeProto; }
public sealed record IntsAttr(ImmutableArray<long> Value) : AttrValue { public override AttrKind Kind => AttrKind.Ints; }
public sealed record FloatsAttr(ImmutableArray<float> Value) : AttrValue { public override AttrKind Kind => AttrKind.Floats; }
public sealed record StringsAttr(ImmutableArray<string> Value) : AttrValue { public override AttrKind Kind => AttrKind.Strings; }
public sealed record TensorsAttr(ImmutableArray<TensorConstant> Value) : AttrValue { public override AttrKind Kind => AttrKind.Tensors; }
public sealed record SparseTensorsAttr(ImmutableArray<SparseTensorConstant> Value) : AttrValue { public override AttrKind Kind => AttrKind.SparseTensors; }
public sealed record GraphsAttr(ImmutableArray<Graph> Value) : AttrValue { public override AttrKind Kind => AttrKind.Graphs; }
public sealed record TypesAttr(ImmutableArray<IrType?> Value) : AttrValue { public override AttrKind Kind => AttrKind.TypeProtos; }

/// <summary>Inside a function body: the value is the calling node's attribute <see cref="RefName"/>.</summary>
public sealed record RefAttr(string RefName, AttrKind RefKind) : AttrValue { public override AttrKind Kind => RefKind; }
