using System.Buffers;
using System.Runtime.InteropServices;
using Alloy.IR;
using Alloy.Onnx.Proto;
using Google.Protobuf;

namespace Alloy.Onnx;

/// <summary>
/// Writes the IR straight to the ONNX protobuf wire format, with no intermediate <c>ModelProto</c> objects. The bytes
/// are those Google.Protobuf writes for the equivalent generated messages: fields in field-number order, the
/// same presence rules and encodings (field numbers come from the generated classes, so the schema stays the
/// only source of truth). One walk routine (<see cref="OnnxWireImage"/>) runs twice over a <see cref="ProtoEmitter"/>:
/// a sizing pass that records every nested message's length, then a writing pass that consumes them.
/// </summary>
public static class OnnxWireWriter
{
    /// <summary>The serialized model, every constant embedded.</summary>
    public static byte[] ToBytes(Model model)
    {
        using var image = Prepare(model, null);
        return image.ToArray();
    }

    /// <summary>Writes the serialized model, every constant embedded, to <paramref name="stream"/>.</summary>
    public static void WriteTo(Model model, Stream stream)
    {
        using var image = Prepare(model, null);
        image.WriteTo(stream);
    }

    /// <summary>
    /// Writes the serialized model, every constant embedded, into <paramref name="output"/> and returns its length.
    /// The model's exact size is known before writing, so a reused writer (an <see cref="ArrayBufferWriter{T}"/>
    /// after <c>ResetWrittenCount</c>) receives it in place with no allocation once its buffer is large enough.
    /// </summary>
    public static int WriteTo(Model model, IBufferWriter<byte> output)
    {
        using var image = Prepare(model, null);
        return image.WriteTo(output);
    }

    /// <summary>Sizes the model (placing constants externally as <paramref name="external"/> decides); write it with the result.</summary>
    internal static OnnxWireImage Prepare(Model model, ExternalPlacement? external)
    {
        var extra = model.OpaqueExtraFields.Length > 0 ? ExtraModelFields.Parse(model.OpaqueExtraFields) : null;
        if (extra is not { HasGraph: true }) return new OnnxWireImage(model, external, extra);

        // Extra fields that merge into the graph record: rare enough to take the generated classes' merge.
        byte[] plain;
        using (var image = new OnnxWireImage(model, external, null)) plain = image.ToArray();
        var proto = ModelProto.Parser.ParseFrom(plain);
        proto.MergeFrom(model.OpaqueExtraFields);
        return new OnnxWireImage(proto.ToByteArray());
    }
}

/// <summary>Where <see cref="OnnxExporter.Save"/> keeps initializer bytes outside the model file.</summary>
/// <param name="Location">The data file name written into each external tensor's <c>location</c> entry.</param>
/// <param name="Place">Called once per dense initializer, main graph first (each graph's initializers before
/// its nodes' subgraphs), then function attribute defaults and bodies: the offset of the bytes in the data file,
/// or null to embed them.</param>
internal sealed record ExternalPlacement(string Location, Func<TensorConstant, long?> Place);

/// <summary>
/// A model whose serialized size is known (the sizing pass has run) and which can be written once: the lengths
/// the sizing pass recorded are consumed as the writing pass reaches each nested message.
/// </summary>
internal sealed class OnnxWireImage : IDisposable
{
    private const int StreamBuffer = 1 << 20;

    private readonly Model? _model;
    private readonly ProtoEmitter? _e;
    private readonly Dictionary<Value, long>? _offsets;
    private readonly string? _location;
    private readonly ExtraModelFields? _extra;
    /// <summary>Encoded types, created with the first one written.</summary>
    private TypeEncodings? _types;
    private readonly byte[][] _training = [];
    private readonly byte[]? _bytes;
    private bool _written;

    public OnnxWireImage(Model model, ExternalPlacement? external, ExtraModelFields? extra)
    {
        _model = model;
        _extra = extra;
        if (external is not null)
        {
            _location = external.Location;
            _offsets = [];
            Place(external.Place);
        }
        if (model.OpaqueTrainingInfo.Count > 0)
        {
            // Kept as bytes; written as Google.Protobuf re-encodes them (field order, packing, unknown fields).
            _training = new byte[model.OpaqueTrainingInfo.Count][];
            for (int i = 0; i < _training.Length; i++)
                _training[i] = TrainingInfoProto.Parser.ParseFrom(model.OpaqueTrainingInfo[i]).ToByteArray();
        }
        _e = new ProtoEmitter();
        try
        {
            WalkModel();
        }
        catch
        {
            _e.Dispose();
            throw;
        }
        Length = _e.Size;
    }

    public OnnxWireImage(byte[] bytes)
    {
        _bytes = bytes;
        Length = bytes.Length;
    }

    /// <summary>The serialized size in bytes.</summary>
    public long Length { get; }

    public void WriteTo(Stream stream)
    {
        if (_bytes is not null)
        {
            stream.Write(_bytes);
            return;
        }
        CheckLength();
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(StreamBuffer, Math.Max(Length, 16)));
        try
        {
            Write(buffer, stream);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public int WriteTo(IBufferWriter<byte> output)
    {
        CheckLength();
        int length = (int)Length;
        if (_bytes is not null)
        {
            output.Write(_bytes);
            return length;
        }
        var memory = output.GetMemory(Math.Max(length, 1));
        if (MemoryMarshal.TryGetArray<byte>(memory, out var segment) && segment.Offset == 0)
        {
            // The writer's own array: the writing pass fills it directly.
            Write(segment.Array!, null);
        }
        else
        {
            var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
            try
            {
                Write(buffer, null);
                buffer.AsSpan(0, length).CopyTo(memory.Span);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        output.Advance(length);
        return length;
    }

    public byte[] ToArray()
    {
        if (_bytes is not null) return _bytes;
        CheckLength();
        var bytes = GC.AllocateUninitializedArray<byte>((int)Length);
        Write(bytes, null);
        return bytes;
    }

    public void Dispose()
    {
        _e?.Dispose();
        _types?.Dispose();
    }

    private void CheckLength()
    {
        if (Length > int.MaxValue) throw new InvalidOperationException($"the serialized model is {Length} bytes, above the 2 GiB protobuf limit");
    }

    private void Write(byte[] buffer, Stream? sink)
    {
        if (_written) throw new InvalidOperationException("the model has been written already");
        _written = true;
        _e!.StartWriting(buffer, sink);
        WalkModel();
        _e.FinishWriting();
    }

    // ---- external placement, in the order the exporter has always decided it ----

    private void Place(Func<TensorConstant, long?> place)
    {
        PlaceGraph(_model!.Graph, place);
        foreach (var f in _model.Functions)
        {
            foreach (var a in f.AttributeDefaults) PlaceAttribute(a.Value, place);
            PlaceNodes(f.Body, place);
        }
    }

    private void PlaceGraph(Graph g, Func<TensorConstant, long?> place)
    {
        foreach (var v in g.Constants)
            if (v.SparseConstant is null && place(v.Constant!) is { } offset) _offsets![v] = offset;
        PlaceNodes(g, place);
    }

    private void PlaceNodes(Graph g, Func<TensorConstant, long?> place)
    {
        for (var n = g.FirstNode; n is not null; n = n.Next)
            foreach (var a in n.Attributes) PlaceAttribute(a.Value, place);
    }

    private void PlaceAttribute(AttrValue value, Func<TensorConstant, long?> place)
    {
        switch (value)
        {
            case GraphAttr g: PlaceGraph(g.Value, place); break;
            case GraphsAttr gs:
                foreach (var g in gs.Value) PlaceGraph(g, place);
                break;
        }
    }

    // ---- the walk (one routine for both passes) ----

    private void WalkModel()
    {
        var e = _e!;
        var m = _model!;
        var x = _extra;
        // Extra fields merge like ModelProto.MergeFrom: set scalars replace, repeated entries follow, unknown fields last.
        e.Int64(ModelProto.IrVersionFieldNumber, x?.IrVersion ?? m.IrVersion);
        if ((x?.ProducerName ?? m.ProducerName) is { } producer) e.String(ModelProto.ProducerNameFieldNumber, producer);
        if ((x?.ProducerVersion ?? m.ProducerVersion) is { } version) e.String(ModelProto.ProducerVersionFieldNumber, version);
        if ((x?.Domain ?? m.Domain) is { } domain) e.String(ModelProto.DomainFieldNumber, domain);
        if ((x?.ModelVersion ?? m.ModelVersion) is { } modelVersion) e.Int64(ModelProto.ModelVersionFieldNumber, modelVersion);
        if ((x?.DocString ?? m.DocString) is { } doc) e.String(ModelProto.DocStringFieldNumber, doc);
        Graph(ModelProto.GraphFieldNumber, m.Graph);
        foreach (var o in m.Opsets) Opset(ModelProto.OpsetImportFieldNumber, o);
        Encoded(ModelProto.OpsetImportFieldNumber, x?.Opsets);
        Entries(ModelProto.MetadataPropsFieldNumber, m.Metadata);
        Encoded(ModelProto.MetadataPropsFieldNumber, x?.Metadata);
        Encoded(ModelProto.TrainingInfoFieldNumber, _training);
        Encoded(ModelProto.TrainingInfoFieldNumber, x?.TrainingInfo);
        foreach (var f in m.Functions) Function(ModelProto.FunctionsFieldNumber, f);
        Encoded(ModelProto.FunctionsFieldNumber, x?.Functions);
        if (x is not null) e.Raw(x.Rest);
    }

    private void Encoded(int field, byte[][]? messages)
    {
        if (messages is null) return;
        foreach (var b in messages) _e!.Bytes(field, b);
    }

    private void Graph(int field, Graph g)
    {
        var e = _e!;
        e.BeginMessage(field);
        var outputs = Items(g.Outputs);
        HashSet<Value>? outputSet = outputs.Length > 16 ? [.. outputs] : null;
        // value_info records follow the nodes, initializers, inputs and outputs, but each is produced into a
        // deferred section while its node is at hand: on large graphs the walk is bound by memory latency.
        e.OpenSection();
        for (var n = g.FirstNode; n is not null; n = n.Next)
        {
            Node(GraphProto.NodeFieldNumber, n);
            bool filling = false;
            foreach (var r in n.Outputs)
            {
                if (r.Type is null || !r.HasName || (outputSet?.Contains(r) ?? outputs.Contains(r))) continue;
                if (!filling) e.BeginSection();
                filling = true;
                ValueInfo(GraphProto.ValueInfoFieldNumber, r);
            }
            if (filling) e.EndSection();
        }
        e.String(GraphProto.NameFieldNumber, g.Name);
        foreach (var v in Items(g.Constants))
            if (v.SparseConstant is null) Tensor(GraphProto.InitializerFieldNumber, v.Constant!, v.Name, v);
        if (g.DocString is not null) e.String(GraphProto.DocStringFieldNumber, g.DocString);
        foreach (var v in Items(g.Inputs)) ValueInfo(GraphProto.InputFieldNumber, v);
        foreach (var v in outputs) ValueInfo(GraphProto.OutputFieldNumber, v);
        e.CloseSection();
        foreach (var qa in g.QuantizationAnnotations)
        {
            e.BeginMessage(GraphProto.QuantizationAnnotationFieldNumber);
            e.String(Proto.TensorAnnotation.TensorNameFieldNumber, qa.TensorName);
            Entries(Proto.TensorAnnotation.QuantParameterTensorNamesFieldNumber, qa.QuantParameterTensorNames);
            e.EndMessage();
        }
        foreach (var v in Items(g.Constants))
            if (v.SparseConstant is { } sc) Sparse(GraphProto.SparseInitializerFieldNumber, sc, v.Name);
        Entries(GraphProto.MetadataPropsFieldNumber, g.Metadata);
        e.EndMessage();
    }

    // The items of the IR's lists (List<T> behind IReadOnlyList<T>) without an interface call per item.
    // The IR's graph lists are List<T> and attribute lists arrays: read either in place.
    private static ReadOnlySpan<Value> Items(IReadOnlyList<Value> list) =>
        list is Value[] a ? a : list is List<Value> l ? CollectionsMarshal.AsSpan(l) : list.ToArray();

    private static ReadOnlySpan<Attr> Items(IReadOnlyList<Attr> list) =>
        list is Attr[] a ? a : list is List<Attr> l ? CollectionsMarshal.AsSpan(l) : list.ToArray();

    private void Function(int field, Function f)
    {
        var e = _e!;
        e.BeginMessage(field);
        e.String(FunctionProto.NameFieldNumber, f.Name);
        foreach (var v in Items(f.Body.Inputs)) e.Name(FunctionProto.InputFieldNumber, v.NameText);
        foreach (var v in Items(f.Body.Outputs)) e.Name(FunctionProto.OutputFieldNumber, v.NameText);
        foreach (var a in f.AttributeNames) e.String(FunctionProto.AttributeFieldNumber, a);
        for (var n = f.Body.FirstNode; n is not null; n = n.Next) Node(FunctionProto.NodeFieldNumber, n);
        if (f.DocString is not null) e.String(FunctionProto.DocStringFieldNumber, f.DocString);
        foreach (var o in f.Opsets) Opset(FunctionProto.OpsetImportFieldNumber, o);
        e.String(FunctionProto.DomainFieldNumber, f.Domain);
        foreach (var a in f.AttributeDefaults) Attribute(FunctionProto.AttributeProtoFieldNumber, a);
        for (var n = f.Body.FirstNode; n is not null; n = n.Next)
            foreach (var r in n.Outputs)
                if (r.Type is not null && r.HasName) ValueInfo(FunctionProto.ValueInfoFieldNumber, r);
        if (f.Overload.Length > 0) e.String(FunctionProto.OverloadFieldNumber, f.Overload);
        Entries(FunctionProto.MetadataPropsFieldNumber, f.Metadata);
        e.EndMessage();
    }

    private void Node(int field, Node n)
    {
        var e = _e!;
        e.BeginMessage(field);
        foreach (var v in n.Inputs.AsSpan())
        {
            if (v is null) e.String(NodeProto.InputFieldNumber, "");
            else e.Name(NodeProto.InputFieldNumber, v.NameText);
        }
        foreach (var v in n.Outputs) e.Name(NodeProto.OutputFieldNumber, v.NameText);
        if (!n.NameText.IsEmpty) e.Name(NodeProto.NameFieldNumber, n.NameText);
        e.String(NodeProto.OpTypeFieldNumber, n.OpType);
        foreach (var a in Items(n.Attributes)) Attribute(NodeProto.AttributeFieldNumber, a);
        if (n.DocString is not null) e.String(NodeProto.DocStringFieldNumber, n.DocString);
        if (n.Domain.Length > 0) e.String(NodeProto.DomainFieldNumber, n.Domain);
        if (n.Overload.Length > 0) e.String(NodeProto.OverloadFieldNumber, n.Overload);
        if (n.HasMetadata) Entries(NodeProto.MetadataPropsFieldNumber, n.Metadata);
        e.EndMessage();
    }

    private void Attribute(int field, Attr a)
    {
        var e = _e!;
        e.BeginMessage(field);
        e.String(AttributeProto.NameFieldNumber, a.Name);
        // The value's field sits before doc_string (13), between it and type (20), or after type.
        switch (a.Value)
        {
            case FloatAttr f: e.Float(AttributeProto.FFieldNumber, f.Value); break;
            case IntAttr i: e.Int64(AttributeProto.IFieldNumber, i.Value); break;
            case StringAttr s: e.String(AttributeProto.SFieldNumber, s.Value); break;
            case TensorAttr t: Tensor(AttributeProto.TFieldNumber, t.Value, t.Value.Name, null); break;
            case GraphAttr g: Graph(AttributeProto.GFieldNumber, g.Value); break;
            case FloatsAttr fs:
                // proto2 repeated scalars without [packed=true]: one tagged entry per value.
                foreach (var f in fs.Value) e.Float(AttributeProto.FloatsFieldNumber, f);
                break;
            case IntsAttr ints:
                foreach (var i in ints.Value) e.Int64(AttributeProto.IntsFieldNumber, i);
                break;
            case StringsAttr ss:
                foreach (var s in ss.Value) e.String(AttributeProto.StringsFieldNumber, s);
                break;
            case TensorsAttr ts:
                foreach (var t in ts.Value) Tensor(AttributeProto.TensorsFieldNumber, t, t.Name, null);
                break;
            case GraphsAttr gs:
                foreach (var g in gs.Value) Graph(AttributeProto.GraphsFieldNumber, g);
                break;
        }
        if (a.DocString is not null) e.String(AttributeProto.DocStringFieldNumber, a.DocString);
        switch (a.Value)
        {
            case TypeAttr tp: Type(AttributeProto.TpFieldNumber, tp.Value); break;
            case TypesAttr tps:
                foreach (var t in tps.Value) Type(AttributeProto.TypeProtosFieldNumber, t);
                break;
        }
        e.Int32(AttributeProto.TypeFieldNumber, (int)a.Kind);
        switch (a.Value)
        {
            case RefAttr r: e.String(AttributeProto.RefAttrNameFieldNumber, r.RefName); break;
            case SparseTensorAttr st: Sparse(AttributeProto.SparseTensorFieldNumber, st.Value, null); break;
            case SparseTensorsAttr sts:
                foreach (var s in sts.Value) Sparse(AttributeProto.SparseTensorsFieldNumber, s, null);
                break;
        }
        e.EndMessage();
    }

    /// <summary>A tensor named <paramref name="name"/>; <paramref name="initializer"/> is the graph constant it defines
    /// (only initializers may be placed externally).</summary>
    private void Tensor(int field, TensorConstant c, string? name, Value? initializer)
    {
        var e = _e!;
        e.BeginMessage(field);
        foreach (var d in c.Dims) e.Int64(TensorProto.DimsFieldNumber, d);
        e.Int32(TensorProto.DataTypeFieldNumber, (int)c.ElementType);
        long offset = 0;
        bool external = initializer is not null && _offsets is not null && _offsets.TryGetValue(initializer, out offset);
        var strings = external ? null : c.Data as StringTensorData;
        if (strings is not null)
            foreach (var s in strings.Strings) e.Bytes(TensorProto.StringDataFieldNumber, s);
        if (name is not null) e.String(TensorProto.NameFieldNumber, name);
        if (!external && strings is null)
        {
            if (e.IsSizing && !c.Data.HasBytes)
                throw new InvalidOperationException($"constant '{name}' has no bytes (it was read from IR text holding only its digest)");
            e.Bytes(TensorProto.RawDataFieldNumber, c.Data);
        }
        if (c.DocString is not null) e.String(TensorProto.DocStringFieldNumber, c.DocString);
        if (external)
        {
            e.BeginMessage(TensorProto.ExternalDataFieldNumber);
            e.String(StringStringEntryProto.KeyFieldNumber, "location");
            e.String(StringStringEntryProto.ValueFieldNumber, _location!);
            e.EndMessage();
            e.BeginMessage(TensorProto.ExternalDataFieldNumber);
            e.String(StringStringEntryProto.KeyFieldNumber, "offset");
            e.DecimalString(StringStringEntryProto.ValueFieldNumber, offset);
            e.EndMessage();
            e.BeginMessage(TensorProto.ExternalDataFieldNumber);
            e.String(StringStringEntryProto.KeyFieldNumber, "length");
            e.DecimalString(StringStringEntryProto.ValueFieldNumber, c.Data.ByteLength);
            e.EndMessage();
            e.Int32(TensorProto.DataLocationFieldNumber, (int)TensorProto.Types.DataLocation.External);
        }
        Entries(TensorProto.MetadataPropsFieldNumber, c.Metadata);
        e.EndMessage();
    }

    private void Sparse(int field, SparseTensorConstant s, string? valuesName)
    {
        var e = _e!;
        e.BeginMessage(field);
        Tensor(SparseTensorProto.ValuesFieldNumber, s.Values, valuesName ?? s.Values.Name, null);
        Tensor(SparseTensorProto.IndicesFieldNumber, s.Indices, s.Indices.Name, null);
        foreach (var d in s.Dims) e.Int64(SparseTensorProto.DimsFieldNumber, d);
        e.EndMessage();
    }

    private void ValueInfo(int field, Value v)
    {
        var e = _e!;
        e.BeginMessage(field);
        e.Name(ValueInfoProto.NameFieldNumber, v.NameText);
        if (v.Type is not null) Type(ValueInfoProto.TypeFieldNumber, v.Type);
        if (v.DocString is not null) e.String(ValueInfoProto.DocStringFieldNumber, v.DocString);
        e.EndMessage();
    }

    /// <summary>A <c>TypeProto</c>; null writes an empty one. Types are written from their memoized encoding.</summary>
    private void Type(int field, IrType? type)
    {
        if (type is null)
        {
            _e!.Bytes(field, []);
            return;
        }
        _e!.Bytes(field, (_types ??= new TypeEncodings()).Encode(type));
    }

    private void Opset(int field, OpsetImport o)
    {
        var e = _e!;
        e.BeginMessage(field);
        e.String(OperatorSetIdProto.DomainFieldNumber, o.Domain);
        e.Int64(OperatorSetIdProto.VersionFieldNumber, o.Version);
        e.EndMessage();
    }

    private void Entries(int field, IReadOnlyList<KeyValuePair<string, string>> entries)
    {
        var e = _e!;
        for (int i = 0; i < entries.Count; i++)
        {
            var kv = entries[i];
            e.BeginMessage(field);
            e.String(StringStringEntryProto.KeyFieldNumber, kv.Key);
            e.String(StringStringEntryProto.ValueFieldNumber, kv.Value);
            e.EndMessage();
        }
    }
}

/// <summary>
/// <see cref="Model.OpaqueExtraFields"/> split the way <c>ModelProto.MergeFrom</c> applies them: scalars that replace
/// the model's, entries of repeated fields that follow the model's own (each as Google.Protobuf encodes it), and
/// the rest (fields the IR has no place for, then unknown fields) written last.
/// </summary>
internal sealed record ExtraModelFields
{

    public long? IrVersion { get; private init; }
    public string? ProducerName { get; private init; }
    public string? ProducerVersion { get; private init; }
    public string? Domain { get; private init; }
    public long? ModelVersion { get; private init; }
    public string? DocString { get; private init; }
    public bool HasGraph { get; private init; }
    public byte[][] Opsets { get; private init; } = [];
    public byte[][] Metadata { get; private init; } = [];
    public byte[][] TrainingInfo { get; private init; } = [];
    public byte[][] Functions { get; private init; } = [];
    public byte[] Rest { get; private init; } = [];

    public static ExtraModelFields Parse(byte[] bytes)
    {
        var p = ModelProto.Parser.ParseFrom(bytes);
        var extra = new ExtraModelFields
        {
            IrVersion = p.HasIrVersion ? p.IrVersion : null,
            ProducerName = p.HasProducerName ? p.ProducerName : null,
            ProducerVersion = p.HasProducerVersion ? p.ProducerVersion : null,
            Domain = p.HasDomain ? p.Domain : null,
            ModelVersion = p.HasModelVersion ? p.ModelVersion : null,
            DocString = p.HasDocString ? p.DocString : null,
            HasGraph = p.Graph is not null,
            Opsets = [.. p.OpsetImport.Select(m => m.ToByteArray())],
            Metadata = [.. p.MetadataProps.Select(m => m.ToByteArray())],
            TrainingInfo = [.. p.TrainingInfo.Select(m => m.ToByteArray())],
            Functions = [.. p.Functions.Select(m => m.ToByteArray())],
        };
        p.ClearIrVersion();
        p.ClearProducerName();
        p.ClearProducerVersion();
        p.ClearDomain();
        p.ClearModelVersion();
        p.ClearDocString();
        p.Graph = null;
        p.OpsetImport.Clear();
        p.MetadataProps.Clear();
        p.TrainingInfo.Clear();
        p.Functions.Clear();
        return extra with { Rest = p.ToByteArray() };
    }
}
