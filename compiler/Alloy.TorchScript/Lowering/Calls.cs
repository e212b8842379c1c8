using System.Globalization;
using System.Text;
using Alloy.IR;
using Alloy.TorchScript.Pickle;
using Alloy.TorchScript.Script;

namespace Alloy.TorchScript.Lowering;

/// <summary>Calls: methods of modules, functions of the archive's code, builtins, <c>torch.*</c> and <c>ops.*</c>.</summary>
internal sealed partial class Lowerer
{
    private object? EvalCall(CallExpr call, Dictionary<string, object?> frame)
    {
        // Builtins whose first argument is a type, not a value.
        if (call.Function is NameExpr { Id: "annotate" or "unchecked_cast" } && call.Args.Count == 2)
            return Eval(call.Args[1], frame);
        if (call.Function is NameExpr { Id: "uninitialized" })
            return new UninitializedValue("?");
        if (call.Function is NameExpr { Id: "isinstance" } && call.Args.Count == 2)
            return IsInstance(Eval(call.Args[0], frame), call.Args[1]);

        var fn = Eval(call.Function, frame);
        var args = new List<object?>(call.Args.Count);
        foreach (var a in call.Args) args.Add(Eval(a, frame));
        var kw = new List<KeyValuePair<string, object?>>(call.Keywords.Count);
        foreach (var (k, v) in call.Keywords) kw.Add(new(k, Eval(v, frame)));
        _line = call.Line;
        switch (fn)
        {
            case BoundMethod m:
                return CallFunction(m.Method, m.Self, args, kw);
            case FunctionValue f:
                return CallFunction(f.Function, null, args, kw);
            case BuiltinValue b:
                return CallBuiltin(b.Name, args, kw);
            case NamespaceValue ns:
                return CallNamespace(ns.Path, args, kw);
            default:
                throw Fail($"{Describe(fn)} is not callable");
        }
    }

    private object IsInstance(object? value, Expr type)
    {
        var name = type switch
        {
            NameExpr n => n.Id,
            SubscriptExpr { Target: NameExpr n } => n.Id,
            _ => "?",
        };
        return name switch
        {
            "Tensor" => value is TensorValue,
            "int" => value is long or DynNumber { Kind: NumberKind.SignedInteger },
            "float" => value is double or DynNumber { Kind: NumberKind.BinaryFloat },
            "bool" => value is bool,
            "str" => value is string,
            "List" => value is List<object?>,
            "Tuple" => value is PickleTuple,
            _ => throw Fail($"isinstance with type '{name}' is not supported"),
        };
    }

    private object? CallBuiltin(string name, List<object?> args, List<KeyValuePair<string, object?>> kw)
    {
        object? Arg(int i) => i < args.Count ? args[i] : throw Fail($"{name}() takes at least {i + 1} argument(s)");
        switch (name)
        {
            case "int": return ToInt(Arg(0));
            case "float": return ToFloat(Arg(0));
            case "bool": return TryTruth(Arg(0)) is bool known ? known : ToBool(Arg(0));
            case "str": return Arg(0) is DeviceValue device ? device.Name : System.Convert.ToString(Arg(0), CultureInfo.InvariantCulture) ?? "None";
            case "len": return Len(Arg(0));
            case "getattr": return GetAttribute(Arg(0), Arg(1) as string ?? throw Fail("getattr needs a string name"));
            case "hasattr":
                return Arg(0) is TorchObject o && Arg(1) is string attr
                    ? o.Attributes.ContainsKey(attr) || ClassOf(o).FindAttribute(attr) is not null || ClassOf(o).Methods.ContainsKey(attr)
                    : throw Fail("hasattr needs an object and a name");
            case "range":
                return args.Count switch
                {
                    1 => new RangeValue(0L, ToInt(args[0]), 1L),
                    2 => new RangeValue(ToInt(args[0]), ToInt(args[1]), 1L),
                    3 => new RangeValue(ToInt(args[0]), ToInt(args[1]), ToInt(args[2])),
                    _ => throw Fail("range() takes 1 to 3 arguments"),
                };
            case "print": return null;
            case "list": return Sequence(Arg(0), "list")?.ToList() ?? throw Fail($"list() of {Describe(Arg(0))}");
            case "tuple": return new PickleTuple(Sequence(Arg(0), "tuple")?.ToArray() ?? throw Fail($"tuple() of {Describe(Arg(0))}"));
            case "min" or "max":
            {
                var items = args.Count == 1 ? Sequence(args[0], name) ?? throw Fail($"{name}() of {Describe(args[0])}") : args;
                if (items.Count == 0) throw Fail($"{name}() of an empty sequence");
                if (items.Any(x => x is not (long or double))) throw Fail($"{name}() of run-time values is not supported");
                var best = items[0];
                foreach (var x in items.Skip(1))
                    if (name == "min" ? ToDouble(x) < ToDouble(best) : ToDouble(x) > ToDouble(best)) best = x;
                return best;
            }
            case "abs": return Arg(0) switch { long l => Math.Abs(l), double d => Math.Abs(d), _ => throw Fail("abs() of a run-time value is not supported") };
            case "enumerate":
                return (Sequence(Arg(0), "enumerate") ?? throw Fail($"enumerate() of {Describe(Arg(0))}"))
                    .Select((x, i) => (object?)new PickleTuple([(long)i, x])).ToList();
            case "zip":
            {
                var seqs = args.Select(a => Sequence(a, "zip") ?? throw Fail($"zip() of {Describe(a)}")).ToList();
                int n = seqs.Min(s => s.Count);
                return Enumerable.Range(0, n).Select(i => (object?)new PickleTuple(seqs.Select(s => s[i]).ToArray())).ToList();
            }
            default:
                throw Fail($"builtin {name}() is not supported");
        }
    }

    private object Len(object? v) => v switch
    {
        List<object?> l => (long)l.Count,
        PickleTuple t => (long)t.Items.Length,
        string s => (long)s.Length,
        PickleDict d => (long)d.Items.Count,
        TensorValue t => Size(t, 0),
        TorchObject o when ClassOf(o).Methods.TryGetValue("__len__", out var m) => CallFunction(m, o, [], [])!,
        _ => throw Fail($"len() of {Describe(v)} is not supported"),
    };

    private object? CallNamespace(string path, List<object?> args, List<KeyValuePair<string, object?>> kw)
    {
        if (path.StartsWith("torch.", StringComparison.Ordinal) && path.IndexOf('.', 6) < 0) return CallAten(path[6..], args, kw);
        if (path.StartsWith("ops.aten.", StringComparison.Ordinal)) return CallAten(path[9..], args, kw);
        if (path.StartsWith("ops.prim.", StringComparison.Ordinal)) return CallPrim(path[9..], args, kw);
        if (path.StartsWith("__torch__.", StringComparison.Ordinal))
        {
            if (_code.FindFunction(path) is { } f) return CallFunction(f, null, args, kw);
            throw Fail($"function '{path}' is not defined in the archive's code");
        }
        if (path == "math.sqrt" && args.Count == 1 && args[0] is long or double) return Math.Sqrt(ToDouble(args[0]));
        if (path == "torch.jit._unwrap_optional" || path == "torch.jit.annotate") return args[^1];
        throw Fail($"call to '{path}' is not supported");
    }

    private object? CallPrim(string name, List<object?> args, List<KeyValuePair<string, object?>> kw)
    {
        switch (name)
        {
            case "NumToTensor":
                return args[0];
            case "RaiseException":
                throw new ScriptRaiseException(string.Join(": ", args.Where(a => a is string).Reverse()));
            case "unchecked_cast":
                return args[^1];
            case "device":
                return new DeviceValue("cpu");
            case "dtype":
                return args[0] is TensorValue t ? (long)ScalarTypes.Code(t.Type) : throw Fail("prim::dtype of a non-tensor");
            case "min" or "max":
                return CallBuiltin(name, args, kw);
            case "abs":
                return CallBuiltin(name, args, kw);
            case "is_cuda" or "is_nested" or "is_sparse" or "is_quantized" or "is_mkldnn" or "is_meta":
                return false;
            case "requires_grad":
                return args[0] is TensorValue { RequiresGrad: true };
            default:
                throw Fail($"prim::{name} has no mapping to Alloy's IR");
        }
    }

    /// <summary><c>torch.format</c> with <c>{}</c> placeholders (used only for error messages).</summary>
    private static string Format(List<object?> args)
    {
        var fmt = args.Count > 0 ? args[0] as string ?? "" : "";
        var sb = new StringBuilder();
        int next = 1;
        for (int i = 0; i < fmt.Length; i++)
        {
            if (fmt[i] == '{' && i + 1 < fmt.Length && fmt[i + 1] == '}')
            {
                sb.Append(next < args.Count ? Describe(args[next++]) : "{}");
                i++;
            }
            else sb.Append(fmt[i]);
        }
        return sb.ToString();
    }

    /// <summary>The precision mark a call's tensor arguments carry (autocast), if any.</summary>
    private static string? MarkOf(List<object?> args)
    {
        foreach (var a in args)
        {
            if (a is TensorValue { Precision: { } p }) return p;
            if (a is List<object?> l)
                foreach (var x in l)
                    if (x is TensorValue { Precision: { } q }) return q;
        }
        return null;
    }

    private object? CallAten(string name, List<object?> args, List<KeyValuePair<string, object?>> kw)
    {
        var saved = _b.PendingPrecision;
        _b.PendingPrecision = MarkOf(args) ?? saved;
        try
        {
            var a = new AtenArgs(this, name, args, kw);
            return Aten(a);
        }
        finally
        {
            _b.PendingPrecision = saved;
        }
    }
}
