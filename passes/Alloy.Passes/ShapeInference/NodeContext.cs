using System.Collections.Immutable;
using System.Runtime.InteropServices;
using Alloy.IR;

namespace Alloy.Passes.ShapeInference;

/// <summary>What a shape rule sees of one node: operand types and known values, attributes, the opset, and the
/// result types it infers.</summary>
internal sealed class NodeContext
{
    public NodeContext(ShapeInferenceEngine engine, Node node, long opset)
    {
        Engine = engine;
        Opset = opset;
        Node = node;
        Out = new IrType?[node.Outputs.Count];
        OutKnown = new KnownValue?[node.Outputs.Count];
    }

    /// <summary>Makes this context the one of <paramref name="node"/> (the engine reuses a context from node to node).</summary>
    public void Reset(Node node)
    {
        Node = node;
        int results = node.Outputs.Count;
        if (Out.Length != results)
        {
            Out = new IrType?[results];
            OutKnown = new KnownValue?[results];
        }
        else
        {
            Array.Clear(Out);
            Array.Clear(OutKnown);
        }
    }

    public ShapeInferenceEngine Engine { get; }
    public Node Node { get; private set; }
    /// <summary>The default-domain opset the model imports.</summary>
    public long Opset { get; }
    public IrType?[] Out { get; private set; }
    public KnownValue?[] OutKnown { get; private set; }

    public int InputCount => Node.Inputs.Count;
    public int OutputCount => Node.Outputs.Count;

    // ---- operands ----

    public bool Has(int i) => i < Node.Inputs.Count && Node.Inputs[i] is not null;
    public IrType? InType(int i) => Has(i) ? Node.Inputs[i]!.Type : null;
    public TensorType? In(int i) => InType(i) as TensorType;
    public DataType Elem(int i) => In(i)?.ElementType ?? DataType.Undefined;
    public Shape? ShapeOf(int i) => In(i)?.Shape;
    public int? RankOf(int i) => In(i)?.Shape?.Rank;
    public KnownValue? Known(int i) => Has(i) ? Engine.Known(Node.Inputs[i]!) : null;
    /// <summary>Every element of operand <paramref name="i"/> as a number, when all are known.</summary>
    public long[]? KnownInts(int i) => Known(i)?.AllInts();

    /// <summary>The element type of operand <paramref name="a"/> when known, else of <paramref name="b"/>.</summary>
    public DataType FirstElem(int a, int b) => Elem(a) is var e && e != DataType.Undefined ? e : Elem(b);

    /// <summary>The first operand element type that is known, among <paramref name="inputs"/>.</summary>
    public DataType FirstElem(params int[] inputs)
    {
        foreach (var i in inputs)
            if (Elem(i) is var e && e != DataType.Undefined) return e;
        return DataType.Undefined;
    }

    // ---- results ----

    public void Set(int i, DataType elem, Shape? shape)
    {
        if (i >= Out.Length) return;
        Out[i] = elem == DataType.Undefined && shape is null ? null : OperandTypeEqualTo(elem, shape) ?? Engine.Shared(new TensorType(elem, shape));
    }

    /// <summary>
    /// An operand's type equal to (<paramref name="elem"/>, <paramref name="shape"/>), shared instead of a new equal
    /// one (types are immutable and compared by value): elementwise ops and most others give results of an operand's type.
    /// </summary>
    private TensorType? OperandTypeEqualTo(DataType elem, Shape? shape)
    {
        var inputs = Node.Inputs;
        for (int k = 0; k < inputs.Count; k++)
        {
            if (inputs[k]?.Type is TensorType t && t.ElementType == elem
                && (ReferenceEquals(t.Shape, shape) || (t.Shape is { } have && shape is not null && have.Rank == shape.Rank && have.Equals(shape))))
                return t;
        }
        return null;
    }

    public void SetDims(int i, DataType elem, IEnumerable<Dim> dims) => Set(i, elem, Owned(dims.ToArray()));

    public void SetType(int i, IrType? type)
    {
        if (i < Out.Length) Out[i] = type;
    }

    /// <summary>Records a known value for result <paramref name="i"/>; its type follows from it when none was set.</summary>
    public void SetKnown(int i, KnownValue? value)
    {
        if (i >= Out.Length || value is null) return;
        OutKnown[i] = value;
        Out[i] ??= value.TensorType;
    }

    /// <summary>Result <paramref name="i"/> has the type of operand <paramref name="input"/>.</summary>
    public void SameAs(int i, int input) => SetType(i, InType(input));

    // ---- attributes ----

    public Attr? Attribute(string name) => Node.FindAttribute(name);
    public bool HasAttr(string name) => Node.FindAttribute(name) is not null;
    public long Int(string name, long fallback) => Node.FindAttribute(name)?.Value is IntAttr i ? i.Value : fallback;
    public long? IntOrNull(string name) => Node.FindAttribute(name)?.Value is IntAttr i ? i.Value : null;
    public float Float(string name, float fallback) => Node.FindAttribute(name)?.Value switch
    {
        FloatAttr f => f.Value,
        IntAttr i => i.Value,
        _ => fallback,
    };
    public string Str(string name, string fallback) => Node.FindAttribute(name)?.Value is StringAttr s ? s.Value : fallback;
    public long[]? Ints(string name) => Node.FindAttribute(name)?.Value switch
    {
        IntsAttr i => [.. i.Value],
        IntAttr i => [i.Value],
        _ => null,
    };
    public float[]? Floats(string name) => Node.FindAttribute(name)?.Value switch
    {
        FloatsAttr f => [.. f.Value],
        FloatAttr f => [f.Value],
        _ => null,
    };
    public TensorConstant? Tensor(string name) => Node.FindAttribute(name)?.Value is TensorAttr t ? t.Value : null;
    public Graph? GraphAttr(string name) => Node.FindAttribute(name)?.Value is GraphAttr g ? g.Value : null;

    /// <summary>An ONNX element type code from attribute <paramref name="name"/>, or <paramref name="fallback"/>.</summary>
    public DataType TypeAttr(string name, DataType fallback)
    {
        var code = IntOrNull(name);
        return code is { } c && c > 0 && DataTypes.IsKnown((int)c) ? (DataType)(int)c : fallback;
    }

    public static Shape MakeShape(IEnumerable<Dim> dims) => Owned(dims.ToArray());

    /// <summary>A shape over <paramref name="dims"/> without copying; the caller gives up the array.</summary>
    public static Shape Owned(Dim[] dims) => new(ImmutableCollectionsMarshal.AsImmutableArray(dims));
    public static ImmutableArray<Dim> Unknowns(int n) => [.. Enumerable.Repeat(Dim.Unknown, n)];
}
