using System.Buffers.Binary;
using System.Text;
using Alloy.IR;

namespace Alloy.TorchScript.Pickle;

/// <summary>
/// The pickle virtual machine for the protocol-2 subset TorchScript archives use (plus the few protocol-4 framing
/// opcodes newer writers add). Classes resolve through a fixed table: tensors (<c>_rebuild_tensor_v2</c>,
/// <c>_rebuild_parameter</c>), storages, <c>OrderedDict</c>, the <c>torch.jit._pickle</c> list builders and
/// TorchScript classes (<c>__torch__.*</c>, built as <see cref="TorchObject"/>). Any other opcode or class is an
/// error that names it; nothing is guessed.
/// </summary>
public sealed class Unpickler
{
    private static readonly object Mark = new();
    private readonly byte[] _data;
    private readonly string _what;
    private readonly Func<PickleTuple, object?> _persistentLoad;
    private readonly List<object?> _stack = [];
    private readonly List<int> _marks = [];
    private readonly Dictionary<long, object?> _memo = [];
    private int _pos;

    public Unpickler(byte[] data, string what, Func<PickleTuple, object?> persistentLoad)
    {
        _data = data;
        _what = what;
        _persistentLoad = persistentLoad;
    }

    private PickleException Error(string reason) => new($"{_what}: byte {_pos}: {reason}");

    public object? Load()
    {
        while (true)
        {
            if (_pos >= _data.Length) throw Error("the pickle ends without a STOP opcode");
            int at = _pos;
            byte op = _data[_pos++];
            switch (op)
            {
                case 0x80: Need(1); _pos++; break; // PROTO
                case 0x95: Need(8); _pos += 8; break; // FRAME
                case (byte)'.': // STOP
                    if (_stack.Count != 1) throw Error($"STOP with {_stack.Count} values on the stack");
                    return _stack[0];
                case (byte)'(': _marks.Add(_stack.Count); _stack.Add(Mark); break; // MARK
                case (byte)'c': // GLOBAL
                {
                    var module = ReadLine();
                    var name = ReadLine();
                    _stack.Add(FindClass(module, name));
                    break;
                }
                case 0x93: // STACK_GLOBAL
                {
                    var name = Pop() as string ?? throw Error("STACK_GLOBAL: the name is not a string");
                    var module = Pop() as string ?? throw Error("STACK_GLOBAL: the module is not a string");
                    _stack.Add(FindClass(module, name));
                    break;
                }
                case (byte)'q': Need(1); _memo[_data[_pos++]] = Top(); break; // BINPUT
                case (byte)'r': Need(4); _memo[BinaryPrimitives.ReadUInt32LittleEndian(_data.AsSpan(_pos))] = Top(); _pos += 4; break; // LONG_BINPUT
                case 0x94: _memo[_memo.Count] = Top(); break; // MEMOIZE
                case (byte)'h': Need(1); _stack.Add(Memo(_data[_pos++])); break; // BINGET
                case (byte)'j': Need(4); _stack.Add(Memo(BinaryPrimitives.ReadUInt32LittleEndian(_data.AsSpan(_pos)))); _pos += 4; break; // LONG_BINGET
                case (byte)')': _stack.Add(new PickleTuple([])); break; // EMPTY_TUPLE
                case (byte)'t': _stack.Add(new PickleTuple(PopToMark().ToArray())); break; // TUPLE
                case 0x85: _stack.Add(new PickleTuple([Pop()])); break; // TUPLE1
                case 0x86: { var b = Pop(); var a = Pop(); _stack.Add(new PickleTuple([a, b])); break; } // TUPLE2
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); _stack.Add(new PickleTuple([a, b, c])); break; } // TUPLE3
                case (byte)']': _stack.Add(new List<object?>()); break; // EMPTY_LIST
                case (byte)'l': _stack.Add(PopToMark()); break; // LIST
                case (byte)'a': { var v = Pop(); AsList(Top(), "APPEND").Add(v); break; } // APPEND
                case (byte)'e': { var items = PopToMark(); AsList(Top(), "APPENDS").AddRange(items); break; } // APPENDS
                case (byte)'}': _stack.Add(new PickleDict()); break; // EMPTY_DICT
                case (byte)'d': { var items = PopToMark(); var d = new PickleDict(); for (int i = 0; i + 1 < items.Count; i += 2) d.Set(items[i], items[i + 1]); _stack.Add(d); break; } // DICT
                case (byte)'s': { var v = Pop(); var k = Pop(); SetItem(Top(), k, v); break; } // SETITEM
                case (byte)'u': // SETITEMS
                {
                    var items = PopToMark();
                    var target = Top();
                    for (int i = 0; i + 1 < items.Count; i += 2) SetItem(target, items[i], items[i + 1]);
                    break;
                }
                case (byte)'N': _stack.Add(null); break; // NONE
                case 0x88: _stack.Add(true); break; // NEWTRUE
                case 0x89: _stack.Add(false); break; // NEWFALSE
                case (byte)'J': Need(4); _stack.Add((long)BinaryPrimitives.ReadInt32LittleEndian(_data.AsSpan(_pos))); _pos += 4; break; // BININT
                case (byte)'K': Need(1); _stack.Add((long)_data[_pos++]); break; // BININT1
                case (byte)'M': Need(2); _stack.Add((long)BinaryPrimitives.ReadUInt16LittleEndian(_data.AsSpan(_pos))); _pos += 2; break; // BININT2
                case 0x8a: { Need(1); int n = _data[_pos++]; _stack.Add(ReadLong(n)); break; } // LONG1
                case 0x8b: { Need(4); int n = BinaryPrimitives.ReadInt32LittleEndian(_data.AsSpan(_pos)); _pos += 4; _stack.Add(ReadLong(n)); break; } // LONG4
                case (byte)'G': Need(8); _stack.Add(BinaryPrimitives.ReadDoubleBigEndian(_data.AsSpan(_pos))); _pos += 8; break; // BINFLOAT
                case (byte)'X': { Need(4); int n = checked((int)BinaryPrimitives.ReadUInt32LittleEndian(_data.AsSpan(_pos))); _pos += 4; _stack.Add(ReadUtf8(n)); break; } // BINUNICODE
                case 0x8c: { Need(1); int n = _data[_pos++]; _stack.Add(ReadUtf8(n)); break; } // SHORT_BINUNICODE
                case (byte)'U': { Need(1); int n = _data[_pos++]; _stack.Add(ReadLatin1(n)); break; } // SHORT_BINSTRING
                case (byte)'T': { Need(4); int n = checked((int)BinaryPrimitives.ReadUInt32LittleEndian(_data.AsSpan(_pos))); _pos += 4; _stack.Add(ReadLatin1(n)); break; } // BINSTRING
                case (byte)'C': { Need(1); int n = _data[_pos++]; Need(n); _stack.Add(_data.AsSpan(_pos, n).ToArray()); _pos += n; break; } // SHORT_BINBYTES
                case (byte)'B': { Need(4); int n = checked((int)BinaryPrimitives.ReadUInt32LittleEndian(_data.AsSpan(_pos))); _pos += 4; Need(n); _stack.Add(_data.AsSpan(_pos, n).ToArray()); _pos += n; break; } // BINBYTES
                case (byte)'0': Pop(); break; // POP
                case (byte)'1': PopToMark(); break; // POP_MARK
                case (byte)'2': _stack.Add(Top()); break; // DUP
                case (byte)'R': // REDUCE
                {
                    var args = Pop() as PickleTuple ?? throw Error("REDUCE: the arguments are not a tuple");
                    var callable = Pop();
                    _stack.Add(Call(callable, args));
                    break;
                }
                case 0x81: // NEWOBJ
                {
                    var args = Pop() as PickleTuple ?? throw Error("NEWOBJ: the arguments are not a tuple");
                    var cls = Pop();
                    _stack.Add(New(cls, args));
                    break;
                }
                case (byte)'b': // BUILD
                {
                    var state = Pop();
                    Build(Top(), state);
                    break;
                }
                case (byte)'Q': // BINPERSID
                {
                    var pid = Pop() as PickleTuple ?? throw Error("BINPERSID: the persistent id is not a tuple");
                    _stack.Add(_persistentLoad(pid));
                    break;
                }
                default:
                    _pos = at;
                    throw Error($"unsupported pickle opcode 0x{op:x2}{(op is >= 0x20 and < 0x7f ? $" ('{(char)op}')" : "")}");
            }
        }
    }

    private void Need(int n)
    {
        if (_pos + n > _data.Length) throw Error("the pickle ends in the middle of an opcode");
    }

    private object? Top() => _stack.Count > 0 && _stack[^1] != Mark ? _stack[^1] : throw Error("stack underflow");

    private object? Pop()
    {
        if (_stack.Count == 0 || _stack[^1] == Mark) throw Error("stack underflow");
        var v = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return v;
    }

    private List<object?> PopToMark()
    {
        if (_marks.Count == 0) throw Error("no MARK on the stack");
        int m = _marks[^1];
        _marks.RemoveAt(_marks.Count - 1);
        var items = _stack.GetRange(m + 1, _stack.Count - m - 1);
        _stack.RemoveRange(m, _stack.Count - m);
        return items;
    }

    private object? Memo(long key) => _memo.TryGetValue(key, out var v) ? v : throw Error($"memo key {key} was never stored");

    private string ReadLine()
    {
        int end = Array.IndexOf(_data, (byte)'\n', _pos);
        if (end < 0) throw Error("GLOBAL: unterminated name");
        var s = Encoding.UTF8.GetString(_data, _pos, end - _pos);
        _pos = end + 1;
        return s;
    }

    private string ReadUtf8(int n)
    {
        Need(n);
        var s = Encoding.UTF8.GetString(_data, _pos, n);
        _pos += n;
        return s;
    }

    private string ReadLatin1(int n)
    {
        Need(n);
        var s = Encoding.Latin1.GetString(_data, _pos, n);
        _pos += n;
        return s;
    }

    private long ReadLong(int n)
    {
        Need(n);
        if (n > 8) throw Error($"integer of {n} bytes does not fit 64 bits");
        long v = 0;
        for (int i = n - 1; i >= 0; i--) v = (v << 8) | _data[_pos + i];
        if (n is > 0 and < 8 && (_data[_pos + n - 1] & 0x80) != 0) v -= 1L << (8 * n);
        _pos += n;
        return v;
    }

    private List<object?> AsList(object? v, string op) => v as List<object?> ?? throw Error($"{op} on {Describe(v)}, not a list");

    private void SetItem(object? target, object? key, object? value)
    {
        switch (target)
        {
            case PickleDict d: d.Set(key, value); break;
            default: throw Error($"SETITEM on {Describe(target)}, not a dict");
        }
    }

    private static string Describe(object? v) => v switch
    {
        null => "None",
        PickleGlobal g => $"class {g}",
        _ => v.GetType().Name,
    };

    // ---- classes ----

    /// <summary>The storage element types by storage class name.</summary>
    public static readonly IReadOnlyDictionary<string, DataType> StorageTypes = new Dictionary<string, DataType>(StringComparer.Ordinal)
    {
        ["FloatStorage"] = DataType.Float,
        ["DoubleStorage"] = DataType.Double,
        ["HalfStorage"] = DataType.Float16,
        ["BFloat16Storage"] = DataType.BFloat16,
        ["LongStorage"] = DataType.Int64,
        ["IntStorage"] = DataType.Int32,
        ["ShortStorage"] = DataType.Int16,
        ["CharStorage"] = DataType.Int8,
        ["ByteStorage"] = DataType.UInt8,
        ["BoolStorage"] = DataType.Bool,
    };

    private static readonly HashSet<string> KnownFunctions = new(StringComparer.Ordinal)
    {
        "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter", "collections.OrderedDict",
        "torch.jit._pickle.build_intlist", "torch.jit._pickle.build_floatlist", "torch.jit._pickle.build_boollist",
        "torch.jit._pickle.build_doublelist", "torch.jit._pickle.build_tensorlist", "torch.jit._pickle.restore_type_tag",
    };

    private object FindClass(string module, string name)
    {
        var g = new PickleGlobal(module, name);
        if (module == "torch" && StorageTypes.ContainsKey(name)) return g;
        if (module == "__torch__" || module.StartsWith("__torch__.", StringComparison.Ordinal)) return g;
        if (KnownFunctions.Contains(g.QualifiedName)) return g;
        throw Error($"unsupported pickle global '{module}.{name}' (not a tensor, storage, OrderedDict, list builder or TorchScript class)");
    }

    private object? New(object? cls, PickleTuple args)
    {
        if (cls is PickleGlobal g && g.Module.StartsWith("__torch__", StringComparison.Ordinal))
            return new TorchObject(g.QualifiedName);
        if (cls is PickleGlobal { QualifiedName: "collections.OrderedDict" }) return new PickleDict();
        throw Error($"NEWOBJ of {Describe(cls)} is not supported");
    }

    private void Build(object? target, object? state)
    {
        switch (target)
        {
            case TorchObject o when state is PickleDict d:
                foreach (var (k, v) in d.Items)
                    o.Attributes[k as string ?? throw Error($"attribute name of {o.TypeName} is not a string")] = v;
                break;
            case TorchObject o when state is PickleTuple t:
                // __setstate__ of a scripted class with a custom getstate: keep the tuple as its state.
                o.Attributes["__state__"] = t;
                break;
            case TorchTensor:
                break; // tensor state (hooks) carries nothing Alloy needs
            case PickleDict d when state is PickleDict s:
                foreach (var (k, v) in s.Items) d.Set(k, v);
                break;
            default:
                throw Error($"BUILD of {Describe(target)} with {Describe(state)} is not supported");
        }
    }

    private object? Call(object? callable, PickleTuple args)
    {
        if (callable is not PickleGlobal g) throw Error($"REDUCE on {Describe(callable)}, not a class");
        var a = args.Items;
        switch (g.QualifiedName)
        {
            case "torch._utils._rebuild_tensor_v2":
            {
                if (a.Length < 4 || a[0] is not StorageRef s) throw Error("_rebuild_tensor_v2: expected (storage, offset, size, stride, ...)");
                var offset = a[1] is long o ? o : throw Error("_rebuild_tensor_v2: the storage offset is not an int");
                var sizes = Ints(a[2], "size");
                var strides = Ints(a[3], "stride");
                if (sizes.Length != strides.Length) throw Error($"_rebuild_tensor_v2: {sizes.Length} sizes but {strides.Length} strides");
                return new TorchTensor(s, offset, sizes, strides, a.Length > 4 && a[4] is true);
            }
            case "torch._utils._rebuild_parameter":
                if (a.Length < 1 || a[0] is not TorchTensor t) throw Error("_rebuild_parameter: expected (tensor, requires_grad, hooks)");
                return t;
            case "collections.OrderedDict":
            {
                var d = new PickleDict();
                if (a.Length > 0 && a[0] is List<object?> pairs)
                    foreach (var p in pairs)
                        if (p is PickleTuple { Items.Length: 2 } kv) d.Set(kv.Items[0], kv.Items[1]);
                return d;
            }
            case "torch.jit._pickle.build_intlist":
            case "torch.jit._pickle.build_floatlist":
            case "torch.jit._pickle.build_boollist":
            case "torch.jit._pickle.build_doublelist":
            case "torch.jit._pickle.build_tensorlist":
                if (a.Length != 1 || a[0] is not List<object?> list) throw Error($"{g.Name}: expected one list");
                return list;
            case "torch.jit._pickle.restore_type_tag":
                return a.Length > 0 ? a[0] : throw Error("restore_type_tag: no value");
            default:
                if (g.Module.StartsWith("__torch__", StringComparison.Ordinal)) return new TorchObject(g.QualifiedName);
                throw Error($"calling '{g}' is not supported");
        }
    }

    private long[] Ints(object? v, string what)
    {
        var items = v switch
        {
            PickleTuple t => t.Items,
            List<object?> l => l.ToArray(),
            _ => throw Error($"_rebuild_tensor_v2: the {what} is not a tuple"),
        };
        var r = new long[items.Length];
        for (int i = 0; i < r.Length; i++) r[i] = items[i] is long x ? x : throw Error($"_rebuild_tensor_v2: {what}[{i}] is not an int");
        return r;
    }
}

/// <summary>A malformed or unsupported pickle; the message names the opcode or class.</summary>
public sealed class PickleException(string message) : Exception(message);
