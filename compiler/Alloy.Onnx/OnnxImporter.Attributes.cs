using System.Buffers;
using System.Collections.Immutable;
using System.Runtime.InteropServices;
using Alloy.IR;
using Alloy.Onnx.Proto;

namespace Alloy.Onnx;

/// <summary>Attributes and types.</summary>
public sealed partial class OnnxImporter
{
    /// <summary>
    /// Decodes an AttributeProto of <paramref name="node"/> (in <paramref name="where"/>, the scope), or, when
    /// <paramref name="node"/> is null, one described by <paramref name="where"/> (a function's attribute default).
    /// Messages are formatted only when one is needed.
    /// </summary>
    private Attr ImportAttribute(Slice s, Graph owner, Node? node, string? where)
    {
        var encoded = Bytes(s);
        int key = HashOf(encoded);
        if (_sharedAttrs.TryGetValue(key, out var shared))
        {
            foreach (var (bytes, known) in shared)
                if (encoded.SequenceEqual(Bytes(bytes))) return known;
        }
        var attr = DecodeAttribute(s, owner, node, where);
        if (attr.Value is IntAttr or FloatAttr or StringAttr or IntsAttr or FloatsAttr or StringsAttr)
        {
            if (shared is null) _sharedAttrs[key] = shared = [];
            shared.Add((s, attr));
        }
        return attr;
    }

    private Attr DecodeAttribute(Slice s, Graph owner, Node? node, string? where)
    {
        var r = Reader(s);
        string name = "";
        string? doc = null, refName = null;
        int? type = null;
        float? f = null;
        long? i = null;
        string? str = null;
        Slice? t = null, gr = null, tp = null, sp = null;
        bool hasFloats = false, hasInts = false;
        // Scratch lists reused across attributes: their contents are copied out before anything can recurse.
        _attrFloats.ResetWrittenCount();
        _attrInts.Clear();
        List<string>? strings = null;
        List<Slice>? tensors = null, graphs = null, typeProtos = null, sparses = null;
        while (r.Next())
        {
            switch (r.Field)
            {
                case AttributeProto.NameFieldNumber: name = Intern(r.ReadBytes()); break;
                case AttributeProto.FFieldNumber: f = r.ReadFloat(); break;
                case AttributeProto.IFieldNumber: i = r.ReadInt64(); break;
                case AttributeProto.SFieldNumber: str = r.ReadString(); break;
                case AttributeProto.TFieldNumber: t = r.ReadSlice(); break;
                case AttributeProto.GFieldNumber: gr = r.ReadSlice(); break;
                case AttributeProto.FloatsFieldNumber: r.ReadRepeatedFixed(WireType.Fixed32, _attrFloats); hasFloats = true; break;
                case AttributeProto.IntsFieldNumber: r.ReadRepeatedVarint(_attrInts); hasInts = true; break;
                case AttributeProto.StringsFieldNumber: (strings ??= []).Add(r.ReadString()); break;
                case AttributeProto.TensorsFieldNumber: (tensors ??= []).Add(r.ReadSlice()); break;
                case AttributeProto.GraphsFieldNumber: (graphs ??= []).Add(r.ReadSlice()); break;
                case AttributeProto.DocStringFieldNumber: doc = r.ReadString(); break;
                case AttributeProto.TpFieldNumber: tp = r.ReadSlice(); break;
                case AttributeProto.TypeProtosFieldNumber: (typeProtos ??= []).Add(r.ReadSlice()); break;
                case AttributeProto.TypeFieldNumber: type = r.ReadInt32(); break;
                case AttributeProto.RefAttrNameFieldNumber: refName = r.ReadString(); break;
                case AttributeProto.SparseTensorFieldNumber: sp = r.ReadSlice(); break;
                case AttributeProto.SparseTensorsFieldNumber: (sparses ??= []).Add(r.ReadSlice()); break;
                default: r.Skip(); break;
            }
        }
        if (!string.IsNullOrEmpty(refName))
            return new Attr(name, new RefAttr(refName, (AttrKind)(type ?? 0))) { DocString = doc };
        var kind = type is { } k ? (AttrKind)k
            : f.HasValue ? AttrKind.Float : i.HasValue ? AttrKind.Int : str is not null ? AttrKind.String
            : t.HasValue ? AttrKind.Tensor : gr.HasValue ? AttrKind.Graph : hasFloats ? AttrKind.Floats
            : hasInts ? AttrKind.Ints : strings is not null ? AttrKind.Strings : tensors is not null ? AttrKind.Tensors
            : graphs is not null ? AttrKind.Graphs
            : throw Fail("the attribute has no type and no value", Where());
        AttrValue value = kind switch
        {
            AttrKind.Float => new FloatAttr(f ?? 0),
            AttrKind.Int => new IntAttr(i ?? 0),
            AttrKind.String => new StringAttr(str ?? ""),
            AttrKind.Tensor => new TensorAttr(ImportTensor(t ?? throw Fail("tensor attribute has no tensor", Ctx()), Ctx(), null, named: true).Constant),
            AttrKind.Graph => new GraphAttr(ImportGraph(gr ?? throw Fail("graph attribute has no graph", Ctx()), owner)),
            AttrKind.Floats => new FloatsAttr([.. MemoryMarshal.Cast<byte, float>(_attrFloats.WrittenSpan)]),
            AttrKind.Ints => new IntsAttr([.. CollectionsMarshal.AsSpan(_attrInts)]),
            AttrKind.Strings => new StringsAttr(strings is null ? [] : [.. strings]),
            AttrKind.Tensors => new TensorsAttr(tensors is null ? [] : ImportAll(tensors, Ctx(), (self, x, ctx) => self.ImportTensor(x, ctx, null, named: true).Constant)),
            AttrKind.Graphs => new GraphsAttr(graphs is null ? [] : ImportAll(graphs, owner, (self, x, o) => self.ImportGraph(x, o))),
            AttrKind.SparseTensor => new SparseTensorAttr(ImportSparse(sp ?? throw Fail("sparse tensor attribute has no value", Ctx()), Ctx(), null).Constant),
            AttrKind.SparseTensors => new SparseTensorsAttr(sparses is null ? [] : ImportAll(sparses, Ctx(), (self, x, ctx) => self.ImportSparse(x, ctx, null).Constant)),
            AttrKind.TypeProto => new TypeAttr(ImportType(tp, Ctx(), null)),
            AttrKind.TypeProtos => new TypesAttr(typeProtos is null ? [] : ImportAll(typeProtos, Ctx(), (self, x, ctx) => self.ImportType(x, ctx, null))),
            _ => throw Fail($"unknown attribute type {(int)kind}", Where()),
        };
        return new Attr(name, value) { DocString = doc };

        string Where() => node is null ? where! : Describe(node, where);
        string Ctx() => $"{Where()}, attribute '{name}'";
    }

    /// <summary>Decodes each slice with <paramref name="decode"/> (a non-capturing lambda: no closure per attribute).</summary>
    private ImmutableArray<T> ImportAll<T, TState>(List<Slice> slices, TState state, Func<OnnxImporter, Slice, TState, T> decode)
    {
        var items = ImmutableArray.CreateBuilder<T>(slices.Count);
        foreach (var x in slices) items.Add(decode(this, x, state));
        return items.MoveToImmutable();
    }

    // ---------------------------------------------------------------- types

    /// <summary>The IR type of a TypeProto; identical encodings share one (immutable) type object.</summary>
    private IrType? ImportType(Slice? slice, What what, string? scope)
    {
        if (slice is not { } s) return null;
        var bytes = Bytes(s);
        // Runs of values share a type: compare with the last one before hashing.
        if (_lastType is { } last && bytes.SequenceEqual(Bytes(last.Slice))) return last.Type;
        int hash = HashOf(bytes);
        if (_types.TryGetValue(hash, out var bucket))
        {
            foreach (var (b, t) in bucket)
            {
                if (!bytes.SequenceEqual(b)) continue;
                _lastType = (s, t);
                return t;
            }
        }
        else
        {
            _types[hash] = bucket = [];
        }
        var type = DecodeType(s, what, scope);
        bucket.Add((bytes.ToArray(), type));
        _lastType = (s, type);
        return type;
    }

    private IrType? DecodeType(Slice s, What what, string? scope)
    {
        var r = Reader(s);
        IrType? result = null;
        while (r.Next())
        {
            switch (r.Field)
            {
                case TypeProto.TensorTypeFieldNumber:
                    var (elem, shape) = DecodeTensorType(r.ReadSlice(), what, scope);
                    result = new TensorType(elem, shape);
                    break;
                case TypeProto.SparseTensorTypeFieldNumber:
                    var (selem, sshape) = DecodeTensorType(r.ReadSlice(), what, scope);
                    result = new SparseTensorType(selem, sshape);
                    break;
                case TypeProto.SequenceTypeFieldNumber:
                    result = new SequenceType(ImportType(SingleField(r.ReadSlice(), TypeProto.Types.Sequence.ElemTypeFieldNumber), what, scope));
                    break;
                case TypeProto.OptionalTypeFieldNumber:
                    result = new OptionalType(ImportType(SingleField(r.ReadSlice(), TypeProto.Types.Optional.ElemTypeFieldNumber), what, scope));
                    break;
                case TypeProto.MapTypeFieldNumber:
                    var mr = Reader(r.ReadSlice());
                    int key = 0;
                    Slice? valueType = null;
                    while (mr.Next())
                    {
                        if (mr.Field == TypeProto.Types.Map.KeyTypeFieldNumber) key = mr.ReadInt32();
                        else if (mr.Field == TypeProto.Types.Map.ValueTypeFieldNumber) valueType = mr.ReadSlice();
                        else mr.Skip();
                    }
                    result = new MapType(ElementType(key, what, scope), ImportType(valueType, what, scope));
                    break;
                case TypeProto.OpaqueTypeFieldNumber:
                    var or = Reader(r.ReadSlice());
                    string dom = "", nm = "";
                    while (or.Next())
                    {
                        if (or.Field == TypeProto.Types.Opaque.DomainFieldNumber) dom = or.ReadString();
                        else if (or.Field == TypeProto.Types.Opaque.NameFieldNumber) nm = or.ReadString();
                        else or.Skip();
                    }
                    result = new OpaqueType(dom, nm);
                    break;
                default:
                    r.Skip();
                    break;
            }
        }
        return result;
    }

    private Slice? SingleField(Slice s, int field)
    {
        var r = Reader(s);
        Slice? found = null;
        while (r.Next())
        {
            if (r.Field == field) found = r.ReadSlice();
            else r.Skip();
        }
        return found;
    }

    private (DataType, Shape?) DecodeTensorType(Slice s, What what, string? scope)
    {
        var r = Reader(s);
        int elem = 0;
        Shape? shape = null;
        while (r.Next())
        {
            switch (r.Field)
            {
                case TypeProto.Types.Tensor.ElemTypeFieldNumber: elem = r.ReadInt32(); break;
                case TypeProto.Types.Tensor.ShapeFieldNumber: shape = DecodeShape(r.ReadSlice()); break;
                default: r.Skip(); break;
            }
        }
        return (ElementType(elem, what, scope), shape);
    }

    private Shape DecodeShape(Slice s)
    {
        var r = Reader(s);
        var dims = ImmutableArray.CreateBuilder<Dim>();
        while (r.Next())
        {
            if (r.Field != TensorShapeProto.DimFieldNumber) { r.Skip(); continue; }
            var dr = Reader(r.ReadSlice());
            var dim = Dim.Unknown;
            while (dr.Next())
            {
                switch (dr.Field)
                {
                    case TensorShapeProto.Types.Dimension.DimValueFieldNumber: dim = Dim.Of(dr.ReadInt64()); break;
                    case TensorShapeProto.Types.Dimension.DimParamFieldNumber: dim = Dim.Named(Intern(dr.ReadBytes())); break;
                    default: dr.Skip(); break;
                }
            }
            dims.Add(dim);
        }
        return new Shape(dims.ToImmutable());
    }

    private DataType ElementType(int code, What what, string? scope) =>
        DataTypes.IsKnown(code) ? (DataType)code : throw Fail($"{what} has unknown element type {code}", scope);

    /// <summary>What a type belongs to, for messages; formatted only when one is written.</summary>
    /// <param name="Subject">A name, or the <see cref="Value"/> whose name it is (read only for a message).</param>
    private readonly record struct What(string Kind, object? Subject)
    {
        public static implicit operator What(string text) => new(text, null);
        public override string ToString() => Subject switch
        {
            null => Kind,
            Value v => $"{Kind} '{v.Name}'",
            var name => $"{Kind} '{name}'",
        };
    }

    // ---------------------------------------------------------------- strings

    /// <summary>Decodes a short, frequently repeated string (op types, domains, attribute names, dim symbols) once.</summary>
    private string Intern(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length == 0) return "";
        if (utf8.Length > 64) return Utf8.GetString(utf8);
        int hash = HashOf(utf8);
        if (_strings.TryGetValue(hash, out var bucket))
        {
            foreach (var (b, text) in bucket)
                if (utf8.SequenceEqual(b)) return text;
        }
        else
        {
            _strings[hash] = bucket = [];
        }
        var s = Utf8.GetString(utf8);
        bucket.Add((utf8.ToArray(), s));
        return s;
    }

    private static int HashOf(ReadOnlySpan<byte> bytes)
    {
        var h = new HashCode();
        h.AddBytes(bytes);
        return h.ToHashCode();
    }
}
