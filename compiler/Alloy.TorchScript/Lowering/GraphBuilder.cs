using System.Buffers.Binary;
using System.Collections.Immutable;
using Alloy.IR;

namespace Alloy.TorchScript.Lowering;

/// <summary>
/// Emits IR nodes into the current graph (the main graph, or an If / Loop body while one is being built) and
/// gives every result its element type and the shape lowering knows. Constants always live in the main graph;
/// bodies capture them. Names are unique across the whole model.
/// </summary>
internal sealed class GraphBuilder(Graph root)
{
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<(DataType, double), Value> _scalars = [];
    private readonly Dictionary<string, Value> _vectors = new(StringComparer.Ordinal);

    public Graph Root { get; } = root;
    public Graph Current { get; set; } = root;
    /// <summary>Set while lowering code inside an autocast region: nodes created get this <c>prec</c> annotation.</summary>
    public string? PendingPrecision { get; set; }

    public string Name(string hint)
    {
        hint = hint.Length == 0 ? "t" : hint;
        if (_names.Add(hint) && Root.Lookup(hint) is null) return hint;
        for (int i = 0; ; i++)
        {
            var n = $"{hint}_{i}";
            if (_names.Add(n) && Root.Lookup(n) is null) return n;
        }
    }

    public void Reserve(string name) => _names.Add(name);

    public static TensorType TypeOf(DataType t, Dim[]? shape) => new(t, shape is null ? null : new Shape(ImmutableArray.Create(shape)));

    /// <summary>Appends a node with one result.</summary>
    public TensorValue Emit(string op, IEnumerable<Value?> inputs, IEnumerable<Attr>? attrs, DataType type, Dim[]? shape, string? precision = null)
    {
        var node = Current.AddNode(op, inputs, [Name(op.ToLowerInvariant())], attributes: attrs);
        node.Outputs[0].Type = TypeOf(type, shape);
        Mark(node, precision);
        return new TensorValue(node.Outputs[0], type, shape);
    }

    /// <summary>Appends a node with several results (types set by the caller).</summary>
    public Node EmitMulti(string op, IEnumerable<Value?> inputs, IEnumerable<Attr>? attrs, int results, string? precision = null)
    {
        var names = Enumerable.Range(0, results).Select(_ => Name(op.ToLowerInvariant())).ToArray();
        var node = Current.AddNode(op, inputs, names, attributes: attrs);
        Mark(node, precision);
        return node;
    }

    private void Mark(Node node, string? precision)
    {
        var p = precision ?? PendingPrecision;
        if (p is null) return;
        node.Annotate("prec", p);
        node.Annotate("why", "autocast");
    }

    public Value Constant(TensorConstant data, string hint) => Root.AddConstant(Name(hint), data);

    /// <summary>A 0-d constant of element type <paramref name="t"/>.</summary>
    public Value Scalar(DataType t, double v)
    {
        if (_scalars.TryGetValue((t, v), out var c)) return c;
        var bytes = Encode(t, [v]);
        c = Constant(new TensorConstant(t, [], new ArrayTensorData(bytes)), "c");
        _scalars[(t, v)] = c;
        return c;
    }

    /// <summary>A 1-D int64 constant.</summary>
    public Value Ints(IReadOnlyList<long> values, string hint = "c")
    {
        var key = hint + ":" + string.Join(",", values);
        if (_vectors.TryGetValue(key, out var c)) return c;
        var bytes = new byte[values.Count * 8];
        for (int i = 0; i < values.Count; i++) BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(i * 8), values[i]);
        c = Constant(new TensorConstant(DataType.Int64, [values.Count], new ArrayTensorData(bytes)), hint);
        _vectors[key] = c;
        return c;
    }

    public static byte[] Encode(DataType t, IReadOnlyList<double> values)
    {
        int size = t.Facts().StorageBytes;
        var bytes = new byte[values.Count * size];
        for (int i = 0; i < values.Count; i++)
        {
            var s = bytes.AsSpan(i * size);
            double v = values[i];
            switch (t)
            {
                case DataType.Float: BinaryPrimitives.WriteSingleLittleEndian(s, (float)v); break;
                case DataType.Double: BinaryPrimitives.WriteDoubleLittleEndian(s, v); break;
                case DataType.Float16: BinaryPrimitives.WriteHalfLittleEndian(s, (Half)v); break;
                case DataType.BFloat16:
                {
                    uint bits = BitConverter.SingleToUInt32Bits((float)v);
                    bits += 0x7FFF + ((bits >> 16) & 1);
                    BinaryPrimitives.WriteUInt16LittleEndian(s, (ushort)(bits >> 16));
                    break;
                }
                case DataType.Int64: BinaryPrimitives.WriteInt64LittleEndian(s, (long)v); break;
                case DataType.Int32: BinaryPrimitives.WriteInt32LittleEndian(s, (int)v); break;
                case DataType.Int16: BinaryPrimitives.WriteInt16LittleEndian(s, (short)v); break;
                case DataType.Int8: s[0] = (byte)(sbyte)v; break;
                case DataType.UInt8: s[0] = (byte)v; break;
                case DataType.Bool: s[0] = v != 0 ? (byte)1 : (byte)0; break;
                default: throw new NotSupportedException($"constants of element type {t} are not supported");
            }
        }
        return bytes;
    }

    // ---- shapes ----

    public static Dim[]? Broadcast(Dim[]? a, Dim[]? b)
    {
        if (a is null || b is null) return null;
        int r = Math.Max(a.Length, b.Length);
        var result = new Dim[r];
        for (int i = 0; i < r; i++)
        {
            var x = i < r - a.Length ? Dim.Of(1) : a[i - (r - a.Length)];
            var y = i < r - b.Length ? Dim.Of(1) : b[i - (r - b.Length)];
            result[i] = x.Size == 1 ? y : y.Size == 1 ? x : x.Equals(y) ? x : x.IsKnown ? x : y.IsKnown ? y : Dim.Unknown;
        }
        return result;
    }
}
