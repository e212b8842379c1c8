using System.Runtime.InteropServices;
using Alloy.IR;
using Alloy.Passes.Precision;
using Alloy.Pipeline;
using static Alloy.Passes.Casts.CastGraph;

namespace Alloy.Passes.Casts;

/// <summary>
/// <c>insert-casts</c>: makes the element types follow the <c>prec</c> annotations. A node that runs bf16/fp16 gets
/// each float operand in the low type (constants converted offline into new initializers, computed values through
/// one Cast per producer output and target type, shared by every consumer) and its float results retyped; a node
/// that runs fp32 gets values that became low precision back through one shared Cast to f32. Existing Casts are
/// retargeted rather than stacked where that is exact. Graph inputs and outputs stay f32 with
/// <c>keep-io-types=true</c>; subgraph boundaries keep the types of the owning node.
/// </summary>
public sealed class InsertCastsPass(bool keepIoTypes = true) : IPass
{
    public const string PassId = "insert-casts";

    public string Id => PassId;
    public string Description => "insert shared Casts and convert constants so element types follow the prec annotations";
    public bool KeepIoTypes { get; } = keepIoTypes;

    public static InsertCastsPass Create(IReadOnlyDictionary<string, string> options)
    {
        var o = new PassOptions(PassId, options);
        var pass = new InsertCastsPass(o.Bool("keep-io-types", true));
        o.RejectUnknown();
        return pass;
    }

    public void Run(Model model, PassContext context) => new InsertCastsRun(model, context, KeepIoTypes).Execute();
}

internal sealed class InsertCastsRun
{
    private readonly Model _model;
    private readonly PassContext _context;
    private readonly bool _keepIo;
    private readonly NameSource _names;
    private readonly Statistic _castsInserted, _constantsConverted, _nodesRetyped, _castsRetargeted, _inputsRetyped, _unknownTypes;

    /// <summary>Cast results by (source value, target type, graph holding the Cast).</summary>
    private readonly Dictionary<(Value, DataType, Graph), Value> _casts = [];
    /// <summary>Converted constants by (source constant, target type).</summary>
    private readonly Dictionary<(Value, DataType), Value> _converted = [];
    /// <summary>Element types of values this pass retyped, before the change.</summary>
    private readonly ValueTable<DataType> _original = new();
    /// <summary>New type objects by the old type object they replaced, so retyped values of one type share one object.</summary>
    private readonly Dictionary<IrType, TensorType> _retyped = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<Node> _inserted = [];
    private readonly Dictionary<Node, Node> _lastInsertedAfter = [];
    private readonly Dictionary<Graph, Node?> _startAnchor = [];
    private readonly HashSet<Node> _bypassed = [];
    /// <summary>Constants converted at least once, in the order first converted, with their first version and the number of versions.</summary>
    private readonly Dictionary<Value, (Value First, int Count)> _replacedConstants = [];
    /// <summary>
    /// Converted constants created without a name, with the name they get unless they take over the original's. In a
    /// model without subgraphs, when that name (<c>{name}_{type}</c>) is free at conversion, it is still free at the
    /// end (no other name this pass makes can equal it), so naming the versions then gives the names naming them at
    /// once would, without the name-table work for the usual weight that every consumer reads converted.
    /// </summary>
    private readonly List<(Value Converted, string Name)> _unnamedConstants = [];

    public InsertCastsRun(Model model, PassContext context, bool keepIo)
    {
        _model = model;
        _context = context;
        _keepIo = keepIo;
        _names = new NameSource(model);
        _castsInserted = context.Statistic("casts-inserted", "Cast nodes inserted (one per producer output, target type and graph)");
        _constantsConverted = context.Statistic("constants-converted", "constants converted offline into new initializers of the low type");
        _nodesRetyped = context.Statistic("nodes-retyped", "nodes whose float results changed element type");
        _castsRetargeted = context.Statistic("casts-retargeted", "existing Casts retargeted or read through instead of stacking a new Cast");
        _inputsRetyped = context.Statistic("inputs-retyped", "graph inputs made low precision (keep-io-types=false)");
        _unknownTypes = context.Statistic("unknown-operand-types", "operands of low-precision nodes left as they are because their type is unknown");
    }

    public void Execute()
    {
        var main = _model.Graph;
        if (!_keepIo) RetypeInputs(main);
        ProcessGraph(main);
        if (_keepIo) RestoreOutputs(main);
        Cleanup();
    }

    // ---- precision of a node ----

    private static DataType? LowType(Node n) => PrecisionAnnotations.PrecisionOf(n) switch
    {
        PrecisionAnnotations.Bf16 => DataType.BFloat16,
        PrecisionAnnotations.Fp16 => DataType.Float16,
        _ => null,
    };

    /// <summary>Ops whose result element type comes from an attribute, not from their float operands: never retyped.</summary>
    private static bool IsAttributeTyped(Node n) =>
        n.IsDefaultDomain && n.OpType is "Constant" or "ConstantOfShape" or "RandomNormal" or "RandomUniform" or "RandomNormalLike"
            or "RandomUniformLike" or "EyeLike" or "Multinomial" or "Bernoulli" or "DequantizeLinear" or "QuantizeLinear"
            or "DynamicQuantizeLinear";

    /// <summary>Operands whose element type does not affect the node's results (no Cast needed when it changes).</summary>
    private static bool IsTypeAgnostic(Node n, int operand) => n.IsDefaultDomain && operand == 0 && n.OpType is "Shape" or "Size";

    /// <summary>True when <paramref name="n"/> runs low precision and its results follow its float operands.</summary>
    private static bool RunsLow(Node n, out DataType low)
    {
        low = LowType(n) ?? DataType.Undefined;
        if (low == DataType.Undefined || IsAttributeTyped(n) || IsCast(n)) return false;
        // If / Loop / Scan are single units whose boundary follows their prec; nodes of other domains with bodies keep theirs.
        return !n.Subgraphs.Any() || IsControlFlow(n);
    }

    private static bool IsControlFlow(Node n) => n.IsDefaultDomain && n.OpType is "If" or "Loop" or "Scan";

    /// <summary>The operand a body input stands for: Loop body input k ≥ 2 is carried operand k; Scan body input k is operand k.</summary>
    private static int OperandOfBodyInput(Node n, int k) => n.OpType switch
    {
        "Loop" when n.IsDefaultDomain && k >= 2 => k,
        "Scan" when n.IsDefaultDomain => k,
        _ => -1,
    };

    /// <summary>The node result a body output becomes: If output k is result k; Loop output k ≥ 1 is result k − 1; Scan output k is result k.</summary>
    private static int ResultOfBodyOutput(Node n, int k) => n.OpType switch
    {
        "If" when n.IsDefaultDomain => k,
        "Loop" when n.IsDefaultDomain && k >= 1 => k - 1,
        "Scan" when n.IsDefaultDomain => k,
        _ => -1,
    };

    private static bool KeepsFp32(Node n, int operand) => PrecisionPolicy.KeepsFp32Operand(n, operand);

    private DataType? OriginalElem(Value v)
    {
        var root = Root(v);
        return _original.TryGetValue(root, out var o) ? o : Elem(root);
    }

    private void Retype(Value v, DataType type)
    {
        var from = Elem(v);
        if (from is null || from == type) return;
        _original.TryAdd(v, from.Value);
        SetElem(v, type, _retyped);
    }

    // ---- graphs and nodes ----

    private void ProcessGraph(Graph g)
    {
        _startAnchor[g] = g.FirstNode;
        // Casts are inserted only before the node being processed (after a producer, or at the start), so the walk
        // follows the live list and sees each original node once.
        for (var n = g.FirstNode; n is not null;)
        {
            var next = n.Next;
            _context.ThrowIfCancelled();
            ProcessNode(n);
            n = next;
        }
    }

    private void ProcessNode(Node n)
    {
        var g = n.Owner!;
        if (IsCast(n))
        {
            ProcessCast(n);
            return;
        }
        if (RunsLow(n, out var low))
        {
            bool follows = IsControlFlow(n);
            for (int i = 0; i < n.Inputs.Count; i++)
            {
                if (n.Inputs[i] is not { } v || IsTypeAgnostic(n, i)) continue;
                var orig = OriginalElem(v);
                if (orig is null)
                {
                    if (Root(v).Type is not (null or TensorType)) continue; // sequences, maps, optionals: not converted
                    _unknownTypes.Add();
                    _context.Warn(n, $"operand {i} '{v.Name}' has no known element type; it is left as it is (run infer-shapes first)");
                    continue;
                }
                if (orig != DataType.Float) continue;
                if (KeepsFp32(n, i))
                {
                    if (Elem(v) != DataType.Float) g.SetOperand(n, i, Obtain(v, DataType.Float, g));
                    continue;
                }
                follows = true;
                if (Elem(v) != low) g.SetOperand(n, i, Obtain(v, low, g));
            }
            if (follows)
            {
                bool retyped = false;
                var outputs = n.Outputs;
                for (int k = 0; k < outputs.Count; k++)
                {
                    var r = outputs[k];
                    if (Elem(r) != DataType.Float) continue;
                    Retype(r, low);
                    retyped = true;
                }
                if (retyped) _nodesRetyped.Add();
            }
        }
        else
        {
            for (int i = 0; i < n.Inputs.Count; i++)
            {
                if (n.Inputs[i] is not { } v || IsTypeAgnostic(n, i)) continue;
                if (OriginalElem(v) is { } orig && Elem(v) is { } now && now != orig)
                    g.SetOperand(n, i, Obtain(v, orig, g));
            }
        }

        foreach (var body in n.Subgraphs)
        {
            // Body inputs take the type of the operand they stand for; body outputs must have the node result's type.
            for (int k = 0; k < body.Inputs.Count; k++)
            {
                int o = OperandOfBodyInput(n, k);
                if (o >= 0 && o < n.Inputs.Count && Elem(n.Inputs[o]) is { } want && Elem(body.Inputs[k]) is { } have
                    && want != have && IsFloat(want) && IsFloat(have))
                    Retype(body.Inputs[k], want);
            }
            var required = body.Outputs.Select(OriginalElem).ToList();
            for (int k = 0; k < required.Count; k++)
            {
                int r = ResultOfBodyOutput(n, k);
                if (r >= 0 && r < n.Outputs.Count) required[k] = Elem(n.Outputs[r]);
            }
            ProcessGraph(body);
            for (int i = 0; i < body.Outputs.Count; i++)
            {
                var v = body.Outputs[i];
                if (required[i] is { } want && Elem(v) is { } now && now != want && IsFloat(now) && IsFloat(want))
                    body.SetOutput(i, Obtain(v, want, body));
            }
        }
    }

    private static bool IsFloat(DataType t) => t.Facts().IsFloat;

    /// <summary>
    /// A Cast reads its operand in any type. When that operand became low precision, the Cast reads it directly
    /// (exact: the old type represents the new one). A Cast to f32 that itself runs low precision is retargeted
    /// to the low type when that equals casting to f32 and then to the low type.
    /// </summary>
    private void ProcessCast(Node n)
    {
        var g = n.Owner!;
        if (n.Inputs[0] is not { } v) return;
        var low = LowType(n);
        var now = Elem(v);
        if (OriginalElem(v) is { } orig && now is { } cur && cur != orig)
        {
            if (orig.RepresentsExactly(cur)) _castsRetargeted.Add();
            else g.SetOperand(n, 0, Obtain(v, orig, g));
        }
        now = Elem(n.Inputs[0]);
        if (low is { } l && CastTarget(n) == DataType.Float && now is { } source && DataType.Float.RepresentsExactly(source)
            && Elem(n.Outputs[0]) == DataType.Float)
        {
            n.SetAttribute(Attr.Int("to", (long)l));
            Retype(n.Outputs[0], l);
            _castsRetargeted.Add();
            _nodesRetyped.Add();
        }
    }

    // ---- obtaining a value in a type ----

    /// <summary>A value of type <paramref name="type"/> holding <paramref name="v"/>'s values, usable in graph <paramref name="g"/>.</summary>
    private Value Obtain(Value v, DataType type, Graph g)
    {
        var root = Root(v);
        if (Elem(root) == type) return root;

        // Read through a Cast that kept every value (x → Cast(B) with B representing x's type): cast x instead.
        if (root.Producer is { } m && IsCast(m) && m.Inputs[0] is { } source && Elem(source) is { } se
            && Elem(root) is { } re && re.RepresentsExactly(se))
        {
            _castsRetargeted.Add();
            _bypassed.Add(m);
            return Obtain(source, type, g);
        }

        if (ConstantConversion.ConstantData(root) is { } data && (root.Kind == ValueKind.Constant || root.Producer is not null))
        {
            if (_converted.TryGetValue((root, type), out var done)) return done;
            if (ConstantConversion.TryConvert(data, type, out var converted, out var reason, out long overflowed))
            {
                if (overflowed > 0)
                    _context.Warn(root.Producer, $"constant '{root.Name}': {overflowed} value(s) beyond the range of {type.ShortName()} become infinity");
                var owner = root.Owner;
                var hint = $"{root.Name}_{type.ShortName()}";
                Value k;
                if (_names.SingleScope && owner.FindLocal(hint) is null)
                {
                    k = owner.AddConstant("", converted!);
                    _unnamedConstants.Add((k, hint));
                }
                else k = owner.AddConstant(_names.Fresh(owner, hint), converted!);
                _converted[(root, type)] = k;
                ref var versions = ref CollectionsMarshal.GetValueRefOrAddDefault(_replacedConstants, root, out bool known);
                versions = known ? (versions.First, versions.Count + 1) : (k, 1);
                _constantsConverted.Add();
                return k;
            }
            _context.Error(root.Producer, $"constant '{root.Name}' cannot be converted to {type.ShortName()} offline: {reason}");
            return root;
        }

        for (var s = g; s is not null; s = s.Parent)
        {
            if (_casts.TryGetValue((root, type, s), out var existing)) return existing;
            if (s == root.Owner) break;
        }

        // A value of this graph is cast right after its producer (or at the start); a captured value inside this body.
        Node? anchor;
        if (root.Owner == g && root.Producer is { } p)
        {
            var last = _lastInsertedAfter.GetValueOrDefault(p, p);
            anchor = last.Next;
        }
        else anchor = _startAnchor.GetValueOrDefault(g, g.FirstNode);
        var name = _names.Fresh(g, $"{root.Name}_{type.ShortName()}");
        var cast = g.AddNode(CastOp, [root], [name], before: anchor, attributes: [Attr.Int("to", (long)type)]);
        cast.Outputs[0].Type = new TensorType(type, (root.Type as TensorType)?.Shape);
        if (root.Owner == g && root.Producer is { } producer) _lastInsertedAfter[producer] = cast;
        _inserted.Add(cast);
        _castsInserted.Add();
        _casts[(root, type, g)] = cast.Outputs[0];
        return cast.Outputs[0];
    }

    // ---- graph inputs and outputs ----

    /// <summary>keep-io-types=false: an f32 input whose every use is a float operand of nodes running the same low type becomes that type.</summary>
    private void RetypeInputs(Graph g)
    {
        foreach (var x in g.Inputs)
        {
            if (x.Constant is not null || Elem(x) != DataType.Float || !x.HasUses) continue;
            DataType? want = null;
            bool ok = true;
            foreach (var u in x.Uses)
            {
                if (u.Kind != UseKind.Operand || u.User is not { } user) { ok = false; break; }
                if (IsTypeAgnostic(user, u.Index)) continue;
                if (!RunsLow(user, out var low) || KeepsFp32(user, u.Index) || (want is { } w && w != low)) { ok = false; break; }
                want = low;
            }
            if (!ok || want is not { } t) continue;
            Retype(x, t);
            _inputsRetyped.Add();
        }
    }

    /// <summary>keep-io-types=true: outputs of the main graph that became low precision go back to their type through a Cast that takes over the output's name.</summary>
    private void RestoreOutputs(Graph g)
    {
        var done = new Dictionary<Value, Value>();
        for (int i = 0; i < g.Outputs.Count; i++)
        {
            var v = g.Outputs[i];
            if (done.TryGetValue(v, out var c))
            {
                g.SetOutput(i, c);
                continue;
            }
            if (v.Owner != g || !_original.TryGetValue(v, out var orig) || Elem(v) == orig) continue;
            var name = v.Name;
            g.Rename(v, _names.Fresh(g, $"{name}_{Elem(v)!.Value.ShortName()}"));
            if (_casts.TryGetValue((v, orig, g), out var shared) && !IsGraphOutput(shared))
            {
                g.Rename(shared, name);
                c = shared;
            }
            else
            {
                var anchor = v.Producer is { } p ? _lastInsertedAfter.GetValueOrDefault(p, p).Next : _startAnchor.GetValueOrDefault(g, g.FirstNode);
                var cast = g.AddNode(CastOp, [v], [name], before: anchor, attributes: [Attr.Int("to", (long)orig)]);
                cast.Outputs[0].Type = new TensorType(orig, (v.Type as TensorType)?.Shape);
                if (v.Producer is { } producer) _lastInsertedAfter[producer] = cast;
                _inserted.Add(cast);
                _castsInserted.Add();
                _casts.TryAdd((v, orig, g), cast.Outputs[0]);
                c = cast.Outputs[0];
            }
            done[v] = c;
            g.SetOutput(i, c);
        }
    }

    // ---- cleanup ----

    /// <summary>Erases Casts read through that have no uses left, and constants every consumer now reads converted.</summary>
    private void Cleanup()
    {
        if (_castsInserted.Value > 0 || _constantsConverted.Value > 0 || _nodesRetyped.Value > 0 || _inputsRetyped.Value > 0
            || _castsRetargeted.Value > 0 || _original.Count > 0)
            _context.MarkChanged();

        var pending = new Stack<Node>(_bypassed);
        while (pending.TryPop(out var m))
        {
            if (m.Owner is not { } g || m.Outputs.Any(r => r.HasUses)) continue;
            var input = m.Inputs[0];
            g.Erase(m);
            _context.MarkChanged();
            if (input?.Producer is { } p && IsCast(p)) pending.Push(p);
        }

        foreach (var (c, (first, count)) in _replacedConstants)
        {
            if (c.Kind == ValueKind.Constant && count == 1 && first.Owner == c.Owner && c.HasUses && c.Uses.All(IsDeadCapture))
            {
                // Bodies still list the f32 constant as a capture nothing reads: let those captures stand for the
                // converted constant instead, so the f32 copy can go.
                c.Owner.ReplaceAllUsesWith(c, first);
                SetElem(first, Elem(first)!.Value);
            }
            if (c.HasUses) continue;
            if (c.Kind == ValueKind.Constant)
            {
                var g = c.Owner;
                var name = c.Name;
                g.RemoveConstant(c);
                // With one converted version left, it takes over the original name (weights keep their names).
                if (count == 1 && first.Owner == g) g.Rename(first, name);
            }
            else if (c.Producer is { } p && p.Owner is { } owner && !p.Outputs.Any(r => r.HasUses))
            {
                owner.Erase(p);
            }
        }

        foreach (var (k, name) in _unnamedConstants)
            if (k.Name.Length == 0) k.Owner.Rename(k, _names.Fresh(k.Owner, name));
    }

    /// <summary>A capture use whose stand-in nothing reads (except further captures nothing reads).</summary>
    private static bool IsDeadCapture(Use use) =>
        use is { Kind: UseKind.Capture, Graph: { } g } && g.Captures[use.Index].Uses.All(IsDeadCapture);
}
