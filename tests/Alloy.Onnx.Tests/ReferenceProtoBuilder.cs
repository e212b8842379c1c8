using Alloy.IR;
using Alloy.Onnx.Proto;
using Google.Protobuf;

namespace Alloy.Onnx.Tests;

/// <summary>
/// The exporter's former implementation, kept as the reference for <see cref="OnnxWireWriter"/>: it builds generated
/// <see cref="ModelProto"/> objects from the IR and lets Google.Protobuf serialize them. The wire writer must
/// produce exactly these bytes (see <see cref="WireWriterTests"/>).
/// </summary>
public static class ReferenceProtoBuilder
{
    private const int Alignment = 64;

    /// <summary>The model with every constant embedded.</summary>
    public static ModelProto ToProto(Model model) => ToProto(model, null);

    /// <summary>
    /// The model as <see cref="OnnxExporter.Save"/> writes it with an external-data threshold: initializers of at
    /// least <paramref name="threshold"/> bytes are placed in <paramref name="dataName"/> at 64-byte aligned offsets;
    /// <paramref name="data"/> receives the data file's bytes (empty when nothing went external).
    /// </summary>
    public static ModelProto ToProto(Model model, string dataName, long threshold, out byte[] data)
    {
        var external = new List<TensorData>();
        long dataLength = 0;
        bool PlaceExternally(TensorConstant c, TensorProto t)
        {
            if (c.Data is StringTensorData || c.Data.ByteLength < threshold || c.Data.ByteLength == 0) return false;
            long offset = (dataLength + Alignment - 1) / Alignment * Alignment;
            t.DataType = (int)c.ElementType;
            t.Dims.AddRange(c.Dims);
            t.DataLocation = TensorProto.Types.DataLocation.External;
            t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = dataName });
            t.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            t.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = c.Data.ByteLength.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            external.Add(c.Data);
            dataLength = offset + c.Data.ByteLength;
            return true;
        }
        var proto = ToProto(model, PlaceExternally);
        using var s = new MemoryStream();
        long pos = 0;
        foreach (var d in external)
        {
            long offset = (pos + Alignment - 1) / Alignment * Alignment;
            if (offset > pos) s.Write(new byte[offset - pos]);
            s.Write(d.AsSpan());
            pos = offset + d.ByteLength;
        }
        data = s.ToArray();
        return proto;
    }

    private static ModelProto ToProto(Model model, Func<TensorConstant, TensorProto, bool>? placeExternally)
    {
        var p = new ModelProto { IrVersion = model.IrVersion };
        if (model.ProducerName is not null) p.ProducerName = model.ProducerName;
        if (model.ProducerVersion is not null) p.ProducerVersion = model.ProducerVersion;
        if (model.Domain is not null) p.Domain = model.Domain;
        if (model.ModelVersion is { } mv) p.ModelVersion = mv;
        if (model.DocString is not null) p.DocString = model.DocString;
        foreach (var o in model.Opsets) p.OpsetImport.Add(new OperatorSetIdProto { Domain = o.Domain, Version = o.Version });
        p.MetadataProps.AddRange(Entries(model.Metadata));
        var writer = new Writer(placeExternally);
        p.Graph = writer.Graph(model.Graph);
        foreach (var t in model.OpaqueTrainingInfo) p.TrainingInfo.Add(TrainingInfoProto.Parser.ParseFrom(t));
        foreach (var f in model.Functions) p.Functions.Add(writer.Function(f));
        if (model.OpaqueExtraFields.Length > 0) p.MergeFrom(model.OpaqueExtraFields);
        return p;
    }

    private static IEnumerable<StringStringEntryProto> Entries(IEnumerable<KeyValuePair<string, string>> kv) =>
        kv.Select(e => new StringStringEntryProto { Key = e.Key, Value = e.Value });

    private sealed class Writer(Func<TensorConstant, TensorProto, bool>? placeExternally)
    {
        public GraphProto Graph(Graph g)
        {
            var gp = new GraphProto { Name = g.Name };
            if (g.DocString is not null) gp.DocString = g.DocString;
            gp.MetadataProps.AddRange(Entries(g.Metadata));
            foreach (var qa in g.QuantizationAnnotations)
            {
                var a = new Proto.TensorAnnotation { TensorName = qa.TensorName };
                a.QuantParameterTensorNames.AddRange(Entries(qa.QuantParameterTensorNames));
                gp.QuantizationAnnotation.Add(a);
            }
            foreach (var v in g.Inputs) gp.Input.Add(ValueInfo(v));
            foreach (var v in g.Constants)
            {
                if (v.SparseConstant is { } sc)
                {
                    var sp = Sparse(sc);
                    sp.Values.Name = v.Name;
                    gp.SparseInitializer.Add(sp);
                }
                else
                {
                    var t = Tensor(v.Constant!, allowExternal: true);
                    t.Name = v.Name;
                    gp.Initializer.Add(t);
                }
            }
            var outputs = new HashSet<Value>(g.Outputs);
            foreach (var n in g.Nodes)
            {
                gp.Node.Add(Node(n));
                foreach (var r in n.Outputs)
                    if (r.Type is not null && r.Name.Length > 0 && !outputs.Contains(r)) gp.ValueInfo.Add(ValueInfo(r));
            }
            foreach (var v in g.Outputs) gp.Output.Add(ValueInfo(v));
            return gp;
        }

        public FunctionProto Function(Function f)
        {
            var fp = new FunctionProto { Name = f.Name, Domain = f.Domain };
            if (f.Overload.Length > 0) fp.Overload = f.Overload;
            if (f.DocString is not null) fp.DocString = f.DocString;
            fp.Input.AddRange(f.Body.Inputs.Select(v => v.Name));
            fp.Output.AddRange(f.Body.Outputs.Select(v => v.Name));
            fp.Attribute.AddRange(f.AttributeNames);
            foreach (var a in f.AttributeDefaults) fp.AttributeProto.Add(Attribute(a));
            foreach (var o in f.Opsets) fp.OpsetImport.Add(new OperatorSetIdProto { Domain = o.Domain, Version = o.Version });
            fp.MetadataProps.AddRange(Entries(f.Metadata));
            foreach (var n in f.Body.Nodes)
            {
                fp.Node.Add(Node(n));
                foreach (var r in n.Outputs)
                    if (r.Type is not null && r.Name.Length > 0) fp.ValueInfo.Add(ValueInfo(r));
            }
            return fp;
        }

        private NodeProto Node(Node n)
        {
            var np = new NodeProto { OpType = n.OpType };
            if (n.Domain.Length > 0) np.Domain = n.Domain;
            if (n.Name.Length > 0) np.Name = n.Name;
            if (n.DocString is not null) np.DocString = n.DocString;
            if (n.Overload.Length > 0) np.Overload = n.Overload;
            foreach (var v in n.Inputs) np.Input.Add(v?.Name ?? "");
            foreach (var v in n.Outputs) np.Output.Add(v.Name);
            foreach (var a in n.Attributes) np.Attribute.Add(Attribute(a));
            if (n.HasMetadata) np.MetadataProps.AddRange(Entries(n.Metadata));
            return np;
        }

        private AttributeProto Attribute(Attr a)
        {
            var ap = new AttributeProto { Name = a.Name, Type = (AttributeProto.Types.AttributeType)(int)a.Kind };
            if (a.DocString is not null) ap.DocString = a.DocString;
            switch (a.Value)
            {
                case RefAttr r: ap.RefAttrName = r.RefName; break;
                case FloatAttr f: ap.F = f.Value; break;
                case IntAttr i: ap.I = i.Value; break;
                case StringAttr s: ap.S = ByteString.CopyFromUtf8(s.Value); break;
                case TensorAttr t: ap.T = Tensor(t.Value, allowExternal: false); break;
                case GraphAttr g: ap.G = Graph(g.Value); break;
                case FloatsAttr fs: ap.Floats.AddRange(fs.Value); break;
                case IntsAttr ints: ap.Ints.AddRange(ints.Value); break;
                case StringsAttr ss: ap.Strings.AddRange(ss.Value.Select(ByteString.CopyFromUtf8)); break;
                case TensorsAttr ts: ap.Tensors.AddRange(ts.Value.Select(t => Tensor(t, allowExternal: false))); break;
                case GraphsAttr gs: ap.Graphs.AddRange(gs.Value.Select(Graph)); break;
                case SparseTensorAttr st: ap.SparseTensor = Sparse(st.Value); break;
                case SparseTensorsAttr sts: ap.SparseTensors.AddRange(sts.Value.Select(Sparse)); break;
                case TypeAttr tp: ap.Tp = Type(tp.Value) ?? new TypeProto(); break;
                case TypesAttr tps: ap.TypeProtos.AddRange(tps.Value.Select(t => Type(t) ?? new TypeProto())); break;
            }
            return ap;
        }

        private TensorProto Tensor(TensorConstant c, bool allowExternal)
        {
            var t = new TensorProto();
            if (c.Name is not null) t.Name = c.Name;
            if (c.DocString is not null) t.DocString = c.DocString;
            t.MetadataProps.AddRange(Entries(c.Metadata));
            if (!(allowExternal && placeExternally is not null && placeExternally(c, t)))
                WriteEmbedded(t, c);
            return t;
        }

        private static void WriteEmbedded(TensorProto t, TensorConstant c)
        {
            t.DataType = (int)c.ElementType;
            t.Dims.AddRange(c.Dims);
            if (c.Data is StringTensorData s)
            {
                foreach (var b in s.Strings) t.StringData.Add(ByteString.CopyFrom(b));
                return;
            }
            if (!c.Data.HasBytes)
                throw new InvalidOperationException($"constant '{c.Name}' has no bytes (it was read from IR text holding only its digest)");
            t.RawData = UnsafeByteOperations.UnsafeWrap(c.Data is ArrayTensorData a ? a.Bytes : c.Data.AsSpan().ToArray());
        }

        private SparseTensorProto Sparse(SparseTensorConstant s)
        {
            var sp = new SparseTensorProto { Values = Tensor(s.Values, false), Indices = Tensor(s.Indices, false) };
            sp.Dims.AddRange(s.Dims);
            return sp;
        }

        private static ValueInfoProto ValueInfo(Value v)
        {
            var vi = new ValueInfoProto { Name = v.Name };
            if (Type(v.Type) is { } t) vi.Type = t;
            if (v.DocString is not null) vi.DocString = v.DocString;
            return vi;
        }

        private static TypeProto? Type(IrType? type)
        {
            switch (type)
            {
                case null: return null;
                case TensorType t:
                    var tt = new TypeProto.Types.Tensor { ElemType = (int)t.ElementType };
                    if (t.Shape is not null) tt.Shape = Shape(t.Shape);
                    return new TypeProto { TensorType = tt };
                case SparseTensorType s:
                    var st = new TypeProto.Types.SparseTensor { ElemType = (int)s.ElementType };
                    if (s.Shape is not null) st.Shape = Shape(s.Shape);
                    return new TypeProto { SparseTensorType = st };
                case SequenceType q:
                    var sq = new TypeProto.Types.Sequence();
                    if (Type(q.ElementType) is { } e) sq.ElemType = e;
                    return new TypeProto { SequenceType = sq };
                case OptionalType o:
                    var op = new TypeProto.Types.Optional();
                    if (Type(o.ElementType) is { } oe) op.ElemType = oe;
                    return new TypeProto { OptionalType = op };
                case MapType m:
                    var mp = new TypeProto.Types.Map { KeyType = (int)m.KeyType };
                    if (Type(m.ValueType) is { } mv) mp.ValueType = mv;
                    return new TypeProto { MapType = mp };
                case OpaqueType o:
                    return new TypeProto { OpaqueType = new TypeProto.Types.Opaque { Domain = o.Domain, Name = o.Name } };
                default:
                    throw new InvalidOperationException($"unknown IR type {type}");
            }
        }

        private static TensorShapeProto Shape(Shape s)
        {
            var sp = new TensorShapeProto();
            foreach (var d in s.Dims)
            {
                var dp = new TensorShapeProto.Types.Dimension();
                if (d.Size is { } size) dp.DimValue = size;
                else if (d.Symbol is { } sym) dp.DimParam = sym;
                sp.Dim.Add(dp);
            }
            return sp;
        }
    }
}
