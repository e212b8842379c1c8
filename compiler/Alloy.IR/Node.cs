namespace Alloy.IR;

/// <summary>An operation. Operands and results change only through <see cref="Graph"/> methods.</summary>
public sealed class Node
{
    internal readonly List<Value?> InputList = [];
    internal readonly List<Value> OutputList = [];
    private static readonly SortedDictionary<string, string> NoAnnotations = new(StringComparer.Ordinal);
    private readonly List<Attr> _attributes = [];
    private SortedDictionary<string, string>? _annotations;
    private List<KeyValuePair<string, string>>? _metadata;

    internal Node(string opType, string domain)
    {
        OpType = opType;
        Domain = domain;
    }

    public string OpType { get; set; }
    /// <summary>Operator set domain exactly as written ("" and "ai.onnx" both denote the default set).</summary>
    public string Domain { get; set; }
    public string Name { get; set; } = "";
    public string? DocString { get; set; }
    public string Overload { get; set; } = "";
    public List<KeyValuePair<string, string>> Metadata => _metadata ??= [];
    public bool HasMetadata => _metadata is { Count: > 0 };

    public Graph? Owner { get; internal set; }
    public Node? Prev { get; internal set; }
    public Node? Next { get; internal set; }

    /// <summary>Operands; null is an omitted optional input.</summary>
    public IReadOnlyList<Value?> Inputs => InputList;
    public IReadOnlyList<Value> Outputs => OutputList;
    public IReadOnlyList<Attr> Attributes => _attributes;

    /// <summary>Annotations set by passes (<c>prec</c>, <c>acc</c>, <c>kernel</c>, …); not ONNX attributes.</summary>
    public IReadOnlyDictionary<string, string> Annotations => _annotations ?? NoAnnotations;

    /// <summary>Scratch slot for graph algorithms (topological checks); meaningless between calls.</summary>
    internal int Mark;

    public bool IsDefaultDomain => Domain is "" or "ai.onnx";

    public Attr? FindAttribute(string name)
    {
        foreach (var a in _attributes)
            if (a.Name == name) return a;
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
        }
        for (int i = 0; i < _attributes.Count; i++)
        {
            if (_attributes[i].Name == attr.Name)
            {
                Detach(_attributes[i]);
                _attributes[i] = attr;
                return;
            }
        }
        _attributes.Add(attr);
    }

    public bool RemoveAttribute(string name)
    {
        var index = _attributes.FindIndex(a => a.Name == name);
        if (index < 0) return false;
        Detach(_attributes[index]);
        _attributes.RemoveAt(index);
        return true;
    }

    /// <summary>A subgraph leaving this node no longer uses the values it captured.</summary>
    private void Detach(Attr old)
    {
        foreach (var g in SubgraphsOf(old.Value))
        {
            g.ReleaseCaptures();
            g.OwnerNode = null;
        }
    }

    public void Annotate(string key, string value) => (_annotations ??= new(StringComparer.Ordinal))[key] = value;
    public bool RemoveAnnotation(string key) => _annotations?.Remove(key) ?? false;

    /// <summary>Subgraphs held by this node's attributes, in attribute order.</summary>
    public IEnumerable<Graph> Subgraphs => _hasSubgraphs ? _attributes.SelectMany(a => SubgraphsOf(a.Value)) : NoSubgraphs;
    private static readonly Graph[] NoSubgraphs = [];
    private bool _hasSubgraphs;

    /// <summary>True when an attribute holds a subgraph (cheap test before <see cref="Subgraphs"/>).</summary>
    internal bool HasSubgraphs => _hasSubgraphs;

    internal static IEnumerable<Graph> SubgraphsOf(AttrValue v) => v switch
    {
        GraphAttr g => [g.Value],
        GraphsAttr gs => gs.Value,
        _ => [],
    };

    public override string ToString() => string.IsNullOrEmpty(Name) ? OpType : $"{OpType} '{Name}'";
}
