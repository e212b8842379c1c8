using Alloy.IR;
using Alloy.TorchScript.Archive;
using Alloy.TorchScript.Pickle;
using Alloy.TorchScript.Script;

namespace Alloy.TorchScript.Lowering;

/// <summary>
/// Lowers a TorchScript module to IR by evaluating its code: Python values (ints, lists, modules, the
/// <c>training</c> flag, <c>Final</c> constants) are folded while lowering; tensors become IR values, and the
/// <c>torch.*</c> / <c>ops.*</c> calls on them become IR nodes. Submodule calls are inlined, parameters and buffers
/// become constants, and control flow that depends on run-time data becomes If / Loop.
/// </summary>
internal sealed partial class Lowerer
{
    private const int MaxCallDepth = 256;
    private const int MaxUnroll = 1 << 16;

    private readonly TorchArchive _archive;
    private readonly CodeTable _code;
    private readonly GraphBuilder _b;
    private readonly object?[] _constants;
    private readonly Dictionary<TorchTensor, TensorValue> _params = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<object, string> _paths = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<string, TensorData> _storages = new(StringComparer.Ordinal);
    private readonly Dictionary<(Value, int), DynNumber> _sizes = [];
    private string? _file;
    private int _line;
    private int _depth;

    public Lowerer(TorchArchive archive, CodeTable code, Graph graph, object?[] constants)
    {
        _archive = archive;
        _code = code;
        _b = new GraphBuilder(graph);
        _constants = constants;
    }

    public GraphBuilder Builder => _b;

    public Exception Fail(string reason) => new TorchScriptException(_archive.Path, _file, _line, reason);

    // ---- entry ----

    /// <summary>Names every pickled object and tensor by its attribute path from the root (for constant names).</summary>
    public void NamePaths(TorchObject root)
    {
        var queue = new Queue<(object, string)>();
        queue.Enqueue((root, ""));
        while (queue.Count > 0)
        {
            var (o, path) = queue.Dequeue();
            if (!_paths.TryAdd(o, path)) continue;
            IEnumerable<(string, object?)> children = o switch
            {
                TorchObject t => t.Attributes.Select(kv => (kv.Key, kv.Value)),
                List<object?> l => l.Select((v, i) => (i.ToString(System.Globalization.CultureInfo.InvariantCulture), v)),
                PickleTuple t => t.Items.Select((v, i) => (i.ToString(System.Globalization.CultureInfo.InvariantCulture), v)),
                _ => [],
            };
            foreach (var (name, child) in children)
                if (child is TorchObject or TorchTensor or List<object?> or PickleTuple)
                    queue.Enqueue((child!, path.Length == 0 ? name : path + "." + name));
        }
    }

    public ClassDef ClassOf(TorchObject o) =>
        _code.FindClass(o.TypeName) ?? throw Fail($"class '{o.TypeName}' of a pickled object has no code under code/");

    /// <summary>Calls <c>forward</c> of <paramref name="root"/> with the graph inputs.</summary>
    public object? CallForward(TorchObject root, IReadOnlyList<KeyValuePair<string, object?>> inputs)
    {
        var cls = ClassOf(root);
        var forward = cls.Methods.GetValueOrDefault("forward") ?? throw Fail($"class '{cls.QualifiedName}' has no forward method");
        return CallFunction(forward, root, [], inputs);
    }

    // ---- functions ----

    public object? CallFunction(FunctionDef f, TorchObject? self, IReadOnlyList<object?> args, IReadOnlyList<KeyValuePair<string, object?>> keywords)
    {
        if (++_depth > MaxCallDepth) throw Fail($"calls nest deeper than {MaxCallDepth} (recursion in {f.Name}?)");
        var (savedFile, savedLine) = (_file, _line);
        try
        {
            _file = f.File;
            _line = f.Line;
            var frame = new Dictionary<string, object?>(StringComparer.Ordinal);
            var parameters = f.Parameters;
            int p = 0;
            if (self is not null)
            {
                if (parameters.Count == 0) throw Fail($"method {f.Name} has no self parameter");
                frame[parameters[0].Name] = self;
                p = 1;
            }
            if (args.Count > parameters.Count - p) throw Fail($"{f.Name} takes {parameters.Count - p} arguments but {args.Count} were given");
            for (int i = 0; i < args.Count; i++) frame[parameters[p + i].Name] = args[i];
            foreach (var (k, v) in keywords)
            {
                if (!parameters.Any(x => x.Name == k)) throw Fail($"{f.Name} has no parameter '{k}'");
                frame[k] = v;
            }
            for (int i = p; i < parameters.Count; i++)
            {
                var prm = parameters[i];
                if (frame.ContainsKey(prm.Name)) continue;
                if (prm.Default is null) throw Fail($"{f.Name}: missing argument '{prm.Name}'");
                frame[prm.Name] = Eval(prm.Default, frame);
            }
            var flow = ExecBlock(f.Body, frame);
            return flow.Kind == FlowKind.Return ? flow.Value : null;
        }
        finally
        {
            _depth--;
            (_file, _line) = (savedFile, savedLine);
        }
    }

    // ---- statements ----

    private Flow ExecBlock(IReadOnlyList<Stmt> block, Dictionary<string, object?> frame)
    {
        foreach (var s in block)
        {
            var flow = Exec(s, frame);
            if (flow.Kind != FlowKind.Normal) return flow;
        }
        return Flow.Normal;
    }

    private Flow Exec(Stmt s, Dictionary<string, object?> frame)
    {
        _line = s.Line;
        switch (s)
        {
            case AssignStmt a:
            {
                var v = Eval(a.Value, frame);
                foreach (var t in a.Targets) Assign(t, v, frame);
                return Flow.Normal;
            }
            case AnnotatedAssignStmt a:
                if (a.Value is not null) Assign(a.Target, Eval(a.Value, frame), frame);
                return Flow.Normal;
            case AugAssignStmt a:
                Assign(a.Target, Binary(a.Op, Eval(a.Target, frame), Eval(a.Value, frame)), frame);
                return Flow.Normal;
            case ExprStmt e:
                Eval(e.Value, frame);
                return Flow.Normal;
            case ReturnStmt r:
                return new Flow(FlowKind.Return, r.Value is null ? null : Eval(r.Value, frame));
            case PassStmt:
                return Flow.Normal;
            case BreakStmt:
                return new Flow(FlowKind.Break, null);
            case ContinueStmt:
                return new Flow(FlowKind.Continue, null);
            case AssertStmt a:
            {
                var c = Eval(a.Condition, frame);
                if (TryTruth(c) is false) throw new ScriptRaiseException("AssertionError" + (a.Message is null ? "" : ": " + Eval(a.Message, frame)));
                return Flow.Normal;
            }
            case IfStmt i:
                return ExecIf(i, frame);
            case ForStmt f:
                return ExecFor(f, frame);
            case WhileStmt w:
                return ExecWhile(w, frame);
            default:
                throw Fail($"statement {s.GetType().Name} is not supported");
        }
    }

    private void Assign(Expr target, object? value, Dictionary<string, object?> frame)
    {
        switch (target)
        {
            case NameExpr n:
                frame[n.Id] = value;
                break;
            case TupleExpr or ListExpr:
            {
                var targets = target is TupleExpr t ? t.Items : ((ListExpr)target).Items;
                var items = Sequence(value, "unpack") ?? throw Fail($"cannot unpack {Describe(value)} into {targets.Count} names");
                if (items.Count != targets.Count) throw Fail($"cannot unpack {items.Count} values into {targets.Count} names");
                for (int i = 0; i < targets.Count; i++) Assign(targets[i], items[i], frame);
                break;
            }
            case SubscriptExpr sub:
            {
                var container = Eval(sub.Target, frame);
                var index = Eval(sub.Index, frame);
                if (container is List<object?> list && index is long k)
                {
                    int i = (int)(k < 0 ? k + list.Count : k);
                    if (i < 0 || i >= list.Count) throw Fail($"list index {k} out of range");
                    list[i] = value;
                    break;
                }
                if (container is PickleDict d) { d.Set(index, value); break; }
                throw Fail($"cannot assign to an element of {Describe(container)}");
            }
            case AttributeExpr attr when Eval(attr.Target, frame) is TorchObject o:
                // Attribute writes (e.g. in training-only branches) change the object for the rest of the lowering.
                o.Attributes[attr.Name] = value;
                break;
            default:
                throw Fail($"cannot assign to {target.GetType().Name}");
        }
    }

    /// <summary>The items of a list or tuple value.</summary>
    private static IReadOnlyList<object?>? Sequence(object? v, string why) => v switch
    {
        List<object?> l => l,
        PickleTuple t => t.Items,
        _ => null,
    };

    private static bool RaisesOnly(IReadOnlyList<Stmt> block) =>
        block.Any(s => s is ExprStmt { Value: CallExpr { Function: AttributeExpr { Name: "RaiseException", Target: AttributeExpr { Name: "prim", Target: NameExpr { Id: "ops" } } } } });

    private Flow ExecIf(IfStmt s, Dictionary<string, object?> frame)
    {
        var cond = Eval(s.Condition, frame);
        _line = s.Line;
        var truth = TryTruth(cond);
        if (truth is bool known) return ExecBlock(known ? s.Then : s.Else, frame);
        // Data-dependent. A branch that only raises (argument checks) cannot happen for a valid input: take the other.
        bool thenRaises = RaisesOnly(s.Then), elseRaises = RaisesOnly(s.Else);
        if (thenRaises && !elseRaises) return ExecBlock(s.Else, frame);
        if (elseRaises && !thenRaises) return ExecBlock(s.Then, frame);
        return EmitIf(s, cond!, frame);
    }

    private Flow ExecFor(ForStmt f, Dictionary<string, object?> frame)
    {
        var iterable = Eval(f.Iterable, frame);
        IEnumerable<object?> items;
        if (iterable is RangeValue r)
        {
            if (r.Dynamic) return EmitLoop(f, r, frame);
            items = r.Values();
        }
        else if (Sequence(iterable, "iterate") is { } seq) items = seq.ToArray();
        else throw Fail($"cannot iterate over {Describe(iterable)}");
        int n = 0;
        foreach (var item in items)
        {
            if (++n > MaxUnroll) throw Fail($"loop runs more than {MaxUnroll} iterations at import time");
            Assign(f.Target, item, frame);
            var flow = ExecBlock(f.Body, frame);
            if (flow.Kind == FlowKind.Break) break;
            if (flow.Kind == FlowKind.Return) return flow;
        }
        return Flow.Normal;
    }

    private Flow ExecWhile(WhileStmt w, Dictionary<string, object?> frame)
    {
        for (int n = 0; ; n++)
        {
            if (n > MaxUnroll) throw Fail($"while loop runs more than {MaxUnroll} iterations at import time");
            var c = Eval(w.Condition, frame);
            _line = w.Line;
            var truth = TryTruth(c);
            if (truth is null)
            {
                if (n > 0) throw Fail("a while loop whose condition becomes data-dependent after the first iteration is not supported");
                return EmitWhile(w, c!, frame);
            }
            if (truth is false) return Flow.Normal;
            var flow = ExecBlock(w.Body, frame);
            if (flow.Kind == FlowKind.Break) return Flow.Normal;
            if (flow.Kind == FlowKind.Return) return flow;
        }
    }

    // ---- expressions ----

    private static readonly HashSet<string> Builtins = new(StringComparer.Ordinal)
    {
        "int", "float", "bool", "str", "len", "getattr", "hasattr", "annotate", "unchecked_cast", "isinstance", "range",
        "uninitialized", "print", "min", "max", "abs", "round", "list", "tuple", "math", "divmod", "enumerate", "zip",
    };

    public object? Eval(Expr e, Dictionary<string, object?> frame)
    {
        switch (e)
        {
            case ConstExpr c:
                return c.Value;
            case NameExpr n:
                // uninitialized(T) placeholders may be passed around; using one in an op fails there.
                if (frame.TryGetValue(n.Id, out var v)) return v;
                if (n.Id is "torch" or "ops" or "__torch__" or "CONSTANTS" or "Tensor" or "typing" or "builtins") return new NamespaceValue(n.Id);
                if (Builtins.Contains(n.Id)) return new BuiltinValue(n.Id);
                throw Fail($"name '{n.Id}' is not defined");
            case AttributeExpr a:
                return GetAttribute(Eval(a.Target, frame), a.Name);
            case CallExpr call:
                return EvalCall(call, frame);
            case SubscriptExpr s:
                return Subscript(Eval(s.Target, frame), Eval(s.Index, frame));
            case ListExpr l:
                return l.Items.Select(x => Eval(x, frame)).ToList();
            case TupleExpr t:
                return new PickleTuple(t.Items.Select(x => Eval(x, frame)).ToArray());
            case DictExpr d:
            {
                var dict = new PickleDict();
                foreach (var (k, val) in d.Items) dict.Set(Eval(k, frame), Eval(val, frame));
                return dict;
            }
            case BinaryExpr b when b.Op is "and" or "or":
            {
                var left = Eval(b.Left, frame);
                var lt = TryTruth(left) ?? throw Fail($"'{b.Op}' on a data-dependent value is not supported");
                if (b.Op == "and") return lt ? Eval(b.Right, frame) : left;
                return lt ? left : Eval(b.Right, frame);
            }
            case BinaryExpr b:
                return Binary(b.Op, Eval(b.Left, frame), Eval(b.Right, frame));
            case UnaryExpr u:
            {
                var x = Eval(u.Operand, frame);
                return u.Op switch
                {
                    "not" => TryTruth(x) is bool t ? !t : Not(x),
                    "-" => Negate(x),
                    "+" => x,
                    _ => throw Fail($"unary '{u.Op}' is not supported"),
                };
            }
            case ConditionalExpr c:
            {
                var cond = Eval(c.Condition, frame);
                var truth = TryTruth(cond) ?? throw Fail("a conditional expression on a data-dependent value is not supported");
                return Eval(truth ? c.Then : c.Else, frame);
            }
            default:
                throw Fail($"expression {e.GetType().Name} is not supported");
        }
    }

    private object? GetAttribute(object? target, string name)
    {
        switch (target)
        {
            case NamespaceValue ns when ns.Path == "CONSTANTS":
            {
                if (name.Length < 2 || name[0] != 'c' || !int.TryParse(name.AsSpan(1), out var k) || k < 0 || k >= _constants.Length)
                    throw Fail($"CONSTANTS.{name} does not exist (constants.pkl holds {_constants.Length})");
                return FromPickle(_constants[k], $"CONSTANTS.c{k}");
            }
            case NamespaceValue ns:
                return new NamespaceValue(ns.Path + "." + name);
            case TorchObject o:
            {
                if (o.Attributes.TryGetValue(name, out var v)) return FromPickle(v, Path(o, name));
                var cls = ClassOf(o);
                if (cls.Methods.TryGetValue(name, out var m)) return new BoundMethod(o, m);
                var attr = cls.FindAttribute(name);
                if (attr?.Value is { } constant) return Eval(constant, new Dictionary<string, object?>());
                throw Fail($"object of class '{o.TypeName}' has no attribute '{name}'");
            }
            case TensorValue t:
                return name switch
                {
                    "shape" => SizeList(t),
                    "dtype" => (long)ScalarTypes.Code(t.Type),
                    "T" => Permute(t, Enumerable.Range(0, RequireRank(t, "T")).Reverse().Select(i => (long)i).ToArray()),
                    _ => throw Fail($"tensor attribute '{name}' is not supported"),
                };
            default:
                throw Fail($"{Describe(target)} has no attribute '{name}'");
        }
    }

    private string Path(TorchObject o, string name)
    {
        var p = _paths.GetValueOrDefault(o, "");
        return p.Length == 0 ? name : p + "." + name;
    }

    /// <summary>A pickled attribute as a lowering value: tensors become constants (once each).</summary>
    private object? FromPickle(object? v, string path) => v switch
    {
        TorchTensor t => Param(t, path),
        _ => v,
    };

    private object? Subscript(object? target, object? index)
    {
        if (Sequence(target, "index") is { } items)
        {
            if (index is not long k) throw Fail($"index {Describe(index)} into a list is not a known int");
            long i = k < 0 ? k + items.Count : k;
            if (i < 0 || i >= items.Count) throw Fail($"index {k} out of range for a list of {items.Count}");
            return items[(int)i];
        }
        if (target is PickleDict d)
        {
            foreach (var (key, val) in d.Items)
                if (Equals(key, index)) return val;
            throw Fail($"key {Describe(index)} not in dict");
        }
        if (target is TensorValue t)
        {
            if (index is long k) return Select(t, 0, k);
            throw Fail($"tensor indexing with {Describe(index)} is not supported");
        }
        throw Fail($"{Describe(target)} cannot be indexed");
    }

    public static string Describe(object? v) => v switch
    {
        null => "None",
        long l => $"int {l}",
        double d => $"float {d}",
        bool b => $"bool {b}",
        string s => $"str \"{s}\"",
        List<object?> l => $"list of {l.Count}",
        PickleTuple t => $"tuple of {t.Items.Length}",
        TorchObject o => $"object of class {o.TypeName}",
        TensorValue t => t.ToString(),
        DynNumber n => $"run-time {n}",
        _ => v.ToString() ?? v.GetType().Name,
    };
}

/// <summary><c>range(start, stop, step)</c>; dynamic when a bound is known only at run time.</summary>
internal sealed record RangeValue(object? Start, object? Stop, object? Step)
{
    public bool Dynamic => Start is DynNumber || Stop is DynNumber || Step is DynNumber;

    public IEnumerable<object?> Values()
    {
        long a = (long)Start!, b = (long)Stop!, s = (long)Step!;
        if (s > 0) for (long i = a; i < b; i += s) yield return i;
        else if (s < 0) for (long i = a; i > b; i += s) yield return i;
    }
}
