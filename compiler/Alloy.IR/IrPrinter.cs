using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace Alloy.IR;

/// <summary>
/// Prints the IR in its text form (see docs/ir.md). Deterministic; <see cref="IrParser"/> reads the text back
/// so that printing the parsed result gives the same text.
/// </summary>
public static class IrPrinter
{
    /// <summary>Tensors with at most this many elements print their values; larger ones print a digest.</summary>
    public const int InlineElementLimit = 16;

    /// <summary>String tensors print their values only up to this many bytes in total.</summary>
    public const int InlineStringByteLimit = 1024;

    public static string Print(Model m)
    {
        var w = new IrWriter();
        w.WriteModel(m);
        return w.ToString();
    }

    public static string Print(Graph g)
    {
        var w = new IrWriter();
        w.WriteGraph(g, 0);
        w.NewLine();
        return w.ToString();
    }
}

internal sealed class IrWriter
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private static readonly HashSet<string> ReservedOpWords = new(StringComparer.Ordinal) { "return", "const", "sparse_const", "_", "sha256" };

    private readonly StringBuilder _sb = new(4096);

    public override string ToString() => _sb.ToString();
    public void NewLine() => _sb.Append('\n');

    // ---- model and functions ----

    public void WriteModel(Model m)
    {
        _sb.Append("module {");
        _sb.Append("ir_version = ").Append(m.IrVersion.ToString(Inv));
        if (m.Opsets.Count > 0)
        {
            _sb.Append(", opsets = ");
            Opsets(m.Opsets);
        }
        if (m.ProducerName is not null) Field("producer_name", m.ProducerName);
        if (m.ProducerVersion is not null) Field("producer_version", m.ProducerVersion);
        if (m.Domain is not null) Field("domain", m.Domain);
        if (m.ModelVersion is { } mv) _sb.Append(", model_version = ").Append(mv.ToString(Inv));
        if (m.DocString is not null) Field("doc", m.DocString);
        if (m.Metadata.Count > 0)
        {
            _sb.Append(", metadata = ");
            Dict(m.Metadata);
        }
        _sb.Append("}\n\n");
        WriteGraph(m.Graph, 0);
        _sb.Append('\n');
        foreach (var f in m.Functions)
        {
            _sb.Append('\n');
            WriteFunction(f);
            _sb.Append('\n');
        }
    }

    private void Field(string key, string value)
    {
        _sb.Append(", ").Append(key).Append(" = ");
        Str(value);
    }

    private void Opsets(List<OpsetImport> opsets)
    {
        _sb.Append('{');
        for (int i = 0; i < opsets.Count; i++)
        {
            if (i > 0) _sb.Append(", ");
            Str(opsets[i].Domain);
            _sb.Append(" = ").Append(opsets[i].Version.ToString(Inv));
        }
        _sb.Append('}');
    }

    private void WriteFunction(Function f)
    {
        _sb.Append("func ");
        if (f.Domain.Length > 0)
        {
            OpWord(f.Domain);
            _sb.Append("::");
        }
        OpWord(f.Name);
        if (f.Overload.Length > 0)
        {
            _sb.Append(':');
            OpWord(f.Overload);
        }
        var g = f.Body;
        Signature(g);
        if (f.AttributeNames.Count > 0 || f.AttributeDefaults.Count > 0)
        {
            _sb.Append(" attrs [");
            bool first = true;
            foreach (var n in f.AttributeNames)
            {
                if (!first) _sb.Append(", ");
                first = false;
                Key(n);
            }
            foreach (var a in f.AttributeDefaults)
            {
                if (!first) _sb.Append(", ");
                first = false;
                Attribute(a, 0);
            }
            _sb.Append(']');
        }
        if (f.Opsets.Count > 0)
        {
            _sb.Append(" opsets ");
            Opsets(f.Opsets);
        }
        if (f.DocString is not null) Suffix("doc", f.DocString);
        if (f.Metadata.Count > 0)
        {
            _sb.Append(" meta ");
            Dict(f.Metadata);
        }
        if (g.Name != f.Name)
        {
            _sb.Append(" body @");
            Name(g.Name);
        }
        GraphAttributes(g);
        _sb.Append(" {\n");
        Body(g, 2);
        _sb.Append('}');
    }

    // ---- graphs ----

    public void WriteGraph(Graph g, int indent)
    {
        _sb.Append("graph @");
        Name(g.Name);
        Signature(g);
        GraphAttributes(g);
        _sb.Append(" {\n");
        Body(g, indent + 2);
        Indent(indent);
        _sb.Append('}');
    }

    private void Signature(Graph g)
    {
        _sb.Append('(');
        for (int i = 0; i < g.Inputs.Count; i++)
        {
            if (i > 0) _sb.Append(", ");
            var v = g.Inputs[i];
            ValueRef(v);
            if (v.Type is not null)
            {
                _sb.Append(": ");
                Type(v.Type);
            }
            if (v.Constant is { } c)
            {
                _sb.Append(" = ");
                if (v.Type is TensorType tt && tt.Equals(c.Type)) Dense(c);
                else Tensor(c);
            }
            if (v.DocString is not null) Suffix("doc", v.DocString);
        }
        _sb.Append(')');
        if (g.Captures.Count > 0)
        {
            _sb.Append(" captures(");
            for (int i = 0; i < g.Captures.Count; i++)
            {
                if (i > 0) _sb.Append(", ");
                var c = g.Captures[i];
                ValueRef(c);
                var outerType = c.Outer?.Type;
                if (!Equals(c.Type, outerType))
                {
                    _sb.Append(": ");
                    Type(c.Type);
                }
                if (c.Outer is { } o && o.Name != c.Name)
                {
                    _sb.Append(" = ");
                    ValueRef(o);
                }
            }
            _sb.Append(')');
        }
        _sb.Append(" -> (");
        for (int i = 0; i < g.Outputs.Count; i++)
        {
            if (i > 0) _sb.Append(", ");
            var v = g.Outputs[i];
            ValueRef(v);
            if (v.Type is not null)
            {
                _sb.Append(": ");
                Type(v.Type);
            }
            if (v.DocString is not null) Suffix("doc", v.DocString);
        }
        _sb.Append(')');
    }

    private void GraphAttributes(Graph g)
    {
        if (g.DocString is null && g.Metadata.Count == 0 && g.QuantizationAnnotations.Count == 0) return;
        _sb.Append(" attributes {");
        bool first = true;
        void Sep()
        {
            if (!first) _sb.Append(", ");
            first = false;
        }
        if (g.DocString is not null)
        {
            Sep();
            _sb.Append("doc = ");
            Str(g.DocString);
        }
        if (g.Metadata.Count > 0)
        {
            Sep();
            _sb.Append("metadata = ");
            Dict(g.Metadata);
        }
        if (g.QuantizationAnnotations.Count > 0)
        {
            Sep();
            _sb.Append("quantization = [");
            for (int i = 0; i < g.QuantizationAnnotations.Count; i++)
            {
                if (i > 0) _sb.Append(", ");
                var q = g.QuantizationAnnotations[i];
                Str(q.TensorName);
                _sb.Append(" = ");
                Dict(q.QuantParameterTensorNames);
            }
            _sb.Append(']');
        }
        _sb.Append('}');
    }

    private void Body(Graph g, int indent)
    {
        // Input defaults that lead the constant list in input order need no line of their own; any other
        // input default keeps its place in the constant list through a `const default` line.
        int leading = 0;
        {
            int ci = 0;
            foreach (var v in g.Inputs)
            {
                if (v.Constant is null) continue;
                if (ci < g.Constants.Count && g.Constants[ci] == v)
                {
                    ci++;
                    leading++;
                }
                else break;
            }
        }
        for (int i = 0; i < g.Constants.Count; i++)
        {
            var v = g.Constants[i];
            if (i < leading) continue;
            Indent(indent);
            ValueRef(v);
            if (v.Kind == ValueKind.Input)
            {
                _sb.Append(" = const default\n");
                continue;
            }
            if (v.SparseConstant is { } sc)
            {
                _sb.Append(" = sparse_const ");
                SparseFields(sc);
                if (!Equals(v.Type, sc.Type))
                {
                    _sb.Append(" : ");
                    Type(v.Type);
                }
            }
            else if (v.Constant is { } c)
            {
                _sb.Append(" = const ");
                Tensor(c);
                if (!Equals(v.Type, c.Type))
                {
                    _sb.Append(" : ");
                    Type(v.Type);
                }
            }
            else _sb.Append(" = const ?");
            _sb.Append('\n');
        }
        for (var n = g.FirstNode; n is not null; n = n.Next) WriteNode(n, indent);
        Indent(indent);
        _sb.Append("return");
        for (int i = 0; i < g.Outputs.Count; i++)
        {
            _sb.Append(i == 0 ? " " : ", ");
            ValueRef(g.Outputs[i]);
        }
        _sb.Append('\n');
    }

    private void WriteNode(Node n, int indent)
    {
        Indent(indent);
        var outs = n.Outputs;
        if (outs.Count > 0)
        {
            for (int i = 0; i < outs.Count; i++)
            {
                if (i > 0) _sb.Append(", ");
                if (outs[i].Name.Length == 0) _sb.Append('_');
                else ValueRef(outs[i]);
            }
            _sb.Append(" = ");
        }
        if (n.Domain.Length > 0)
        {
            OpWord(n.Domain);
            _sb.Append("::");
        }
        OpWord(n.OpType);
        if (n.Overload.Length > 0)
        {
            _sb.Append(':');
            OpWord(n.Overload);
        }
        var ins = n.Inputs;
        for (int i = 0; i < ins.Count; i++)
        {
            _sb.Append(i == 0 ? " " : ", ");
            if (ins[i] is { } v) ValueRef(v);
            else _sb.Append('_');
        }
        var attrs = n.Attributes;
        if (attrs.Count > 0 || n.Annotations.Count > 0)
        {
            _sb.Append(" {");
            bool first = true;
            foreach (var a in attrs)
            {
                if (!first) _sb.Append(", ");
                first = false;
                Attribute(a, indent);
            }
            foreach (var kv in n.Annotations)
            {
                if (!first) _sb.Append(", ");
                first = false;
                Key(kv.Key);
                _sb.Append(" = ");
                if (IrSyntax.IsIdent(kv.Value) && kv.Value is not ("inf" or "nan")) _sb.Append(kv.Value);
                else
                {
                    _sb.Append('!');
                    Str(kv.Value);
                }
            }
            _sb.Append('}');
        }
        if (outs.Count > 0)
        {
            _sb.Append(" : ");
            for (int i = 0; i < outs.Count; i++)
            {
                if (i > 0) _sb.Append(", ");
                Type(outs[i].Type);
            }
        }
        if (n.Name.Length > 0) Suffix("loc", n.Name);
        if (n.DocString is not null) Suffix("doc", n.DocString);
        if (n.HasMetadata)
        {
            _sb.Append(" meta ");
            Dict(n.Metadata);
        }
        _sb.Append('\n');
    }

    // ---- attributes ----

    private void Attribute(Attr a, int indent)
    {
        Key(a.Name);
        _sb.Append(" = ");
        AttrValue(a.Value, indent);
        if (a.DocString is not null) Suffix("doc", a.DocString);
    }

    private void AttrValue(AttrValue v, int indent)
    {
        switch (v)
        {
            case IntAttr i: _sb.Append(i.Value.ToString(Inv)); break;
            case FloatAttr f: FloatAttrText(f.Value); break;
            case StringAttr s: Str(s.Value); break;
            case TensorAttr t: Tensor(t.Value); break;
            case SparseTensorAttr s: Sparse(s.Value); break;
            case GraphAttr g: WriteGraph(g.Value, indent + 2); break;
            case TypeAttr t:
                _sb.Append("type<");
                Type(t.Value);
                _sb.Append('>');
                break;
            case IntsAttr l: List(l.Value, "ints", x => _sb.Append(x.ToString(Inv))); break;
            case FloatsAttr l: List(l.Value, "floats", FloatAttrText); break;
            case StringsAttr l: List(l.Value, "strings", Str); break;
            case TensorsAttr l: List(l.Value, "tensors", Tensor); break;
            case SparseTensorsAttr l: List(l.Value, "sparse_tensors", Sparse); break;
            case GraphsAttr l: List(l.Value, "graphs", g => WriteGraph(g, indent + 2)); break;
            case TypesAttr l:
                List(l.Value, "types", t =>
                {
                    _sb.Append("type<");
                    Type(t);
                    _sb.Append('>');
                });
                break;
            case RefAttr r:
                _sb.Append("ref<");
                Key(r.RefName);
                _sb.Append(", ").Append(KindName(r.RefKind)).Append('>');
                break;
            default: throw new InvalidOperationException($"cannot print attribute value {v.GetType().Name}");
        }
    }

    private void List<T>(System.Collections.Immutable.ImmutableArray<T> items, string kind, Action<T> item)
    {
        if (items.IsDefaultOrEmpty)
        {
            _sb.Append(kind).Append("[]");
            return;
        }
        _sb.Append('[');
        for (int i = 0; i < items.Length; i++)
        {
            if (i > 0) _sb.Append(", ");
            item(items[i]);
        }
        _sb.Append(']');
    }

    internal static string KindName(AttrKind k) => k switch
    {
        AttrKind.Float => "float",
        AttrKind.Int => "int",
        AttrKind.String => "string",
        AttrKind.Tensor => "tensor",
        AttrKind.Graph => "graph",
        AttrKind.Floats => "floats",
        AttrKind.Ints => "ints",
        AttrKind.Strings => "strings",
        AttrKind.Tensors => "tensors",
        AttrKind.Graphs => "graphs",
        AttrKind.SparseTensor => "sparse_tensor",
        AttrKind.SparseTensors => "sparse_tensors",
        AttrKind.TypeProto => "type_proto",
        AttrKind.TypeProtos => "type_protos",
        _ => "undefined",
    };

    private void FloatAttrText(float f)
    {
        if (FormatFloat(f) is { } s) _sb.Append(s);
        else _sb.Append("nan(0x").Append(BitConverter.SingleToUInt32Bits(f).ToString("x8", Inv)).Append(')');
    }

    // ---- types ----

    private void Type(IrType? t)
    {
        switch (t)
        {
            case null: _sb.Append('?'); break;
            case TensorType tt:
                _sb.Append(tt.ElementType.ShortName());
                Shape(tt.Shape);
                break;
            case SparseTensorType st:
                _sb.Append("sparse<").Append(st.ElementType.ShortName());
                Shape(st.Shape);
                _sb.Append('>');
                break;
            case SequenceType s:
                _sb.Append("seq<");
                Type(s.ElementType);
                _sb.Append('>');
                break;
            case OptionalType o:
                _sb.Append("opt<");
                Type(o.ElementType);
                _sb.Append('>');
                break;
            case MapType m:
                _sb.Append("map<").Append(m.KeyType.ShortName()).Append(", ");
                Type(m.ValueType);
                _sb.Append('>');
                break;
            case OpaqueType o:
                _sb.Append("opaque<");
                Str(o.Domain);
                _sb.Append(", ");
                Str(o.Name);
                _sb.Append('>');
                break;
            default: throw new InvalidOperationException($"cannot print type {t.GetType().Name}");
        }
    }

    private void Shape(Shape? s)
    {
        if (s is null)
        {
            _sb.Append("[*]");
            return;
        }
        _sb.Append('[');
        var dims = s.Dims;
        for (int i = 0; i < dims.Length; i++)
        {
            if (i > 0) _sb.Append(',');
            var d = dims[i];
            if (d.Size is { } size) _sb.Append(size.ToString(Inv));
            else if (d.Symbol is { } sym)
            {
                if (IrSyntax.IsIdent(sym)) _sb.Append(sym);
                else Str(sym);
            }
            else _sb.Append('?');
        }
        _sb.Append(']');
    }

    // ---- tensors ----

    private void Tensor(TensorConstant t)
    {
        _sb.Append(t.ElementType.ShortName()).Append('[');
        for (int i = 0; i < t.Dims.Length; i++)
        {
            if (i > 0) _sb.Append(',');
            _sb.Append(t.Dims[i].ToString(Inv));
        }
        _sb.Append("] ");
        Dense(t);
    }

    private void Sparse(SparseTensorConstant s)
    {
        _sb.Append("sparse(");
        SparseFields(s);
        _sb.Append(')');
    }

    private void SparseFields(SparseTensorConstant s)
    {
        _sb.Append("values: ");
        Tensor(s.Values);
        _sb.Append(", indices: ");
        Tensor(s.Indices);
        _sb.Append(", dims: [");
        for (int i = 0; i < s.Dims.Length; i++)
        {
            if (i > 0) _sb.Append(", ");
            _sb.Append(s.Dims[i].ToString(Inv));
        }
        _sb.Append(']');
    }

    /// <summary><c>dense&lt;...&gt;</c> and the tensor's own suffixes.</summary>
    private void Dense(TensorConstant t)
    {
        _sb.Append("dense<");
        if (!(t.Data.HasBytes && TryInline(t)))
        {
            var digest = t.Data.Sha256;
            _sb.Append("sha256:").Append(digest, 0, Math.Min(16, digest.Length))
                .Append(", ").Append(t.Data.ByteLength.ToString(Inv)).Append(" bytes");
        }
        _sb.Append('>');
        if (t.Name is not null) Suffix("name", t.Name);
        if (t.DocString is not null) Suffix("tensor_doc", t.DocString);
        if (t.Metadata.Count > 0)
        {
            _sb.Append(" tensor_meta ");
            Dict(t.Metadata);
        }
    }

    /// <summary>Element count from the dims, or -1 when a dim is negative or the product overflows.</summary>
    internal static long SafeCount(System.Collections.Immutable.ImmutableArray<long> dims)
    {
        long n = 1;
        foreach (var d in dims)
        {
            if (d < 0) return -1;
            try { n = checked(n * d); }
            catch (OverflowException) { return -1; }
        }
        return n;
    }

    internal static bool IsListType(DataType t) => t is DataType.Float or DataType.Double or DataType.Bool
        or DataType.Int8 or DataType.UInt8 or DataType.Int16 or DataType.UInt16
        or DataType.Int32 or DataType.UInt32 or DataType.Int64 or DataType.UInt64;

    private bool TryInline(TensorConstant t)
    {
        long count = SafeCount(t.Dims);
        var data = t.Data;
        if (data is StringTensorData sd)
        {
            if (count < 0 || count > IrPrinter.InlineElementLimit || sd.Strings.Count != count) return false;
            long total = 0;
            foreach (var s in sd.Strings) total += s.Length;
            if (total > IrPrinter.InlineStringByteLimit) return false;
            _sb.Append('[');
            for (int i = 0; i < sd.Strings.Count; i++)
            {
                if (i > 0) _sb.Append(", ");
                IrSyntax.AppendQuotedBytes(_sb, sd.Strings[i]);
            }
            _sb.Append(']');
            return true;
        }
        if (count < 0 || count > IrPrinter.InlineElementLimit) return false;
        long bytes = data.ByteLength;
        if (count == 0 && bytes == 0)
        {
            _sb.Append("[]");
            return true;
        }
        var type = t.ElementType;
        if (IsListType(type) && bytes == count * type.Facts().StorageBytes)
        {
            var span = data.Slice(0, (int)bytes);
            if (TryValues(type, span)) return true;
        }
        if (bytes > IrPrinter.InlineElementLimit * 16) return false;
        _sb.Append("0x").Append(Convert.ToHexString(data.Slice(0, (int)bytes)));
        return true;
    }

    private bool TryValues(DataType type, ReadOnlySpan<byte> span)
    {
        int size = type.Facts().StorageBytes;
        int count = span.Length / size;
        if (type is DataType.Float or DataType.Double)
        {
            var parts = new string[count];
            for (int i = 0; i < count; i++)
            {
                var s = type == DataType.Float
                    ? FormatFloat(BinaryPrimitives.ReadSingleLittleEndian(span[(i * 4)..]))
                    : FormatDouble(BinaryPrimitives.ReadDoubleLittleEndian(span[(i * 8)..]));
                if (s is null) return false;
                parts[i] = s;
            }
            _sb.Append('[').AppendJoin(", ", parts).Append(']');
            return true;
        }
        _sb.Append('[');
        for (int i = 0; i < count; i++)
        {
            if (i > 0) _sb.Append(", ");
            var e = span[(i * size)..];
            _sb.Append(type switch
            {
                DataType.Bool or DataType.UInt8 => e[0].ToString(Inv),
                DataType.Int8 => ((sbyte)e[0]).ToString(Inv),
                DataType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(e).ToString(Inv),
                DataType.UInt16 => BinaryPrimitives.ReadUInt16LittleEndian(e).ToString(Inv),
                DataType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(e).ToString(Inv),
                DataType.UInt32 => BinaryPrimitives.ReadUInt32LittleEndian(e).ToString(Inv),
                DataType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(e).ToString(Inv),
                DataType.UInt64 => BinaryPrimitives.ReadUInt64LittleEndian(e).ToString(Inv),
                _ => throw new InvalidOperationException(),
            });
        }
        _sb.Append(']');
        return true;
    }

    /// <summary>Shortest text that reads back to the same bits, or null for a NaN other than the two canonical ones.</summary>
    internal static string? FormatFloat(float v)
    {
        if (float.IsNaN(v))
            return BitConverter.SingleToUInt32Bits(v) switch { 0x7FC00000u => "nan", 0xFFC00000u => "-nan", _ => null };
        if (float.IsPositiveInfinity(v)) return "inf";
        if (float.IsNegativeInfinity(v)) return "-inf";
        var s = Decimalize(v.ToString("R", Inv));
        return BitConverter.SingleToUInt32Bits(float.Parse(s, NumberStyles.Float, Inv)) == BitConverter.SingleToUInt32Bits(v) ? s : null;
    }

    internal static string? FormatDouble(double v)
    {
        if (double.IsNaN(v))
            return BitConverter.DoubleToUInt64Bits(v) switch { 0x7FF8000000000000ul => "nan", 0xFFF8000000000000ul => "-nan", _ => null };
        if (double.IsPositiveInfinity(v)) return "inf";
        if (double.IsNegativeInfinity(v)) return "-inf";
        var s = Decimalize(v.ToString("R", Inv));
        return BitConverter.DoubleToUInt64Bits(double.Parse(s, NumberStyles.Float, Inv)) == BitConverter.DoubleToUInt64Bits(v) ? s : null;
    }

    private static string Decimalize(string s)
    {
        if (s.Contains('E')) return s.Replace('E', 'e');
        return s.Contains('.') ? s : s + ".0";
    }

    // ---- small pieces ----

    private void Indent(int n) => _sb.Append(' ', n);

    private void Str(string s) => IrSyntax.AppendQuoted(_sb, s);

    private void Suffix(string word, string text)
    {
        _sb.Append(' ').Append(word).Append('(');
        Str(text);
        _sb.Append(')');
    }

    private void Dict(IReadOnlyList<KeyValuePair<string, string>> kvs)
    {
        _sb.Append('{');
        for (int i = 0; i < kvs.Count; i++)
        {
            if (i > 0) _sb.Append(", ");
            Str(kvs[i].Key);
            _sb.Append(" = ");
            Str(kvs[i].Value);
        }
        _sb.Append('}');
    }

    /// <summary>A value reference: <c>%name</c> or <c>%"quoted"</c>.</summary>
    private void ValueRef(Value v)
    {
        _sb.Append('%');
        Name(v.Name);
    }

    private void Name(string name)
    {
        if (IrSyntax.IsBareName(name)) _sb.Append(name);
        else Str(name);
    }

    /// <summary>An attribute name, annotation key or function attribute name.</summary>
    private void Key(string name)
    {
        if (IrSyntax.IsIdent(name)) _sb.Append(name);
        else Str(name);
    }

    /// <summary>An operator, domain, overload or function name.</summary>
    private void OpWord(string w)
    {
        if (IrSyntax.IsIdent(w) && !ReservedOpWords.Contains(w)) _sb.Append(w);
        else Str(w);
    }
}
