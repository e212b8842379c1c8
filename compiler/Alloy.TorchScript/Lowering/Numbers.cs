using Alloy.IR;
using Alloy.TorchScript.Pickle;

namespace Alloy.TorchScript.Lowering;

/// <summary>Python values at lowering time: truth, arithmetic and comparisons, folded when known and emitted as IR on 0-d tensors otherwise.</summary>
internal sealed partial class Lowerer
{
    /// <summary>True / false when known now; null when it depends on run-time data.</summary>
    public static bool? TryTruth(object? v) => v switch
    {
        null => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> l => l.Count > 0,
        PickleTuple t => t.Items.Length > 0,
        DynNumber or TensorValue => null,
        _ => true,
    };

    public static bool IsNumber(object? v) => v is long or double or bool or DynNumber;

    private static NumberKind KindOf(object? v) => v switch
    {
        double => NumberKind.BinaryFloat,
        bool => NumberKind.Bool,
        DynNumber d => d.Kind,
        _ => NumberKind.SignedInteger,
    };

    private static double ToDouble(object? v) => v switch { long l => l, double d => d, bool b => b ? 1 : 0, _ => double.NaN };

    public object? Binary(string op, object? a, object? b)
    {
        switch (op)
        {
            case "is": return IsSame(a, b);
            case "is not": return !IsSame(a, b);
            case "in": return Contains(b, a);
            case "not in": return !Contains(b, a);
        }
        if (a is TensorValue || b is TensorValue) return TensorBinary(op, a, b);
        if (a is string sa && b is string sb)
        {
            return op switch
            {
                "==" => sa == sb,
                "!=" => sa != sb,
                "+" => sa + sb,
                _ => throw Fail($"'{op}' on strings is not supported"),
            };
        }
        if ((a is List<object?> || a is PickleTuple) && (b is List<object?> || b is PickleTuple))
        {
            var la = Sequence(a, op)!;
            var lb = Sequence(b, op)!;
            return op switch
            {
                "+" when a is List<object?> => la.Concat(lb).ToList(),
                "+" => new PickleTuple(la.Concat(lb).ToArray()),
                "==" => la.Count == lb.Count && la.Zip(lb).All(p => Equals(p.First, p.Second)),
                "!=" => !(la.Count == lb.Count && la.Zip(lb).All(p => Equals(p.First, p.Second))),
                _ => throw Fail($"'{op}' on lists is not supported"),
            };
        }
        if (a is null || b is null)
        {
            if (op == "==") return a is null && b is null;
            if (op == "!=") return !(a is null && b is null);
        }
        if (!IsNumber(a) || !IsNumber(b)) throw Fail($"'{op}' between {Describe(a)} and {Describe(b)} is not supported");
        if (a is DynNumber || b is DynNumber) return DynBinary(op, a!, b!);
        return FoldBinary(op, a!, b!);
    }

    private static bool IsSame(object? a, object? b) => a is null || b is null ? a is null && b is null : ReferenceEquals(a, b) || (a.GetType().IsValueType && a.Equals(b));

    private bool Contains(object? container, object? item) => Sequence(container, "in") is { } items
        ? items.Any(x => Equals(x, item))
        : container is PickleDict d ? d.Items.Any(kv => Equals(kv.Key, item)) : throw Fail($"'in' on {Describe(container)} is not supported");

    private object FoldBinary(string op, object a, object b)
    {
        bool ints = a is long or bool && b is long or bool;
        if (ints)
        {
            long x = a is bool ba ? (ba ? 1 : 0) : (long)a, y = b is bool bb ? (bb ? 1 : 0) : (long)b;
            switch (op)
            {
                case "+": return x + y;
                case "-": return x - y;
                case "*": return x * y;
                case "/": return (double)x / y;
                case "//": if (y == 0) throw Fail("integer division by zero"); return FloorDiv(x, y);
                case "%": if (y == 0) throw Fail("integer modulo by zero"); return x - FloorDiv(x, y) * y;
                case "**": return y >= 0 ? (object)(long)Math.Pow(x, y) : Math.Pow(x, y);
                case "<<": return x << (int)y;
                case ">>": return x >> (int)y;
                case "&": return a is bool && b is bool ? (x & y) != 0 : x & y;
                case "|": return a is bool && b is bool ? (x | y) != 0 : x | y;
                case "^": return a is bool && b is bool ? (x ^ y) != 0 : x ^ y;
            }
        }
        double p = ToDouble(a), q = ToDouble(b);
        return op switch
        {
            "+" => p + q,
            "-" => p - q,
            "*" => p * q,
            "/" => p / q,
            "//" => Math.Floor(p / q),
            "%" => p - Math.Floor(p / q) * q,
            "**" => Math.Pow(p, q),
            "==" => p == q,
            "!=" => p != q,
            "<" => p < q,
            ">" => p > q,
            "<=" => p <= q,
            ">=" => p >= q,
            _ => throw Fail($"operator '{op}' on numbers is not supported"),
        };
    }

    private static long FloorDiv(long x, long y)
    {
        long q = x / y;
        if ((x % y != 0) && ((x < 0) != (y < 0))) q--;
        return q;
    }

    public object? Negate(object? x) => x switch
    {
        long l => -l,
        double d => -d,
        bool b => b ? -1L : 0L,
        DynNumber d => new DynNumber(_b.Emit("Neg", [d.Ir], null, d.IrType, []).Ir, d.Kind, Dim.Unknown),
        TensorValue t => Unary("Neg", t),
        _ => throw Fail($"cannot negate {Describe(x)}"),
    };

    private object Not(object? x) => x switch
    {
        DynNumber d => new DynNumber(_b.Emit("Not", [NumberAs(d, DataType.Bool)], null, DataType.Bool, []).Ir, NumberKind.Bool, Dim.Unknown),
        TensorValue t => _b.Emit("Not", [CastTo(t, DataType.Bool).Ir], null, DataType.Bool, t.Shape),
        _ => throw Fail($"'not' on {Describe(x)} is not supported"),
    };

    /// <summary>A number as a 0-d IR tensor of element type <paramref name="t"/>.</summary>
    public Value NumberAs(object? n, DataType t)
    {
        switch (n)
        {
            case long or double or bool:
                return _b.Scalar(t, ToDouble(n));
            case DynNumber d:
                return d.IrType == t ? d.Ir : _b.Emit("Cast", [d.Ir], [Attr.Int("to", (long)t)], t, []).Ir;
            default:
                throw Fail($"{Describe(n)} is not a number");
        }
    }

    private object DynBinary(string op, object a, object b)
    {
        var kind = KindOf(a) == NumberKind.BinaryFloat || KindOf(b) == NumberKind.BinaryFloat || op == "/" ? NumberKind.BinaryFloat : NumberKind.SignedInteger;
        var t = kind == NumberKind.BinaryFloat ? DataType.Double : DataType.Int64;
        // Identities keep a symbolic dimension: N * 1, N + 0.
        if (a is DynNumber da && ((op is "*" or "//" && b is 1L) || (op is "+" or "-" && b is 0L))) return da;
        var x = NumberAs(a, t);
        var y = NumberAs(b, t);
        string? cmp = op switch { "==" => "Equal", "<" => "Less", ">" => "Greater", "<=" => "LessOrEqual", ">=" => "GreaterOrEqual", "!=" => "Equal", _ => null };
        if (cmp is not null)
        {
            var r = _b.Emit(cmp, [x, y], null, DataType.Bool, []).Ir;
            if (op == "!=") r = _b.Emit("Not", [r], null, DataType.Bool, []).Ir;
            return new DynNumber(r, NumberKind.Bool, Dim.Unknown);
        }
        Value result;
        switch (op)
        {
            case "+": result = _b.Emit("Add", [x, y], null, t, []).Ir; break;
            case "-": result = _b.Emit("Sub", [x, y], null, t, []).Ir; break;
            case "*": result = _b.Emit("Mul", [x, y], null, t, []).Ir; break;
            case "/": result = _b.Emit("Div", [x, y], null, t, []).Ir; break;
            case "//" when t == DataType.Int64:
                // Sizes are non-negative, where truncating and flooring division agree.
                result = _b.Emit("Div", [x, y], null, t, []).Ir;
                break;
            case "//": result = _b.Emit("Floor", [_b.Emit("Div", [x, y], null, t, []).Ir], null, t, []).Ir; break;
            case "%": result = _b.Emit("Mod", [x, y], [Attr.Int("fmod", t == DataType.Int64 ? 0 : 1)], t, []).Ir; break;
            default: throw Fail($"operator '{op}' on run-time numbers is not supported");
        }
        return new DynNumber(result, kind, Dim.Unknown);
    }

    /// <summary>int(x): a known int, or a run-time int.</summary>
    public object ToInt(object? x) => x switch
    {
        long l => l,
        double d => (long)Math.Truncate(d),
        bool b => b ? 1L : 0L,
        DynNumber { Kind: NumberKind.SignedInteger } d => d,
        DynNumber d => new DynNumber(NumberAs(d, DataType.Int64), NumberKind.SignedInteger, Dim.Unknown),
        TensorValue t => new DynNumber(ScalarOf(CastTo(t, DataType.Int64)), NumberKind.SignedInteger, Dim.Unknown),
        string s when long.TryParse(s, out var v) => v,
        _ => throw Fail($"int() of {Describe(x)} is not supported"),
    };

    /// <summary>bool(x) of a run-time value: a run-time bool (non-zero).</summary>
    public object ToBool(object? x) => x switch
    {
        DynNumber { Kind: NumberKind.Bool } d => d,
        DynNumber d => new DynNumber(NumberAs(d, DataType.Bool), NumberKind.Bool, Dim.Unknown),
        TensorValue t => new DynNumber(ScalarOf(CastTo(t, DataType.Bool)), NumberKind.Bool, Dim.Unknown),
        _ => throw Fail($"bool() of {Describe(x)} is not supported"),
    };

    public object ToFloat(object? x) => x switch
    {
        long l => (double)l,
        double d => d,
        bool b => b ? 1.0 : 0.0,
        DynNumber d => new DynNumber(NumberAs(d, DataType.Double), NumberKind.BinaryFloat, Dim.Unknown),
        TensorValue t => new DynNumber(ScalarOf(CastTo(t, DataType.Double)), NumberKind.BinaryFloat, Dim.Unknown),
        _ => throw Fail($"float() of {Describe(x)} is not supported"),
    };

    /// <summary>A one-element tensor reshaped to 0-d.</summary>
    private Value ScalarOf(TensorValue t)
    {
        if (t.Rank == 0) return t.Ir;
        return _b.Emit("Reshape", [t.Ir, _b.Ints([], "scalar_shape")], null, t.Type, []).Ir;
    }
}
