using System.Collections.Immutable;
using Alloy.IR;
using Alloy.Onnx.Proto;
using Google.Protobuf;

namespace Alloy.Onnx;

/// <summary>
/// Reads an ONNX model into the IR. Every error is an <see cref="OnnxImportException"/> naming the file, the node
/// and the reason. External data is memory-mapped, never copied into managed memory.
/// </summary>
public sealed class OnnxImporter
{
    private readonly string _file;
    private readonly string _baseDir;
    private readonly Dictionary<string, MappedFile> _mapped = new(StringComparer.Ordinal);
    private Model? _model;

    private OnnxImporter(string file, string baseDir)
    {
        _file = file;
        _baseDir = baseDir;
    }

    /// <summary>Loads a model file. External-data paths resolve relative to the file's folder.</summary>
    public static Model Load(string path)
    {
        var full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new OnnxImportException(path, null, "file not found");
        ModelProto proto;
        try
        {
            using var stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            if (stream.Length == 0) throw new OnnxImportException(path, null, "the file is empty");
            if (stream.Length > int.MaxValue)
                throw new OnnxImportException(path, null, $"the protobuf part is {stream.Length} bytes; a model above 2 GiB must keep its weights as external data");
            proto = ModelProto.Parser.ParseFrom(stream);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new OnnxImportException(path, null, $"not a valid ONNX protobuf ({e.Message.TrimEnd('.')}); the file is truncated or not an ONNX model", e);
        }
        catch (IOException e)
        {
            throw new OnnxImportException(path, null, $"cannot read the file: {e.Message}", e);
        }
        return FromProto(proto, path, Path.GetDirectoryName(full) ?? ".");
    }

    /// <summary>Converts a parsed model. <paramref name="file"/> names it in messages; <paramref name="baseDir"/> anchors external data.</summary>
    public static Model FromProto(ModelProto proto, string file, string baseDir)
    {
        var importer = new OnnxImporter(file, baseDir);
        try
        {
            return importer.ImportModel(proto);
        }
        catch
        {
            importer._model?.Dispose();
            foreach (var m in importer._mapped.Values) m.Dispose();
            throw;
        }
    }

    private OnnxImportException Fail(string reason, string? node = null) => new(_file, node, reason);

    private Model ImportModel(ModelProto p)
    {
        if (p.Graph is null)
            throw Fail(p.CalculateSize() == 0 ? "not an ONNX model: no fields were read" : "the model has no graph");
        if (!p.HasIrVersion) throw Fail("the model has no ir_version; the file is probably not an ONNX model");

        var graph = new Graph(p.Graph.Name);
        var model = new Model(graph)
        {
            IrVersion = p.IrVersion,
            ProducerName = p.HasProducerName ? p.ProducerName : null,
            ProducerVersion = p.HasProducerVersion ? p.ProducerVersion : null,
            Domain = p.HasDomain ? p.Domain : null,
            ModelVersion = p.HasModelVersion ? p.ModelVersion : null,
            DocString = p.HasDocString ? p.DocString : null,
            SourcePath = _file,
        };
        _model = model;
        foreach (var o in p.OpsetImport) model.Opsets.Add(new OpsetImport(o.Domain, o.Version));
        foreach (var e in p.MetadataProps) model.Metadata.Add(new(e.Key, e.Value));
        foreach (var t in p.TrainingInfo) model.OpaqueTrainingInfo.Add(t.ToByteArray());

        model.OpaqueExtraFields = UninterpretedFields(p);

        ImportGraphInto(graph, p.Graph);
        foreach (var fp in p.Functions) model.Functions.Add(ImportFunction(fp));
        foreach (var m in _mapped.Values) model.AddResource(m);
        return model;
    }

    /// <summary>The serialized fields of the model record the IR does not model (kept and written back unchanged).</summary>
    private static byte[] UninterpretedFields(ModelProto p)
    {
        // Detach the large modelled parts so the copy stays small, then restore them.
        var graph = p.Graph;
        var functions = p.Functions.ToArray();
        var training = p.TrainingInfo.ToArray();
        p.Graph = null;
        p.Functions.Clear();
        p.TrainingInfo.Clear();
        var rest = new ModelProto(p);
        p.Graph = graph;
        p.Functions.AddRange(functions);
        p.TrainingInfo.AddRange(training);
        rest.ClearIrVersion(); rest.ClearProducerName(); rest.ClearProducerVersion(); rest.ClearDomain();
        rest.ClearModelVersion(); rest.ClearDocString(); rest.OpsetImport.Clear(); rest.MetadataProps.Clear();
        return rest.ToByteArray();
    }

    private Function ImportFunction(FunctionProto fp)
    {
        var body = new Graph(fp.Name);
        var fn = new Function(fp.Domain, fp.Name, body)
        {
            Overload = fp.Overload,
            DocString = fp.HasDocString ? fp.DocString : null,
        };
        fn.AttributeNames.AddRange(fp.Attribute);
        foreach (var a in fp.AttributeProto) fn.AttributeDefaults.Add(ImportAttribute(a, body, $"function '{fp.Name}'"));
        foreach (var o in fp.OpsetImport) fn.Opsets.Add(new OpsetImport(o.Domain, o.Version));
        foreach (var e in fp.MetadataProps) fn.Metadata.Add(new(e.Key, e.Value));
        foreach (var name in fp.Input) Define(() => body.AddInput(name, null), name, $"function '{fp.Name}'");
        ImportNodes(body, fp.Node, $"function '{fp.Name}'");
        foreach (var vi in fp.ValueInfo) ApplyValueInfo(body, vi);
        foreach (var name in fp.Output)
            body.AddOutput(Resolve(body, name) ?? throw Fail($"output '{name}' is not defined", $"function '{fp.Name}'"));
        return fn;
    }

    private void ImportGraphInto(Graph g, GraphProto gp)
    {
        string where = g.Parent is null ? "" : $"subgraph '{gp.Name}'";
        string? scope = g.Parent is null ? null : where;
        g.DocString = gp.HasDocString ? gp.DocString : null;
        foreach (var e in gp.MetadataProps) g.Metadata.Add(new(e.Key, e.Value));
        foreach (var qa in gp.QuantizationAnnotation)
            g.QuantizationAnnotations.Add(new Alloy.IR.TensorAnnotation(qa.TensorName, qa.QuantParameterTensorNames.Select(e => new KeyValuePair<string, string>(e.Key, e.Value)).ToList()));

        foreach (var vi in gp.Input)
        {
            var v = Define(() => g.AddInput(vi.Name, ImportType(vi.Type, $"input '{vi.Name}'", scope)), vi.Name, scope);
            v.DocString = vi.HasDocString ? vi.DocString : null;
        }
        foreach (var t in gp.Initializer)
        {
            var c = ImportTensor(t, $"initializer '{t.Name}'", scope, named: false);
            var existing = g.FindLocal(t.Name);
            if (existing is { Kind: ValueKind.Input, Constant: null }) g.SetInputDefault(existing, c);
            else Define(() => g.AddConstant(t.Name, c), t.Name, scope);
        }
        foreach (var s in gp.SparseInitializer)
        {
            string name = s.Values?.Name ?? "";
            var sc = ImportSparse(s, $"sparse initializer '{name}'", scope);
            Define(() => g.AddSparseConstant(name, sc), name, scope);
        }

        ImportNodes(g, gp.Node, scope);

        foreach (var vi in gp.ValueInfo) ApplyValueInfo(g, vi);
        foreach (var vi in gp.Output)
        {
            var v = Resolve(g, vi.Name) ?? throw Fail($"graph output '{vi.Name}' is not defined by any node, input or initializer", scope);
            var type = ImportType(vi.Type, $"output '{vi.Name}'", scope);
            if (type is not null && (v.Type is null || v.Kind == ValueKind.NodeResult)) v.Type = type;
            if (vi.HasDocString) v.DocString = vi.DocString;
            g.AddOutput(v);
        }
    }

    private Value Define(Func<Value> define, string name, string? scope)
    {
        try
        {
            return define();
        }
        catch (IrException)
        {
            throw Fail($"'{name}' has two definitions", scope);
        }
    }

    private void ApplyValueInfo(Graph g, ValueInfoProto vi)
    {
        var v = g.FindLocal(vi.Name);
        if (v is null || v.Kind != ValueKind.NodeResult) return;
        v.Type = ImportType(vi.Type, $"value_info '{vi.Name}'", null);
        if (vi.HasDocString) v.DocString = vi.DocString;
    }

    /// <summary>Finds <paramref name="name"/> in <paramref name="g"/>, capturing it from an enclosing graph when needed.</summary>
    private static Value? Resolve(Graph g, string name)
    {
        var local = g.FindLocal(name);
        if (local is not null) return local;
        var outer = g.Parent?.Lookup(name);
        return outer is null ? null : g.Capture(outer);
    }

    private void ImportNodes(Graph g, IList<NodeProto> protos, string? scope)
    {
        // Pass 1: every node and its results, so operands may refer to nodes listed later.
        var nodes = new Node[protos.Count];
        for (int i = 0; i < protos.Count; i++)
        {
            var np = protos[i];
            var node = g.AddNode(np.OpType, [], [], np.Domain);
            node.Name = np.Name;
            node.DocString = np.HasDocString ? np.DocString : null;
            node.Overload = np.Overload;
            foreach (var e in np.MetadataProps) node.Metadata.Add(new(e.Key, e.Value));
            foreach (var o in np.Output)
            {
                try
                {
                    g.AddResult(node, o, null);
                }
                catch (IrException)
                {
                    throw Fail($"output '{o}' has two definitions", Describe(np, scope));
                }
            }
            nodes[i] = node;
        }
        // Pass 2: operands and attributes (subgraphs capture from the now complete scope).
        for (int i = 0; i < protos.Count; i++)
        {
            var np = protos[i];
            var node = nodes[i];
            foreach (var name in np.Input)
            {
                if (name.Length == 0)
                {
                    g.AddOperand(node, null);
                    continue;
                }
                var v = Resolve(g, name) ?? throw Fail(
                    g.Parent is null ? $"input '{name}' is not defined by any node, graph input or initializer"
                                     : $"input '{name}' is not defined in the subgraph or any enclosing graph",
                    Describe(np, scope));
                g.AddOperand(node, v);
            }
            foreach (var ap in np.Attribute)
                node.SetAttribute(ImportAttribute(ap, g, Describe(np, scope)));
            if (node.Attributes.Count != np.Attribute.Count)
                throw Fail("an attribute name appears twice", Describe(np, scope));
        }
        try
        {
            g.SortTopologically();
        }
        catch (IrException e)
        {
            throw Fail(e.Message, scope);
        }
    }

    private static string Describe(NodeProto np, string? scope)
    {
        var what = string.IsNullOrEmpty(np.Name) ? $"{np.OpType} node" : $"node '{np.Name}' ({np.OpType})";
        if (string.IsNullOrEmpty(np.Name) && np.Output.Count > 0) what = $"{np.OpType} node producing '{np.Output[0]}'";
        return scope is null ? what : $"{scope}, {what}";
    }

    private Attr ImportAttribute(AttributeProto a, Graph owner, string where)
    {
        string ctx = $"{where}, attribute '{a.Name}'";
        var kind = (AttrKind)(int)a.Type;
        if (a.HasRefAttrName && a.RefAttrName.Length > 0)
            return new Attr(a.Name, new RefAttr(a.RefAttrName, kind)) { DocString = a.HasDocString ? a.DocString : null };
        if (!a.HasType)
            kind = InferKind(a) ?? throw Fail("the attribute has no type and no value", where);
        AttrValue value = kind switch
        {
            AttrKind.Float => new FloatAttr(a.F),
            AttrKind.Int => new IntAttr(a.I),
            AttrKind.String => new StringAttr(a.S.ToStringUtf8()),
            AttrKind.Tensor => new TensorAttr(ImportTensor(a.T ?? throw Fail("tensor attribute has no tensor", ctx), ctx, null)),
            AttrKind.Graph => new GraphAttr(ImportSubgraph(a.G ?? throw Fail("graph attribute has no graph", ctx), owner)),
            AttrKind.Floats => new FloatsAttr([.. a.Floats]),
            AttrKind.Ints => new IntsAttr([.. a.Ints]),
            AttrKind.Strings => new StringsAttr([.. a.Strings.Select(s => s.ToStringUtf8())]),
            AttrKind.Tensors => new TensorsAttr([.. a.Tensors.Select(t => ImportTensor(t, ctx, null))]),
            AttrKind.Graphs => new GraphsAttr([.. a.Graphs.Select(gp => ImportSubgraph(gp, owner))]),
            AttrKind.SparseTensor => new SparseTensorAttr(ImportSparse(a.SparseTensor ?? throw Fail("sparse tensor attribute has no value", ctx), ctx, null)),
            AttrKind.SparseTensors => new SparseTensorsAttr([.. a.SparseTensors.Select(s => ImportSparse(s, ctx, null))]),
            AttrKind.TypeProto => new TypeAttr(ImportType(a.Tp, ctx, null)),
            AttrKind.TypeProtos => new TypesAttr([.. a.TypeProtos.Select(t => ImportType(t, ctx, null))]),
            _ => throw Fail($"unknown attribute type {(int)a.Type}", where),
        };
        return new Attr(a.Name, value) { DocString = a.HasDocString ? a.DocString : null };
    }

    private static AttrKind? InferKind(AttributeProto a) =>
        a.HasF ? AttrKind.Float : a.HasI ? AttrKind.Int : a.HasS ? AttrKind.String : a.T is not null ? AttrKind.Tensor :
        a.G is not null ? AttrKind.Graph : a.Floats.Count > 0 ? AttrKind.Floats : a.Ints.Count > 0 ? AttrKind.Ints :
        a.Strings.Count > 0 ? AttrKind.Strings : a.Tensors.Count > 0 ? AttrKind.Tensors : a.Graphs.Count > 0 ? AttrKind.Graphs : null;

    private Graph ImportSubgraph(GraphProto gp, Graph parent)
    {
        var sub = new Graph(gp.Name, parent);
        ImportGraphInto(sub, gp);
        return sub;
    }

    private IrType? ImportType(TypeProto? t, string what, string? scope)
    {
        if (t is null) return null;
        switch (t.ValueCase)
        {
            case TypeProto.ValueOneofCase.TensorType:
                return new TensorType(ElementType(t.TensorType.ElemType, what, scope), ImportShape(t.TensorType.Shape));
            case TypeProto.ValueOneofCase.SparseTensorType:
                return new SparseTensorType(ElementType(t.SparseTensorType.ElemType, what, scope), ImportShape(t.SparseTensorType.Shape));
            case TypeProto.ValueOneofCase.SequenceType:
                return new SequenceType(ImportType(t.SequenceType.ElemType, what, scope));
            case TypeProto.ValueOneofCase.OptionalType:
                return new OptionalType(ImportType(t.OptionalType.ElemType, what, scope));
            case TypeProto.ValueOneofCase.MapType:
                return new MapType(ElementType(t.MapType.KeyType, what, scope), ImportType(t.MapType.ValueType, what, scope));
            case TypeProto.ValueOneofCase.OpaqueType:
                return new OpaqueType(t.OpaqueType.Domain, t.OpaqueType.Name);
            default:
                return null;
        }
    }

    private DataType ElementType(int code, string what, string? scope) =>
        DataTypes.IsKnown(code) ? (DataType)code : throw Fail($"{what} has unknown element type {code}", scope);

    private static Shape? ImportShape(TensorShapeProto? s)
    {
        if (s is null) return null;
        var dims = ImmutableArray.CreateBuilder<Dim>(s.Dim.Count);
        foreach (var d in s.Dim)
        {
            dims.Add(d.ValueCase switch
            {
                TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue => Dim.Of(d.DimValue),
                TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam => Dim.Named(d.DimParam),
                _ => Dim.Unknown,
            });
        }
        return new Shape(dims.MoveToImmutable());
    }

    private SparseTensorConstant ImportSparse(SparseTensorProto s, string what, string? scope)
    {
        var values = s.Values ?? throw Fail($"{what} has no values", scope);
        var indices = s.Indices ?? throw Fail($"{what} has no indices", scope);
        return new SparseTensorConstant(ImportTensor(values, what + " values", scope), ImportTensor(indices, what + " indices", scope), [.. s.Dims]);
    }

    /// <param name="named">False for initializers, whose name is their value's name.</param>
    private TensorConstant ImportTensor(TensorProto t, string what, string? scope, bool named = true)
    {
        if (!DataTypes.IsKnown(t.DataType) || t.DataType == 0)
            throw Fail($"{what} has unknown element type {t.DataType}", scope);
        if (t.Segment is not null) throw Fail($"{what} is a segment of a split tensor, which is not supported", scope);
        var type = (DataType)t.DataType;
        long count = 1;
        foreach (var d in t.Dims)
        {
            if (d < 0) throw Fail($"{what} has a negative dimension {d}", scope);
            count = checked(count * d);
        }
        Exception F(string reason) => Fail($"{what} {reason}", scope);
        TensorData data = t.DataLocation == TensorProto.Types.DataLocation.External
            ? ReadExternal(t, type, count, F)
            : TensorProtoCodec.ReadEmbedded(t, type, count, F);
        return new TensorConstant(type, [.. t.Dims], data)
        {
            Name = named && t.HasName ? t.Name : null,
            DocString = t.HasDocString ? t.DocString : null,
            Metadata = t.MetadataProps.Select(e => new KeyValuePair<string, string>(e.Key, e.Value)).ToList(),
        };
    }

    private TensorData ReadExternal(TensorProto t, DataType type, long count, Func<string, Exception> fail)
    {
        string? location = null;
        long offset = 0;
        long? length = null;
        foreach (var e in t.ExternalData)
        {
            switch (e.Key)
            {
                case "location": location = e.Value; break;
                case "offset": offset = ParseLong(e.Value, "offset"); break;
                case "length": length = ParseLong(e.Value, "length"); break;
            }
        }
        if (string.IsNullOrEmpty(location)) throw fail("is stored externally but names no location");
        if (Path.IsPathRooted(location)) throw fail($"names external data by the absolute path '{location}'; locations must be relative to the model's folder");
        var path = Path.GetFullPath(Path.Combine(_baseDir, location));
        var root = Path.GetFullPath(_baseDir).TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
        if (!path.StartsWith(root, StringComparison.Ordinal)) throw fail($"names external data '{location}' outside the model's folder");
        if (!_mapped.TryGetValue(path, out var file))
        {
            if (!File.Exists(path)) throw fail($"needs the external-data file '{location}', which does not exist (looked in {_baseDir})");
            try
            {
                file = new MappedFile(path);
                _mapped[path] = file;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw fail($"cannot map the external-data file '{location}': {e.Message}");
            }
        }
        long need = type == DataType.String ? throw fail("is a string tensor stored externally, which ONNX does not allow") : type.RawByteCount(count);
        long len = length ?? need;
        if (offset < 0 || offset > file.Length) throw fail($"external data offset {offset} lies past the end of '{location}' ({file.Length} bytes)");
        if (offset + len > file.Length) throw fail($"external data [{offset}, {offset + len}) runs past the end of '{location}' ({file.Length} bytes)");
        if (len != need) throw fail($"external data length {len} does not match the {need} bytes its dims need");
        return new MappedTensorData(file, offset, len);

        long ParseLong(string s, string key) =>
            long.TryParse(s, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var v)
                ? v : throw fail($"has external_data {key} '{s}', which is not an integer");
    }
}
