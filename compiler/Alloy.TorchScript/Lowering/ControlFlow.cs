using Alloy.IR;
using Alloy.TorchScript.Script;

namespace Alloy.TorchScript.Lowering;

/// <summary>Control flow whose condition or trip count is known only at run time: ONNX If and Loop.</summary>
internal sealed partial class Lowerer
{
    private const string ReturnSlot = "$return";

    private Value Condition(object cond)
    {
        switch (cond)
        {
            case TensorValue t:
                return ScalarOf(CastTo(t, DataType.Bool));
            case DynNumber n:
                return n.Kind == NumberKind.Bool ? n.Ir : _b.Emit("Cast", [n.Ir], [Attr.Int("to", (long)DataType.Bool)], DataType.Bool, []).Ir;
            default:
                throw Fail($"condition {Describe(cond)} is not a run-time value");
        }
    }

    /// <summary>A lowering value as a value local to the current graph (numbers become constants; outer values pass through Identity).</summary>
    private Value LocalValue(object? v, DataType? type)
    {
        Value value = v switch
        {
            TensorValue t => type is { } tt ? CastTo(t, tt).Ir : t.Ir,
            long or double or bool or DynNumber => NumberAs(v, type ?? (v is double ? DataType.Double : v is bool ? DataType.Bool : DataType.Int64)),
            _ => throw Fail($"{Describe(v)} cannot flow out of data-dependent control flow"),
        };
        if (value.Owner != _b.Current || value.Kind != ValueKind.NodeResult)
            value = _b.Emit("Identity", [value], null, (value.Type as TensorType)?.ElementType ?? DataType.Float, (value.Type as TensorType)?.Shape?.Dims.ToArray()).Ir;
        return value;
    }

    private static DataType TypeOfValue(object? v) => v switch
    {
        TensorValue t => t.Type,
        double => DataType.Double,
        bool => DataType.Bool,
        DynNumber n => n.IrType,
        _ => DataType.Int64,
    };

    private static object? Merge(object? a, object? b, Value result)
    {
        if (a is TensorValue ta)
        {
            var sb = (b as TensorValue)?.Shape;
            Dim[]? shape = ta.Shape is { } sa && sb is not null && sa.Length == sb.Length ? sa.Select((d, i) => d.Equals(sb[i]) ? d : Dim.Unknown).ToArray() : null;
            result.Type = GraphBuilder.TypeOf(ta.Type, shape);
            return new TensorValue(result, ta.Type, shape);
        }
        var type = TypeOfValue(a);
        result.Type = GraphBuilder.TypeOf(type, []);
        return new DynNumber(result, type == DataType.Double ? NumberKind.BinaryFloat : type == DataType.Bool ? NumberKind.Bool : NumberKind.SignedInteger, Dim.Unknown);
    }

    private Flow EmitIf(IfStmt s, object cond, Dictionary<string, object?> frame)
    {
        var c = Condition(cond);
        var parent = _b.Current;
        (Graph, Dictionary<string, object?>) Branch(IReadOnlyList<Stmt> body, string name)
        {
            var g = new Graph(_b.Name(name), parent);
            var copy = new Dictionary<string, object?>(frame, StringComparer.Ordinal);
            _b.Current = g;
            try
            {
                var flow = ExecBlock(body, copy);
                if (flow.Kind == FlowKind.Return) copy[ReturnSlot] = flow.Value;
                else if (flow.Kind != FlowKind.Normal) throw Fail("break / continue inside a data-dependent if is not supported");
            }
            finally
            {
                _b.Current = parent;
            }
            return (g, copy);
        }
        var (thenGraph, thenFrame) = Branch(s.Then, "then");
        var (elseGraph, elseFrame) = Branch(s.Else, "else");
        _line = s.Line;
        if (thenFrame.ContainsKey(ReturnSlot) != elseFrame.ContainsKey(ReturnSlot))
            throw Fail("a data-dependent if where only one branch returns is not supported");

        var names = new List<string>();
        foreach (var k in thenFrame.Keys.Union(elseFrame.Keys).Order(StringComparer.Ordinal))
        {
            if (!thenFrame.TryGetValue(k, out var tv) || !elseFrame.TryGetValue(k, out var ev)) continue;
            frame.TryGetValue(k, out var before);
            bool changed = !ReferenceEquals(tv, before) || !ReferenceEquals(ev, before);
            if (!changed) continue;
            if (Equals(tv, ev) && tv is not (TensorValue or DynNumber)) { frame[k] = tv; continue; }
            if (!(tv is TensorValue or DynNumber or long or double or bool) || !(ev is TensorValue or DynNumber or long or double or bool))
            {
                if (k == ReturnSlot) throw Fail("a data-dependent if that returns non-tensor values is not supported");
                continue; // differs but not a value IR can carry: unusable after the if
            }
            names.Add(k);
        }
        var outputsThen = new List<Value>();
        var outputsElse = new List<Value>();
        foreach (var k in names)
        {
            var type = thenFrame[k] is TensorValue t1 ? t1.Type : elseFrame[k] is TensorValue t2 ? t2.Type : ScalarTypes.Promote(TypeOfValue(thenFrame[k]), TypeOfValue(elseFrame[k]));
            _b.Current = thenGraph;
            outputsThen.Add(LocalValue(thenFrame[k], type));
            _b.Current = elseGraph;
            outputsElse.Add(LocalValue(elseFrame[k], type));
            _b.Current = parent;
        }
        foreach (var v in outputsThen) thenGraph.AddOutput(v);
        foreach (var v in outputsElse) elseGraph.AddOutput(v);
        var node = _b.EmitMulti("If", [c], [new Attr("then_branch", new GraphAttr(thenGraph)), new Attr("else_branch", new GraphAttr(elseGraph))], names.Count);
        for (int i = 0; i < names.Count; i++)
            frame[names[i]] = Merge(thenFrame[names[i]], elseFrame[names[i]], node.Outputs[i]);
        if (frame.Remove(ReturnSlot, out var returned)) return new Flow(FlowKind.Return, returned);
        return Flow.Normal;
    }

    /// <summary>Names a block assigns (targets of assignments, loop variables), nested blocks included.</summary>
    private static void AssignedNames(IReadOnlyList<Stmt> block, HashSet<string> names)
    {
        static void Targets(Expr e, HashSet<string> names)
        {
            if (e is NameExpr n) names.Add(n.Id);
            else if (e is TupleExpr t) foreach (var x in t.Items) Targets(x, names);
            else if (e is ListExpr l) foreach (var x in l.Items) Targets(x, names);
        }
        foreach (var s in block)
        {
            switch (s)
            {
                case AssignStmt a: foreach (var t in a.Targets) Targets(t, names); break;
                case AugAssignStmt a: Targets(a.Target, names); break;
                case AnnotatedAssignStmt a: Targets(a.Target, names); break;
                case IfStmt i: AssignedNames(i.Then, names); AssignedNames(i.Else, names); break;
                case ForStmt f: Targets(f.Target, names); AssignedNames(f.Body, names); break;
                case WhileStmt w: AssignedNames(w.Body, names); break;
            }
        }
    }

    private Flow EmitLoop(ForStmt f, RangeValue range, Dictionary<string, object?> frame)
    {
        if (range.Start is not 0L || range.Step is not 1L) throw Fail("a loop over range(start, stop, step) with a run-time bound needs start 0 and step 1");
        if (f.Target is not NameExpr loopVar) throw Fail("a run-time loop needs a single loop variable");
        var trip = NumberAs(range.Stop, DataType.Int64);
        var assigned = new HashSet<string>(StringComparer.Ordinal);
        AssignedNames(f.Body, assigned);
        var carried = assigned.Where(n => n != loopVar.Id && frame.TryGetValue(n, out var v) && v is TensorValue or DynNumber or long or double or bool)
            .Order(StringComparer.Ordinal).ToList();

        var parent = _b.Current;
        var body = new Graph(_b.Name("loop_body"), parent);
        var iter = body.AddInput(_b.Name("iter"), GraphBuilder.TypeOf(DataType.Int64, []));
        var condIn = body.AddInput(_b.Name("cond"), GraphBuilder.TypeOf(DataType.Bool, []));
        var copy = new Dictionary<string, object?>(frame, StringComparer.Ordinal) { [loopVar.Id] = new DynNumber(iter, NumberKind.SignedInteger, Dim.Unknown) };
        var initial = new List<Value?> { trip, null };
        var types = new List<DataType>();
        foreach (var name in carried)
        {
            var v = frame[name];
            var type = TypeOfValue(v);
            types.Add(type);
            initial.Add(v is TensorValue t ? t.Ir : NumberAs(v, type));
            var input = body.AddInput(_b.Name(name), v is TensorValue tv ? GraphBuilder.TypeOf(type, null) : GraphBuilder.TypeOf(type, []));
            copy[name] = v is TensorValue tv2 ? new TensorValue(input, type, tv2.Rank is { } r ? Enumerable.Repeat(Dim.Unknown, r).ToArray() : null)
                : new DynNumber(input, type == DataType.Double ? NumberKind.BinaryFloat : type == DataType.Bool ? NumberKind.Bool : NumberKind.SignedInteger, Dim.Unknown);
        }
        _b.Current = body;
        try
        {
            var flow = ExecBlock(f.Body, copy);
            if (flow.Kind != FlowKind.Normal) throw Fail("return / break / continue inside a loop with a run-time trip count is not supported");
            body.AddOutput(_b.Emit("Identity", [condIn], null, DataType.Bool, []).Ir);
            for (int i = 0; i < carried.Count; i++) body.AddOutput(LocalValue(copy[carried[i]], types[i]));
        }
        finally
        {
            _b.Current = parent;
        }
        _line = f.Line;
        var node = _b.EmitMulti("Loop", initial, [new Attr("body", new GraphAttr(body))], carried.Count);
        for (int i = 0; i < carried.Count; i++)
            frame[carried[i]] = Merge(frame[carried[i]], frame[carried[i]], node.Outputs[i]);
        return Flow.Normal;
    }

    private Flow EmitWhile(WhileStmt w, object cond, Dictionary<string, object?> frame) =>
        throw Fail($"a while loop whose condition ({Describe(cond)}) is known only at run time is not supported");
}
