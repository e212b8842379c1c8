using System.Text;
using Alloy.IR;
using Alloy.Pipeline;

namespace Alloy.Passes.ShapeInference;

/// <summary>What the engine found, for the pass's statistics.</summary>
internal sealed record InferenceSummary(int ValuesTyped, int ShapesFullyKnown, int Inconsistencies, int WithoutElementType, int NodeResults);

/// <summary>
/// Walks a model's graphs in order and gives every node result a type: element type and shape, symbolic
/// dimensions carried along, small integer tensors followed through shape computations (<see cref="KnownValue"/>).
/// Types already present are kept when they agree with the inferred ones (unknown parts are filled in); a
/// declared type that contradicts the inferred one is kept and reported. Subgraphs of If / Loop / Scan are
/// inferred with their inputs typed from the owning node and their captures typed from the enclosing values.
/// </summary>
internal sealed class ShapeInferenceEngine
{
    private readonly Model _model;
    private readonly bool _strict;
    /// <summary>Known elements of node results, subgraph inputs and captures the rules followed.</summary>
    private readonly Dictionary<Value, KnownValue> _known = [];
    /// <summary>Constants read once (null when not small or not followed).</summary>
    private readonly Dictionary<Value, KnownValue?> _constants = [];
    private readonly List<(DiagnosticSeverity Severity, Node? Node, string Message)> _diagnostics = [];
    private readonly long _opset;
    private int _inconsistencies;
    /// <summary>A node context free for the next node.</summary>
    private NodeContext? _spareContext;
    /// <summary>
    /// Set for a model without subgraphs, where each node result is typed exactly once: the summary is counted as the
    /// results are typed instead of from a snapshot of every type taken before.
    /// </summary>
    private ResultTally? _tally;
    /// <summary>
    /// The tensor types inference gave so far, one object per distinct type: results of the same type share it (types
    /// are immutable and compared by value), so the typed graph holds far fewer objects and later passes reading
    /// types find them in cache.
    /// </summary>
    private readonly Dictionary<TensorType, TensorType> _types = [];

    public ShapeInferenceEngine(Model model, bool strict)
    {
        _model = model;
        _strict = strict;
        _opset = model.DefaultOpset ?? 21;
    }

    public CancellationToken Cancellation { get; init; }

    /// <summary>Infers the main graph (and every subgraph inside it); reports diagnostics to <paramref name="context"/>.</summary>
    public InferenceSummary Run(PassContext context)
    {
        var before = new List<(Value Value, IrType? Type)>();
        bool single = !_model.Graph.SelfAndSubgraphs().Skip(1).Any();
        if (single) _tally = new ResultTally();
        else
            foreach (var g in _model.Graph.SelfAndSubgraphs())
                Snapshot(g, before, nested: false);

        InferGraph(_model.Graph);

        foreach (var (severity, node, message) in _diagnostics)
        {
            switch (severity)
            {
                case DiagnosticSeverity.Error: context.Error(node, message); break;
                case DiagnosticSeverity.Warning: context.Warn(node, message); break;
                default: context.Note(node, message); break;
            }
        }

        var tally = _tally ?? new ResultTally();
        foreach (var (v, old) in before) tally.Count(v, old);
        if (tally.Changed) context.MarkChanged();
        return new InferenceSummary(tally.Typed, tally.Full, _inconsistencies, tally.Untyped, tally.Results);
    }

    /// <summary>What inference did to the values it typed: counts for the pass's statistics.</summary>
    private sealed class ResultTally
    {
        public int Typed, Full, Untyped, Results;
        public bool Changed;

        /// <summary>Counts <paramref name="v"/>, whose type was <paramref name="old"/> before inference and is final now.</summary>
        public void Count(Value v, IrType? old)
        {
            bool differs = !ReferenceEquals(v.Type, old) && !Equals(v.Type, old);
            if (differs) Changed = true;
            if (v.Kind != ValueKind.NodeResult) return;
            Results++;
            if (differs) Typed++;
            if (v.Type is TensorType { Shape.IsFullyKnown: true }) Full++;
            if (v.Type is null || v.Type is TensorType { ElementType: DataType.Undefined }) Untyped++;
        }
    }

    /// <summary>The types of the values a graph defines (inputs, captures, named node results).</summary>
    private static void Snapshot(Graph g, List<(Value, IrType?)> types, bool nested)
    {
        foreach (var v in g.Inputs) types.Add((v, v.Type));
        foreach (var v in g.Captures) types.Add((v, v.Type));
        for (var n = g.FirstNode; n is not null; n = n.Next)
        {
            var outputs = n.Outputs;
            for (int i = 0; i < outputs.Count; i++)
                if (outputs[i] is { Name.Length: > 0 } r) types.Add((r, r.Type));
            if (nested && Precision.FloatFacts.HasSubgraphs(n))
                foreach (var s in n.Subgraphs) Snapshot(s, types, nested: true);
        }
    }

    /// <summary>The type object equal to <paramref name="type"/> that inference already handed out, or <paramref name="type"/> itself.</summary>
    public TensorType Shared(TensorType type)
    {
        if (_types.TryGetValue(type, out var shared)) return shared;
        _types.Add(type, type);
        return type;
    }

    // ---- known values ----

    /// <summary>The known elements of <paramref name="v"/>: a small constant, a capture of a known value, or a result the rules followed.</summary>
    public KnownValue? Known(Value v)
    {
        switch (v.Kind)
        {
            case ValueKind.Constant:
                if (_constants.TryGetValue(v, out var c)) return c;
                c = v.Constant is { } data ? KnownValue.FromConstant(data) : null;
                _constants[v] = c;
                return c;
            case ValueKind.Capture:
                return v.Outer is { } o ? Known(o) : null;
            default:
                return _known.Count > 0 && _known.TryGetValue(v, out var k) ? k : null;
        }
    }

    // ---- graphs ----

    public void InferGraph(Graph g)
    {
        foreach (var c in g.Captures)
        {
            if (c.Outer is not { } outer) continue;
            if (outer.Type is not null) Assign(c, outer.Type, g.OwnerNode, "capture");
        }
        for (var n = g.FirstNode; n is not null; n = n.Next)
        {
            Cancellation.ThrowIfCancellationRequested();
            InferNode(n);
        }
    }

    /// <summary>
    /// Types a subgraph's inputs (keeping declared types that agree) and infers its body. Null entries of
    /// <paramref name="inputTypes"/> leave an input as it is.
    /// </summary>
    public void InferSubgraph(Graph body, IReadOnlyList<IrType?> inputTypes, Node owner)
    {
        for (int i = 0; i < body.Inputs.Count && i < inputTypes.Count; i++)
        {
            _known.Remove(body.Inputs[i]);
            if (inputTypes[i] is { } t) Assign(body.Inputs[i], t, owner, $"subgraph '{body.Name}' input");
        }
        InferGraph(body);
    }

    /// <summary>A point to return to when a subgraph must be inferred again (Loop bodies whose carried shapes change).</summary>
    public (List<(Value, IrType?)> Types, int Diagnostics, int Inconsistencies) Checkpoint(Graph body)
    {
        var types = new List<(Value, IrType?)>();
        Snapshot(body, types, nested: true);
        return (types, _diagnostics.Count, _inconsistencies);
    }

    public void Restore((List<(Value, IrType?)> Types, int Diagnostics, int Inconsistencies) point)
    {
        foreach (var (v, t) in point.Types)
        {
            v.Type = t;
            _known.Remove(v);
        }
        _diagnostics.RemoveRange(point.Diagnostics, _diagnostics.Count - point.Diagnostics);
        _inconsistencies = point.Inconsistencies;
    }

    private void InferNode(Node n)
    {
        // One context serves node after node; a node inferred while another holds it (a subgraph's) gets its own.
        var ctx = _spareContext ?? new NodeContext(this, n, _opset);
        _spareContext = null;
        ctx.Reset(n);
        bool handled = false;
        if (n.IsDefaultDomain && OpRules.TryGet(n.OpType, out var rule))
        {
            handled = true;
            try
            {
                rule(ctx);
            }
            catch (Exception e) when (e is IndexOutOfRangeException or ArgumentException or InvalidOperationException or OverflowException or DivideByZeroException)
            {
                Array.Clear(ctx.Out);
                Array.Clear(ctx.OutKnown);
                _diagnostics.Add((DiagnosticSeverity.Note, n, $"could not infer the result types: {e.Message}"));
            }
        }
        // Bodies of ops without a rule are still inferred from what their inputs declare.
        if (!handled || !OpRules.InfersSubgraphs(n.OpType))
            foreach (var g in n.Subgraphs) InferGraph(g);

        for (int i = 0; i < n.Outputs.Count; i++)
        {
            var r = n.Outputs[i];
            if (!r.HasName) continue;
            if (_known.Count > 0) _known.Remove(r);
            var old = r.Type;
            bool consistent = Assign(r, ctx.Out[i], n, "result");
            _tally?.Count(r, old);
            if (consistent && ctx.OutKnown[i] is { } k && r.Type is TensorType { ElementType: var e } && (e == k.Type || e == DataType.Undefined))
                _known[r] = k;
        }
        _spareContext = ctx;
    }

    // ---- merging inferred and declared types ----

    /// <summary>
    /// Gives <paramref name="v"/> the inferred type, or refines its declared type with it. Returns false (and
    /// reports the node) when the declared type contradicts the inferred one; the declared type then stays.
    /// </summary>
    private bool Assign(Value v, IrType? inferred, Node? node, string what)
    {
        if (inferred is null) return true;
        var declared = v.Type;
        if (declared is null)
        {
            v.Type = inferred;
            return true;
        }
        if (Conflict(declared, inferred) is { } reason)
        {
            _inconsistencies++;
            var message = $"{what} '{v.Name}' is declared {TypeText(declared)} but infers as {TypeText(inferred)} ({reason}); the declared type is kept";
            _diagnostics.Add((_strict ? DiagnosticSeverity.Error : DiagnosticSeverity.Warning, node, message));
            return false;
        }
        var refined = Refine(declared, inferred);
        if (!Equals(refined, declared)) v.Type = refined;
        return true;
    }

    /// <summary>Why <paramref name="declared"/> contradicts <paramref name="inferred"/>, or null when they agree.</summary>
    public static string? Conflict(IrType declared, IrType inferred)
    {
        switch (declared, inferred)
        {
            case (TensorType d, TensorType i):
                if (d.ElementType != DataType.Undefined && i.ElementType != DataType.Undefined && d.ElementType != i.ElementType)
                    return $"element type {d.ElementType.ShortName()} vs {i.ElementType.ShortName()}";
                if (d.Shape is { } ds && i.Shape is { } ish)
                {
                    if (ds.Rank != ish.Rank) return $"rank {ds.Rank} vs {ish.Rank}";
                    for (int k = 0; k < ds.Rank; k++)
                        if (ds[k].Size is { } a && ish[k].Size is { } b && a != b)
                            return $"dimension {k} is {a} vs {b}";
                }
                return null;
            case (SequenceType d, SequenceType i):
                return d.ElementType is { } de && i.ElementType is { } ie ? Conflict(de, ie) : null;
            case (OptionalType d, OptionalType i):
                return d.ElementType is { } oe && i.ElementType is { } oi ? Conflict(oe, oi) : null;
            case (SparseTensorType d, SparseTensorType i):
                return Conflict(new TensorType(d.ElementType, d.Shape), new TensorType(i.ElementType, i.Shape));
            default:
                return declared.GetType() == inferred.GetType() ? null : $"{Kind(declared)} vs {Kind(inferred)}";
        }
    }

    private static string Kind(IrType t) => t switch
    {
        TensorType => "tensor",
        SparseTensorType => "sparse tensor",
        SequenceType => "sequence",
        OptionalType => "optional",
        MapType => "map",
        _ => "opaque",
    };

    /// <summary><paramref name="declared"/> with its unknown parts filled from <paramref name="inferred"/> (the two agree).</summary>
    public static IrType Refine(IrType declared, IrType inferred)
    {
        switch (declared, inferred)
        {
            case (TensorType d, TensorType i):
            {
                var elem = d.ElementType != DataType.Undefined ? d.ElementType : i.ElementType;
                Shape? shape = d.Shape;
                if (shape is null) shape = i.Shape;
                else if (i.Shape is { } ish && ish.Rank == shape.Rank && shape.Dims.Any(x => x.IsUnknown))
                    shape = new Shape((Dim[])[.. shape.Dims.Select((x, k) => x.IsUnknown ? ish[k] : x)]);
                var t = new TensorType(elem, shape);
                return t == d ? d : t;
            }
            case (SequenceType d, SequenceType i):
                return d.ElementType is null ? i : i.ElementType is null ? d : new SequenceType(Refine(d.ElementType, i.ElementType)) is var s && s == d ? d : s;
            case (OptionalType d, OptionalType i):
                return d.ElementType is null ? i : i.ElementType is null ? d : new OptionalType(Refine(d.ElementType, i.ElementType)) is var o && o == d ? d : o;
            default:
                return declared;
        }
    }

    /// <summary>A type as the IR text writes it (<c>f32[N,3,?]</c>).</summary>
    public static string TypeText(IrType? t) => t switch
    {
        null => "?",
        TensorType tt => tt.ElementType.ShortName() + ShapeText(tt.Shape),
        SparseTensorType st => $"sparse<{st.ElementType.ShortName()}{ShapeText(st.Shape)}>",
        SequenceType s => $"seq<{TypeText(s.ElementType)}>",
        OptionalType o => $"opt<{TypeText(o.ElementType)}>",
        MapType m => $"map<{m.KeyType.ShortName()}, {TypeText(m.ValueType)}>",
        OpaqueType o => $"opaque<\"{o.Domain}\", \"{o.Name}\">",
        _ => t.ToString() ?? "?",
    };

    private static string ShapeText(Shape? s)
    {
        if (s is null) return "[*]";
        var b = new StringBuilder("[");
        for (int i = 0; i < s.Rank; i++)
        {
            if (i > 0) b.Append(',');
            b.Append(s[i].ToString());
        }
        return b.Append(']').ToString();
    }
}
