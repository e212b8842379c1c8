using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Text;
using Alloy.IR;
using Alloy.Onnx.Proto;
using Google.Protobuf;

namespace Alloy.Onnx;

/// <summary>
/// Reads an ONNX model into the IR, decoding the protobuf wire format directly into IR objects (field numbers from
/// the generated schema). Every error is an <see cref="OnnxImportException"/> naming the file, the node and the
/// reason. External data is memory-mapped, never copied into managed memory.
/// </summary>
public sealed partial class OnnxImporter
{
    private const int MaxSubgraphDepth = 64;
    private static readonly UTF8Encoding Utf8 = new(false, false);

    private readonly byte[] _buf;
    private readonly string _file;
    private readonly string _baseDir;
    private readonly Dictionary<string, MappedFile> _mapped = new(StringComparer.Ordinal);
    private readonly Dictionary<int, List<(byte[] Bytes, IrType? Type)>> _types = [];
    private readonly Dictionary<int, List<(byte[] Bytes, string Text)>> _strings = [];
    private int _depth;
    /// <summary>Scratch for the repeated numeric fields of the attribute being decoded.</summary>
    private readonly ArrayBufferWriter<byte> _attrFloats = new();
    private readonly List<long> _attrInts = [];
    /// <summary>Where the names kept as UTF-8 live (not in the model's buffer, which the model must not keep alive).</summary>
    private readonly NameArena _names = new();
    /// <summary>The attributes of the nodes being read (nested graphs' nodes above their owner's).</summary>
    private readonly List<Attr> _attrStack = [];
    /// <summary>Attributes of plain values (numbers, strings and lists of them) by their encoding: identical ones,
    /// such as the same axis or permutation on many nodes, share one immutable object.</summary>
    private readonly Dictionary<int, List<(Slice Bytes, Attr Attr)>> _sharedAttrs = [];
    /// <summary>The type decoded or found last, with the bytes it came from.</summary>
    private (Slice Slice, IrType? Type)? _lastType;
    /// <summary>Where the next value_info record most likely points: the result after the last one matched.</summary>
    private Node? _infoNode;
    private int _infoResult;

    private OnnxImporter(byte[] buffer, string file, string baseDir)
    {
        _buf = buffer;
        _file = file;
        _baseDir = baseDir;
    }

    /// <summary>Loads a model file. External-data paths resolve relative to the file's folder.</summary>
    public static Model Load(string path)
    {
        var full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new OnnxImportException(path, null, "file not found");
        byte[] bytes;
        try
        {
            var length = new FileInfo(full).Length;
            if (length == 0) throw new OnnxImportException(path, null, "the file is empty");
            if (length > int.MaxValue)
                throw new OnnxImportException(path, null, $"the protobuf part is {length} bytes; a model above 2 GiB must keep its weights as external data");
            bytes = File.ReadAllBytes(full);
        }
        catch (IOException e)
        {
            throw new OnnxImportException(path, null, $"cannot read the file: {e.Message}", e);
        }
        return FromBytes(bytes, path, Path.GetDirectoryName(full) ?? ".");
    }

    /// <summary>Converts a parsed model. <paramref name="file"/> names it in messages; <paramref name="baseDir"/> anchors external data.</summary>
    public static Model FromProto(ModelProto proto, string file, string baseDir) => FromBytes(proto.ToByteArray(), file, baseDir);

    /// <summary>Reads a serialized model. The model may keep references into <paramref name="bytes"/>; do not modify it afterwards.</summary>
    public static Model FromBytes(byte[] bytes, string file, string baseDir)
    {
        var importer = new OnnxImporter(bytes, file, baseDir);
        Model? model = null;
        try
        {
            model = importer.ImportModel();
            return model;
        }
        catch (ProtoFormatException e)
        {
            Release();
            throw new OnnxImportException(file, null, $"not a valid ONNX protobuf ({e.Message}); the file is truncated or not an ONNX model", e);
        }
        catch
        {
            Release();
            throw;
        }

        void Release()
        {
            model?.Dispose();
            foreach (var m in importer._mapped.Values) m.Dispose();
        }
    }

    private OnnxImportException Fail(string reason, string? node = null) => new(_file, node, reason);

    /// <summary>Decodes one serialized TensorProto whose data is embedded.</summary>
    internal static (string Name, TensorConstant Value) ReadTensor(byte[] bytes, string file)
    {
        var importer = new OnnxImporter(bytes, file, Path.GetDirectoryName(Path.GetFullPath(file)) ?? ".");
        try
        {
            var (name, value) = importer.ImportTensor(new Slice(0, bytes.Length), "tensor", null, named: true);
            if (importer._mapped.Count > 0)
            {
                foreach (var m in importer._mapped.Values) m.Dispose();
                throw new OnnxImportException(file, null, "a tensor file with external data is not supported");
            }
            return (name, value);
        }
        catch (ProtoFormatException e)
        {
            throw new OnnxImportException(file, null, $"not a valid TensorProto ({e.Message})", e);
        }
    }

    private ReadOnlySpan<byte> Bytes(Slice s) => _buf.AsSpan(s.Offset, s.Length);
    private ProtoReader Reader(Slice s) => new(_buf, s.Offset, s.Length);

    // ---------------------------------------------------------------- model

    private Model ImportModel()
    {
        var r = new ProtoReader(_buf);
        long? irVersion = null, modelVersion = null;
        string? producerName = null, producerVersion = null, domain = null, doc = null;
        Slice? graphSlice = null;
        var opsets = new List<OpsetImport>();
        var metadata = new List<KeyValuePair<string, string>>();
        var training = new List<byte[]>();
        var functions = new List<Slice>();
        var extra = new ArrayBufferWriter<byte>();
        int fields = 0;
        while (r.Next())
        {
            fields++;
            switch (r.Field)
            {
                case ModelProto.IrVersionFieldNumber: irVersion = r.ReadInt64(); break;
                case ModelProto.ProducerNameFieldNumber: producerName = r.ReadString(); break;
                case ModelProto.ProducerVersionFieldNumber: producerVersion = r.ReadString(); break;
                case ModelProto.DomainFieldNumber: domain = r.ReadString(); break;
                case ModelProto.ModelVersionFieldNumber: modelVersion = r.ReadInt64(); break;
                case ModelProto.DocStringFieldNumber: doc = r.ReadString(); break;
                case ModelProto.GraphFieldNumber: graphSlice = r.ReadSlice(); break;
                case ModelProto.OpsetImportFieldNumber: opsets.Add(ReadOpset(r.ReadSlice())); break;
                case ModelProto.MetadataPropsFieldNumber: metadata.Add(ReadEntry(r.ReadSlice())); break;
                case ModelProto.TrainingInfoFieldNumber: training.Add(r.ReadBytes().ToArray()); break;
                case ModelProto.FunctionsFieldNumber: functions.Add(r.ReadSlice()); break;
                default:
                    int start = r.TagStart;
                    r.Skip();
                    extra.Write(r.Since(start));
                    break;
            }
        }
        if (graphSlice is null)
            throw Fail(fields == 0 ? "not an ONNX model: no fields were read" : "the model has no graph");
        if (irVersion is null) throw Fail("the model has no ir_version; the file is probably not an ONNX model");

        var graph = ImportGraph(graphSlice.Value, null);
        var model = new Model(graph)
        {
            IrVersion = irVersion.Value,
            ProducerName = producerName,
            ProducerVersion = producerVersion,
            Domain = domain,
            ModelVersion = modelVersion,
            DocString = doc,
            SourcePath = _file,
            OpaqueExtraFields = extra.WrittenSpan.ToArray(),
        };
        foreach (var m in _mapped.Values) model.AddResource(m);
        model.Opsets.AddRange(opsets);
        model.Metadata.AddRange(metadata);
        model.OpaqueTrainingInfo.AddRange(training);
        foreach (var f in functions) model.Functions.Add(ImportFunction(f));
        return model;
    }

    private OpsetImport ReadOpset(Slice s)
    {
        var r = Reader(s);
        string d = "";
        long v = 0;
        while (r.Next())
        {
            switch (r.Field)
            {
                case OperatorSetIdProto.DomainFieldNumber: d = Intern(r.ReadBytes()); break;
                case OperatorSetIdProto.VersionFieldNumber: v = r.ReadInt64(); break;
                default: r.Skip(); break;
            }
        }
        return new OpsetImport(d, v);
    }

    private KeyValuePair<string, string> ReadEntry(Slice s)
    {
        var r = Reader(s);
        string k = "", v = "";
        while (r.Next())
        {
            switch (r.Field)
            {
                case StringStringEntryProto.KeyFieldNumber: k = r.ReadString(); break;
                case StringStringEntryProto.ValueFieldNumber: v = r.ReadString(); break;
                default: r.Skip(); break;
            }
        }
        return new(k, v);
    }

    // ---------------------------------------------------------------- functions

    private Function ImportFunction(Slice s)
    {
        var r = Reader(s);
        string name = "", domain = "", overload = "";
        string? doc = null;
        var inputs = new List<string>();
        var outputs = new List<string>();
        var attrNames = new List<string>();
        var nodes = new List<Slice>();
        var opsets = new List<OpsetImport>();
        var defaults = new List<Slice>();
        var valueInfo = new List<Slice>();
        var metadata = new List<KeyValuePair<string, string>>();
        while (r.Next())
        {
            switch (r.Field)
            {
                case FunctionProto.NameFieldNumber: name = r.ReadString(); break;
                case FunctionProto.InputFieldNumber: inputs.Add(r.ReadString()); break;
                case FunctionProto.OutputFieldNumber: outputs.Add(r.ReadString()); break;
                case FunctionProto.AttributeFieldNumber: attrNames.Add(r.ReadString()); break;
                case FunctionProto.NodeFieldNumber: nodes.Add(r.ReadSlice()); break;
                case FunctionProto.DocStringFieldNumber: doc = r.ReadString(); break;
                case FunctionProto.OpsetImportFieldNumber: opsets.Add(ReadOpset(r.ReadSlice())); break;
                case FunctionProto.DomainFieldNumber: domain = r.ReadString(); break;
                case FunctionProto.AttributeProtoFieldNumber: defaults.Add(r.ReadSlice()); break;
                case FunctionProto.ValueInfoFieldNumber: valueInfo.Add(r.ReadSlice()); break;
                case FunctionProto.OverloadFieldNumber: overload = r.ReadString(); break;
                case FunctionProto.MetadataPropsFieldNumber: metadata.Add(ReadEntry(r.ReadSlice())); break;
                default: r.Skip(); break;
            }
        }
        string where = $"function '{name}'";
        var body = new Graph(name);
        var fn = new Function(domain, name, body) { Overload = overload, DocString = doc };
        fn.AttributeNames.AddRange(attrNames);
        foreach (var a in defaults) fn.AttributeDefaults.Add(ImportAttribute(a, body, null, where));
        fn.Opsets.AddRange(opsets);
        fn.Metadata.AddRange(metadata);
        foreach (var input in inputs) Define(() => body.AddInput(input, null), input, where);
        ImportNodes(body, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(nodes), where);
        foreach (var vi in valueInfo) ApplyValueInfo(body, vi);
        foreach (var output in outputs)
            body.AddOutput(Resolve(body, output) ?? throw Fail($"output '{output}' is not defined", where));
        return fn;
    }

    // ---------------------------------------------------------------- graphs

    private Graph ImportGraph(Slice s, Graph? parent)
    {
        if (++_depth > MaxSubgraphDepth)
        {
            _depth--;
            throw Fail($"subgraphs are nested more than {MaxSubgraphDepth} deep");
        }
        // Nodes and value_info records are as many as the graph's nodes: their slices live in pooled storage.
        var nodes = new PooledList<Slice>();
        var valueInfo = new PooledList<Slice>();
        try
        {
            return ImportGraph(s, parent, ref nodes, ref valueInfo);
        }
        finally
        {
            nodes.Dispose();
            valueInfo.Dispose();
            _depth--;
        }
    }

    private Graph ImportGraph(Slice s, Graph? parent, ref PooledList<Slice> nodes, ref PooledList<Slice> valueInfo)
    {
        var r = Reader(s);
        string name = "";
        string? doc = null;
        var initializers = new List<Slice>();
        var inputs = new List<Slice>();
        var outputs = new List<Slice>();
        var annotations = new List<Slice>();
        var sparse = new List<Slice>();
        var metadata = new List<KeyValuePair<string, string>>();
        while (r.Next())
        {
            switch (r.Field)
            {
                case GraphProto.NodeFieldNumber: nodes.Add(r.ReadSlice()); break;
                case GraphProto.NameFieldNumber: name = r.ReadString(); break;
                case GraphProto.InitializerFieldNumber: initializers.Add(r.ReadSlice()); break;
                case GraphProto.DocStringFieldNumber: doc = r.ReadString(); break;
                case GraphProto.InputFieldNumber: inputs.Add(r.ReadSlice()); break;
                case GraphProto.OutputFieldNumber: outputs.Add(r.ReadSlice()); break;
                case GraphProto.ValueInfoFieldNumber: valueInfo.Add(r.ReadSlice()); break;
                case GraphProto.QuantizationAnnotationFieldNumber: annotations.Add(r.ReadSlice()); break;
                case GraphProto.SparseInitializerFieldNumber: sparse.Add(r.ReadSlice()); break;
                case GraphProto.MetadataPropsFieldNumber: metadata.Add(ReadEntry(r.ReadSlice())); break;
                default: r.Skip(); break;
            }
        }

        var g = new Graph(name, parent) { DocString = doc };
        g.ReserveNames(inputs.Count + initializers.Count + sparse.Count + nodes.Count);
        string? scope = parent is null ? null : $"subgraph '{name}'";
        g.Metadata.AddRange(metadata);
        foreach (var a in annotations) g.QuantizationAnnotations.Add(ReadAnnotation(a));

        foreach (var vs in inputs)
        {
            var vi = ReadValueInfo(vs);
            var type = ImportType(vi.Type, new What("input", vi.Name), scope);
            if (g.FindLocal(vi.Name) is not null) throw Twice(vi.Name, scope);
            var v = g.AddInput(vi.Name, type);
            v.DocString = vi.Doc;
        }
        foreach (var ts in initializers)
        {
            var (tname, c) = ImportTensor(ts, "initializer", scope, named: false);
            var existing = g.FindLocal(tname);
            if (existing is { Kind: ValueKind.Input, Constant: null }) g.SetInputDefault(existing, c);
            else if (existing is not null) throw Twice(tname, scope);
            else g.AddConstant(tname, c);
        }
        foreach (var ss in sparse)
        {
            var (sname, sc) = ImportSparse(ss, "sparse initializer", scope);
            if (g.FindLocal(sname) is not null) throw Twice(sname, scope);
            g.AddSparseConstant(sname, sc);
        }

        ImportNodes(g, nodes.Span, scope);

        foreach (var vs in valueInfo.Span) ApplyValueInfo(g, vs);
        foreach (var vs in outputs)
        {
            var vi = ReadValueInfo(vs);
            var v = Resolve(g, vi.Name) ?? throw Fail($"graph output '{vi.Name}' is not defined by any node, input or initializer", scope);
            var type = ImportType(vi.Type, new What("output", vi.Name), scope);
            if (type is not null && (v.Type is null || v.Kind == ValueKind.NodeResult)) v.Type = type;
            if (vi.Doc is not null) v.DocString = vi.Doc;
            g.AddOutput(v);
        }
        return g;
    }

    private Alloy.IR.TensorAnnotation ReadAnnotation(Slice s)
    {
        var r = Reader(s);
        string tensor = "";
        var names = new List<KeyValuePair<string, string>>();
        while (r.Next())
        {
            switch (r.Field)
            {
                case Proto.TensorAnnotation.TensorNameFieldNumber: tensor = r.ReadString(); break;
                case Proto.TensorAnnotation.QuantParameterTensorNamesFieldNumber: names.Add(ReadEntry(r.ReadSlice())); break;
                default: r.Skip(); break;
            }
        }
        return new Alloy.IR.TensorAnnotation(tensor, names);
    }

    private readonly record struct ValueInfoRecord(string Name, Slice? Type, string? Doc);

    private ValueInfoRecord ReadValueInfo(Slice s)
    {
        var r = Reader(s);
        string name = "";
        Slice? type = null;
        string? doc = null;
        while (r.Next())
        {
            switch (r.Field)
            {
                case ValueInfoProto.NameFieldNumber: name = r.ReadString(); break;
                case ValueInfoProto.TypeFieldNumber: type = r.ReadSlice(); break;
                case ValueInfoProto.DocStringFieldNumber: doc = r.ReadString(); break;
                default: r.Skip(); break;
            }
        }
        return new ValueInfoRecord(name, type, doc);
    }

    private OnnxImportException Twice(string name, string? scope) => Fail($"'{name}' has two definitions", scope);

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

    private void ApplyValueInfo(Graph g, Slice s)
    {
        // The name is looked up without allocating it: value_info records are as many as the nodes.
        var r = Reader(s);
        Slice name = default;
        Slice? type = null;
        string? doc = null;
        while (r.Next())
        {
            switch (r.Field)
            {
                case ValueInfoProto.NameFieldNumber: name = r.ReadSlice(); break;
                case ValueInfoProto.TypeFieldNumber: type = r.ReadSlice(); break;
                case ValueInfoProto.DocStringFieldNumber: doc = r.ReadString(); break;
                default: r.Skip(); break;
            }
        }
        var utf8 = Bytes(name);
        // Exporters write value_info in node order: try the result after the previous match before the name table.
        Value? v = null;
        var cursor = _infoNode;
        if (cursor is not null && cursor.Owner == g && _infoResult >= cursor.ResultCount)
        {
            cursor = cursor.Next;
            _infoResult = 0;
        }
        if (cursor is not null && cursor.Owner == g && _infoResult < cursor.ResultCount && cursor.Result(_infoResult).NameText.Equals(utf8))
            v = cursor.Result(_infoResult);
        if (v is null)
        {
            Span<char> chars = stackalloc char[256];
            var text = utf8.Length <= chars.Length && Utf8.TryGetChars(utf8, chars, out int n) ? chars[..n] : Utf8.GetString(utf8).AsSpan();
            v = g.FindLocal(text);
        }
        if (v is null || v.Kind != ValueKind.NodeResult) return;
        _infoNode = v.Producer;
        _infoResult = v.ResultIndex + 1;
        v.Type = ImportType(type, new What("value_info", v), null);
        if (doc is not null) v.DocString = doc;
    }

    /// <summary>Finds <paramref name="name"/> in <paramref name="g"/>, capturing it from an enclosing graph when needed.</summary>
    private static Value? Resolve(Graph g, ReadOnlySpan<char> name)
    {
        var local = g.FindLocal(name);
        if (local is not null) return local;
        var outer = g.Parent?.Lookup(name);
        return outer is null ? null : g.Capture(outer);
    }

    // ---------------------------------------------------------------- nodes

    private void ImportNodes(Graph g, ReadOnlySpan<Slice> protos, string? scope)
    {
        var nodes = ArrayPool<Node>.Shared.Rent(protos.Length);
        try
        {
            ImportNodes(g, protos, nodes, scope);
        }
        finally
        {
            ArrayPool<Node>.Shared.Return(nodes, clearArray: true);
        }
    }

    /// <param name="nodes">Scratch room for the nodes created (at least as many as <paramref name="protos"/>).</param>
    private void ImportNodes(Graph g, ReadOnlySpan<Slice> protos, Node[] nodes, string? scope)
    {
        // Pass 1: every node and its results, so operands may refer to nodes listed later. Each node's position
        // (1-based) goes into its scratch mark, so pass 2 sees whether the listed order is topological.
        Span<Slice> outputs = stackalloc Slice[16];
        for (int i = 0; i < protos.Length; i++)
        {
            var r = Reader(protos[i]);
            string op = "", domain = "", overload = "";
            Slice name = default;
            string? doc = null;
            List<KeyValuePair<string, string>>? metadata = null;
            List<Slice>? moreOutputs = null;
            int operands = 0, results = 0;
            while (r.Next())
            {
                switch (r.Field)
                {
                    case NodeProto.InputFieldNumber: operands++; r.Skip(); break;
                    case NodeProto.OutputFieldNumber:
                        var o = r.ReadSlice();
                        if (results < outputs.Length) outputs[results] = o;
                        else (moreOutputs ??= []).Add(o);
                        results++;
                        break;
                    case NodeProto.NameFieldNumber: name = r.ReadSlice(); break;
                    case NodeProto.OpTypeFieldNumber: op = Intern(r.ReadBytes()); break;
                    case NodeProto.DocStringFieldNumber: doc = r.ReadString(); break;
                    case NodeProto.DomainFieldNumber: domain = Intern(r.ReadBytes()); break;
                    case NodeProto.OverloadFieldNumber: overload = r.ReadString(); break;
                    case NodeProto.MetadataPropsFieldNumber: (metadata ??= []).Add(ReadEntry(r.ReadSlice())); break;
                    default: r.Skip(); break;
                }
            }
            var node = g.AddNodeWithSlots(op, domain, operands, results);
            if (name.Length > 0) node.SetName(NameAt(name));
            node.DocString = doc;
            node.Overload = overload;
            node.Mark = i + 1;
            if (metadata is not null) node.Metadata.AddRange(metadata);
            for (int k = 0; k < results; k++)
            {
                var o = NameAt(k < outputs.Length ? outputs[k] : moreOutputs![k - outputs.Length]);
                try
                {
                    g.DefineResult(node, k, o, null);
                }
                catch (IrException)
                {
                    throw Fail($"output '{o}' has two definitions", Describe(node, scope));
                }
            }
            nodes[i] = node;
        }
        // Pass 2: operands and attributes (subgraphs capture from the now complete scope).
        Span<char> chars = stackalloc char[256];
        bool ordered = true;
        for (int i = 0; i < protos.Length; i++)
        {
            var node = nodes[i];
            var r = Reader(protos[i]);
            int attributes = 0, operand = 0;
            while (r.Next())
            {
                switch (r.Field)
                {
                    case NodeProto.InputFieldNumber:
                        var utf8 = r.ReadBytes();
                        if (utf8.Length == 0)
                        {
                            operand++;
                            break;
                        }
                        var v = Recent(nodes, i, utf8);
                        if (v is null)
                        {
                            var name = utf8.Length <= chars.Length && Utf8.TryGetChars(utf8, chars, out int n) ? chars[..n] : Utf8.GetString(utf8).AsSpan();
                            v = Resolve(g, name) ?? throw Fail(
                            g.Parent is null ? $"input '{name}' is not defined by any node, graph input or initializer"
                                             : $"input '{name}' is not defined in the subgraph or any enclosing graph",
                            Describe(node, scope));
                        }
                        if (v.Producer is { } p && p.Owner == g && p.Mark > i) ordered = false;
                        g.SetOperand(node, operand++, v);
                        break;
                    case NodeProto.AttributeFieldNumber:
                        // Collected above the enclosing nodes' entries (a subgraph's nodes use the same stack).
                        _attrStack.Add(ImportAttribute(r.ReadSlice(), g, node, scope));
                        attributes++;
                        break;
                    default:
                        r.Skip();
                        break;
                }
            }
            if (attributes > 0)
            {
                int first = _attrStack.Count - attributes;
                bool distinct = node.SetNewAttributes(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_attrStack)[first..]);
                _attrStack.RemoveRange(first, attributes);
                if (!distinct) throw Fail("an attribute name appears twice", Describe(node, scope));
            }
            // Subgraphs' captures are dependencies too: the full check decides.
            if (node.HasSubgraphs) ordered = false;
        }
        if (ordered) return;
        try
        {
            g.SortTopologically();
        }
        catch (IrException e)
        {
            throw Fail(e.Message, scope);
        }
    }

    /// <summary>A result of one of the two nodes listed before node <paramref name="i"/> named <paramref name="name"/>:
    /// most operands come from there, and comparing names is cheaper than a table lookup.</summary>
    private static Value? Recent(Node[] nodes, int i, ReadOnlySpan<byte> name)
    {
        for (int j = i - 1; j >= 0 && j >= i - 2; j--)
        {
            var node = nodes[j];
            for (int k = 0; k < node.ResultCount; k++)
                if (node.Result(k).NameText.Equals(name)) return node.Result(k);
        }
        return null;
    }

    /// <summary>A name read from the model: kept as UTF-8 bytes (decoded only if someone asks for the string), or
    /// decoded now when the bytes are not valid UTF-8 (decoding replaces the invalid sequences).</summary>
    private LazyName NameAt(Slice s)
    {
        if (s.Length == 0) return new LazyName("");
        var utf8 = Bytes(s);
        return LazyName.IsValidUtf8(utf8) ? _names.Add(utf8) : new LazyName(Utf8.GetString(utf8));
    }

    private static string Describe(Node n, string? scope)
    {
        var what = n.Name.Length > 0 ? $"node '{n.Name}' ({n.OpType})"
            : n.Outputs is [{ } first, ..] ? $"{n.OpType} node producing '{first.Name}'"
            : $"{n.OpType} node";
        return scope is null ? what : $"{scope}, {what}";
    }

}
