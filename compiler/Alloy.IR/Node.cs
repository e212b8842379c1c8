namespace Alloy.IR;

/// <summary>An operation. Operands and results change only through <see cref="Graph"/> methods.</summary>
public sealed class Node
{
    /// <summary>Operands (the first <see cref="OperandCount"/> entries, null for an omitted one), then results: exactly
    /// as many as the node has, in one array (nodes are numerous, and operands are set in place far more often than
    /// added).</summary>
    internal Value?[] Slots;
    internal int OperandCount;
    private static readonly Attr[] NoAttributes = [];
    /// <summary>Exactly as many as the node has; created with the first attribute (most nodes have none).</summary>
    private Attr[]? _attributes;
    private AnnotationMap? _annotations;
    /// <summary>Domain, doc string, overload and metadata: created when one is set (few nodes have any).</summary>
    private NodeDetails? _details;

    /// <summary>A node with <paramref name="operandCount"/> omitted operands and <paramref name="resultCount"/> result
    /// slots, which the creating <see cref="Graph"/> fills.</summary>
    internal Node(string opType, string domain, int operandCount, int resultCount)
    {
        OpType = opType;
        Domain = domain;
        Slots = operandCount + resultCount == 0 ? [] : new Value?[operandCount + resultCount];
        OperandCount = operandCount;
    }

    public string OpType { get; set; }

    /// <summary>Operator set domain exactly as written ("" and "ai.onnx" both denote the default set); kept with the
    /// rarely set parts when not empty (nearly every node is in the default domain).</summary>
    public string Domain
    {
        get => _details?.Domain ?? "";
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            if (value.Length > 0 || _details is not null) Details.Domain = value;
        }
    }
    public string Name
    {
        get => _name.Text;
        set => _name = new LazyName(value);
    }

    /// <summary>The name, possibly still the UTF-8 bytes of the model it was read from.</summary>
    private LazyName _name = new("");

    /// <summary>The name as stored (string or UTF-8 bytes), for writing it without a string.</summary>
    internal ref readonly LazyName NameText => ref _name;

    /// <summary>Sets the name to valid UTF-8 bytes that stay unchanged (see <see cref="LazyName"/>).</summary>
    internal void SetName(LazyName name) => _name = name;

    public string? DocString
    {
        get => _details?.DocString;
        set
        {
            if (value is not null || _details is not null) Details.DocString = value;
        }
    }

    public string Overload
    {
        get => _details?.Overload ?? "";
        set
        {
            if (value.Length > 0 || _details is not null) Details.Overload = value;
        }
    }

    public List<KeyValuePair<string, string>> Metadata => Details.Metadata ??= [];
    public bool HasMetadata => _details?.Metadata is { Count: > 0 };

    private NodeDetails Details => _details ??= new();

    public Graph? Owner { get; internal set; }
    public Node? Prev { get; internal set; }
    public Node? Next { get; internal set; }

    /// <summary>Operands; null is an omitted optional input.</summary>
    public OperandList Inputs => new(Slots, OperandCount);
    public ResultList Outputs => new(Slots, OperandCount);

    /// <summary>The number of results.</summary>
    internal int ResultCount => Slots.Length - OperandCount;

    /// <summary>Result <paramref name="index"/> (a filled slot).</summary>
    internal Value Result(int index) => Slots[OperandCount + index]!;
    public IReadOnlyList<Attr> Attributes => (IReadOnlyList<Attr>?)_attributes ?? NoAttributes;

    /// <summary>Annotations set by passes (<c>prec</c>, <c>acc</c>, <c>kernel</c>, …); not ONNX attributes.</summary>
    public IReadOnlyDictionary<string, string> Annotations => _annotations ?? AnnotationMap.Empty;

    /// <summary>Scratch slot for graph algorithms (topological checks); meaningless between calls.</summary>
    internal int Mark;

    /// <summary>
    /// A number a pass may keep on the node while it runs, typically the node's index in the pass's dense side tables
    /// (arrays instead of node-keyed dictionaries and sets). The IR never reads or keeps it meaningful: a pass sets it
    /// on every node it indexes before reading it, and nothing may rely on it after the pass.
    /// </summary>
    public int Scratch { get; set; }

    public bool IsDefaultDomain => Domain is "" or "ai.onnx";

    public Attr? FindAttribute(string name)
    {
        var attributes = _attributes;
        if (attributes is null) return null;
        for (int i = 0; i < attributes.Length; i++)
            if (attributes[i].Name == name) return attributes[i];
        return null;
    }

    public long GetInt(string name, long fallback) => FindAttribute(name)?.Value is IntAttr i ? i.Value : fallback;

    /// <summary>Adds or replaces an attribute, keeping the position of a replaced one.</summary>
    public void SetAttribute(Attr attr)
    {
        foreach (var g in SubgraphsOf(attr.Value))
        {
            g.OwnerNode = this;
            _hasSubgraphs = true;
            Owner?.NoteSubgraphs();
            Owner?.Touch();
        }
        var attributes = _attributes ?? [];
        for (int i = 0; i < attributes.Length; i++)
        {
            if (attributes[i].Name == attr.Name)
            {
                Detach(attributes[i]);
                attributes[i] = attr;
                return;
            }
        }
        Array.Resize(ref attributes, attributes.Length + 1);
        attributes[^1] = attr;
        _attributes = attributes;
    }

    /// <summary>
    /// For bulk builders: gives a node without attributes all of <paramref name="attributes"/> at once (one
    /// exact-size array). False, with nothing set, when a name appears twice.
    /// </summary>
    internal bool SetNewAttributes(ReadOnlySpan<Attr> attributes)
    {
        if (_attributes is not null) throw new InvalidOperationException($"{this} already has attributes");
        for (int i = 1; i < attributes.Length; i++)
            for (int j = 0; j < i; j++)
                if (attributes[i].Name == attributes[j].Name) return false;
        foreach (var attr in attributes)
        {
            foreach (var g in SubgraphsOf(attr.Value))
            {
                g.OwnerNode = this;
                _hasSubgraphs = true;
                Owner?.NoteSubgraphs();
                Owner?.Touch();
            }
        }
        if (attributes.Length > 0) _attributes = attributes.ToArray();
        return true;
    }

    public bool RemoveAttribute(string name)
    {
        var index = _attributes is null ? -1 : Array.FindIndex(_attributes, a => a.Name == name);
        if (index < 0) return false;
        Detach(_attributes![index]);
        var kept = new Attr[_attributes.Length - 1];
        _attributes.AsSpan(0, index).CopyTo(kept);
        _attributes.AsSpan(index + 1).CopyTo(kept.AsSpan(index));
        _attributes = kept.Length == 0 ? null : kept;
        return true;
    }

    /// <summary>A subgraph leaving this node no longer uses the values it captured.</summary>
    private void Detach(Attr old)
    {
        foreach (var g in SubgraphsOf(old.Value))
        {
            g.ReleaseCaptures();
            g.OwnerNode = null;
            Owner?.Touch();
        }
    }

    public void Annotate(string key, string value) => (_annotations ??= new()).Set(key, value);
    public bool RemoveAnnotation(string key) => _annotations?.Remove(key) ?? false;

    /// <summary>Subgraphs held by this node's attributes, in attribute order.</summary>
    public IEnumerable<Graph> Subgraphs => _hasSubgraphs && _attributes is not null ? _attributes.SelectMany(a => SubgraphsOf(a.Value)) : NoSubgraphs;
    private static readonly Graph[] NoSubgraphs = [];
    private bool _hasSubgraphs;

    /// <summary>True when an attribute holds a subgraph (cheap test before <see cref="Subgraphs"/>).</summary>
    internal bool HasSubgraphs => _hasSubgraphs;

    /// <summary>The subgraphs an attribute value holds; an attribute without any (nearly all) allocates nothing.</summary>
    internal static IEnumerable<Graph> SubgraphsOf(AttrValue v)
    {
        if (v is GraphAttr g) return [g.Value];
        if (v is GraphsAttr gs) return gs.Value;
        return NoSubgraphs;
    }

    /// <summary>Identity hash (equality stays reference equality), cheaper than the runtime's for node-keyed tables.</summary>
    public override int GetHashCode() => _hash;
    private readonly int _hash = IdentityHash.Next();

    public override string ToString() => _name.IsEmpty ? OpType : $"{OpType} '{Name}'";

    /// <summary>The rarely set parts of a node, kept out of the node itself.</summary>
    private sealed class NodeDetails
    {
        public string Domain = "";
        public string? DocString;
        public string Overload = "";
        public List<KeyValuePair<string, string>>? Metadata;
    }
}
