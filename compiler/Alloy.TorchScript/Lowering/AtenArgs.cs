using Alloy.IR;
using Alloy.TorchScript.Pickle;

namespace Alloy.TorchScript.Lowering;

/// <summary>The arguments of one <c>torch.*</c> call, read by position or keyword as the aten schema names them.</summary>
internal sealed class AtenArgs(Lowerer lowerer, string op, IReadOnlyList<object?> positional, IReadOnlyList<KeyValuePair<string, object?>> keywords)
{
    private static readonly object Missing = new();

    public string Op { get; } = op;
    public int Count => positional.Count;
    public IReadOnlyList<object?> Positional => positional;
    public IReadOnlyList<KeyValuePair<string, object?>> Keywords => keywords;

    private object? Raw(int index, string name)
    {
        if (index >= 0 && index < positional.Count) return positional[index];
        foreach (var (k, v) in keywords)
            if (k == name) return v;
        return Missing;
    }

    public bool Has(int index, string name) => Raw(index, name) != Missing;

    public object? Get(int index, string name)
    {
        var v = Raw(index, name);
        return v == Missing ? throw lowerer.Fail($"aten::{Op}: missing argument '{name}'") : v;
    }

    public object? Get(int index, string name, object? fallback)
    {
        var v = Raw(index, name);
        return v == Missing ? fallback : v;
    }

    public TensorValue Tensor(int index, string name)
    {
        var v = Get(index, name);
        return v as TensorValue ?? throw lowerer.Fail($"aten::{Op}: argument '{name}' is {Lowerer.Describe(v)}, not a tensor");
    }

    public TensorValue? OptionalTensor(int index, string name)
    {
        var v = Get(index, name, null);
        return v is null ? null : v as TensorValue ?? throw lowerer.Fail($"aten::{Op}: argument '{name}' is {Lowerer.Describe(v)}, not a tensor");
    }

    public long Int(int index, string name, long? fallback = null)
    {
        var v = fallback is null ? Get(index, name) : Get(index, name, fallback);
        return v switch
        {
            long l => l,
            bool b => b ? 1 : 0,
            _ => throw lowerer.Fail($"aten::{Op}: argument '{name}' is {Lowerer.Describe(v)}; only an int known at import time is supported"),
        };
    }

    public long? OptionalInt(int index, string name)
    {
        var v = Get(index, name, null);
        return v is null ? null : Int(index, name);
    }

    public double Float(int index, string name, double? fallback = null)
    {
        var v = fallback is null ? Get(index, name) : Get(index, name, fallback);
        return v switch
        {
            double d => d,
            long l => l,
            bool b => b ? 1 : 0,
            _ => throw lowerer.Fail($"aten::{Op}: argument '{name}' is {Lowerer.Describe(v)}; only a number known at import time is supported"),
        };
    }

    public bool Bool(int index, string name, bool? fallback = null)
    {
        var v = fallback is null ? Get(index, name) : Get(index, name, fallback);
        return v switch
        {
            bool b => b,
            long l => l != 0,
            _ => throw lowerer.Fail($"aten::{Op}: argument '{name}' is {Lowerer.Describe(v)}; only a bool known at import time is supported"),
        };
    }

    public string? String(int index, string name) => Get(index, name, null) as string;

    public long[] Ints(int index, string name, int repeat, long[]? fallback = null)
    {
        var v = fallback is null ? Get(index, name) : Get(index, name, fallback.Cast<object?>().ToList());
        return lowerer.KnownInts(v, repeat, $"aten::{Op} argument '{name}'");
    }

    public List<TensorValue> Tensors(int index, string name)
    {
        var v = Get(index, name);
        var items = v switch
        {
            List<object?> l => l,
            PickleTuple t => t.Items.ToList(),
            _ => throw lowerer.Fail($"aten::{Op}: argument '{name}' is {Lowerer.Describe(v)}, not a list of tensors"),
        };
        return items.Select((x, i) => x as TensorValue ?? throw lowerer.Fail($"aten::{Op}: {name}[{i}] is {Lowerer.Describe(x)}, not a tensor")).ToList();
    }

    public DataType? DType(int index, string name)
    {
        var v = Get(index, name, null);
        if (v is null) return null;
        if (v is long code) return ScalarTypes.FromCode(code) ?? throw lowerer.Fail($"aten::{Op}: dtype {code} is not supported");
        throw lowerer.Fail($"aten::{Op}: dtype is {Lowerer.Describe(v)}");
    }

    /// <summary>The call as a schema-like signature, for messages about ops without a mapping.</summary>
    public string Signature()
    {
        static string Kind(object? v) => v switch
        {
            TensorValue t => $"Tensor({t.Type.ShortName()}{(t.Shape is null ? "" : "[" + string.Join(",", t.Shape.Select(d => d.ToString())) + "]")})",
            long or DynNumber { Kind: NumberKind.SignedInteger } => "int",
            double or DynNumber { Kind: NumberKind.BinaryFloat } => "float",
            bool or DynNumber => "bool",
            string => "str",
            null => "None",
            List<object?> l => l.Count > 0 && l.All(x => x is TensorValue) ? "Tensor[]" : l.All(x => x is long) ? "int[]" : "list",
            PickleTuple => "tuple",
            DeviceValue => "Device",
            _ => v.GetType().Name,
        };
        var parts = positional.Select(Kind).Concat(keywords.Select(kv => $"{kv.Key}={Kind(kv.Value)}"));
        return $"aten::{Op}({string.Join(", ", parts)})";
    }
}
