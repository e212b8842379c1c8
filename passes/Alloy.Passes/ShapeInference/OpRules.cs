using System.Diagnostics.CodeAnalysis;
using Alloy.IR;

namespace Alloy.Passes.ShapeInference;

/// <summary>
/// Shape and type rules by operator (default ONNX domain), one family per file. A rule reads the operands'
/// types, known values and the attributes from a <see cref="NodeContext"/> and sets the result types (and known
/// values of small integer results). A rule leaves what it cannot derive unknown: a dimension, the shape, or the
/// whole type.
/// </summary>
internal static partial class OpRules
{
    // Built on first use: the op lists of the family files are static fields initialized in an unspecified order.
    private static readonly Lazy<Dictionary<string, Action<NodeContext>>> LazyTable = new(Build);
    private static Dictionary<string, Action<NodeContext>> Table => LazyTable.Value;

    private static Dictionary<string, Action<NodeContext>> Build()
    {
        var t = new Dictionary<string, Action<NodeContext>>(StringComparer.Ordinal);
        AddElementwise(t);
        AddReductions(t);
        AddNormalization(t);
        AddLinearAlgebra(t);
        AddConvolution(t);
        AddRecurrent(t);
        AddShapeOps(t);
        AddIndexing(t);
        AddQuantization(t);
        AddControlFlow(t);
        AddMisc(t);
        AddSequences(t);
        return t;
    }

    public static bool TryGet(string op, [NotNullWhen(true)] out Action<NodeContext>? rule) => Table.TryGetValue(op, out rule);

    /// <summary>Every op with a rule (default domain).</summary>
    public static IEnumerable<string> Ops => Table.Keys.Order(StringComparer.Ordinal);

    /// <summary>Ops whose rule infers the node's subgraphs itself.</summary>
    public static bool InfersSubgraphs(string op) => op is "If" or "Loop" or "Scan" or "SequenceMap";

    // ---- helpers shared by the families ----

    /// <summary>Multidirectional broadcast of the shapes (null when any rank is unknown).</summary>
    public static Shape? Broadcast(IEnumerable<Shape?> shapes)
    {
        var list = shapes.ToList();
        if (list.Count == 0 || list.Any(s => s is null)) return null;
        int rank = list.Max(s => s!.Rank);
        var dims = new Dim[rank];
        for (int k = 0; k < rank; k++) dims[k] = Dim.Of(1);
        foreach (var s in list)
        {
            int offset = rank - s!.Rank;
            for (int k = 0; k < s.Rank; k++) dims[offset + k] = DimMath.Broadcast(dims[offset + k], s[k]);
        }
        return NodeContext.Owned(dims);
    }

    public static Shape? Broadcast(Shape? a, Shape? b)
    {
        if (a is null || b is null) return null;
        if (ReferenceEquals(a, b) || a.Equals(b)) return a;
        int rank = Math.Max(a.Rank, b.Rank);
        var dims = new Dim[rank];
        for (int k = 0; k < rank; k++)
        {
            int i = k - (rank - a.Rank), j = k - (rank - b.Rank);
            dims[k] = i < 0 ? b[j] : j < 0 ? a[i] : DimMath.Broadcast(a[i], b[j]);
        }
        return NodeContext.Owned(dims);
    }

    public static Shape? Broadcast(Shape? a, Shape? b, Shape? c) => Broadcast(Broadcast(a, b), c);

    /// <summary>Normalizes a possibly negative axis; throws when it is out of range.</summary>
    public static int Axis(long axis, int rank)
    {
        long a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= Math.Max(rank, 1)) throw new ArgumentException($"axis {axis} is out of range for rank {rank}");
        return (int)a;
    }

    public static Shape WithDim(Shape s, int axis, Dim d)
    {
        var dims = s.Dims.AsSpan().ToArray();
        dims[axis] = d;
        return new Shape(dims);
    }

    /// <summary>A shape of <paramref name="rank"/> unknown dimensions.</summary>
    public static Shape UnknownShape(int rank) => new(NodeContext.Unknowns(rank));

    /// <summary>A 1-D shape whose length is a known count or unknown.</summary>
    public static Shape Vector(long? length) => new(length is { } n ? Dim.Of(n) : Dim.Unknown);

    /// <summary>Floor division for the integer arithmetic of shape formulas.</summary>
    public static long FloorDiv(long a, long b) => a / b - (a % b != 0 && (a < 0) != (b < 0) ? 1 : 0);

    public static long CeilDiv(long a, long b) => -FloorDiv(-a, b);
}
