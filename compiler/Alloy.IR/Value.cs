namespace Alloy.IR;

/// <summary>How a value is defined.</summary>
public enum ValueKind : byte
{
    /// <summary>A graph (or function) input.</summary>
    Input,
    /// <summary>A constant (initializer) owned by the graph.</summary>
    Constant,
    /// <summary>A result of a node.</summary>
    NodeResult,
    /// <summary>A subgraph's local stand-in for a value of an enclosing graph.</summary>
    Capture,
}

/// <summary>Where a value is used (at most four kinds: a use-list packs the kind into two bits).</summary>
public enum UseKind : byte
{
    /// <summary>Operand <see cref="Use.Index"/> of <see cref="Use.User"/>.</summary>
    Operand,
    /// <summary>Output <see cref="Use.Index"/> of <see cref="Use.Graph"/>.</summary>
    GraphOutput,
    /// <summary>Capture <see cref="Use.Index"/> of subgraph <see cref="Use.Graph"/>.</summary>
    Capture,
}

/// <summary>
/// One use of a value: operand <see cref="Index"/> of node <see cref="User"/>, or output / capture <see cref="Index"/>
/// of <see cref="Graph"/>. A use names either a node or a graph, never both, so one reference holds whichever it is
/// (16 bytes a use instead of 24: use-lists are the IR's most numerous entries).
/// </summary>
public readonly record struct Use
{
    /// <summary>The user node (<see cref="UseKind.Operand"/>) or the graph (outputs, captures).</summary>
    private readonly object? _site;

    public Use(UseKind kind, Node? user, Graph? graph, int index)
    {
        Kind = kind;
        _site = (object?)user ?? graph;
        Index = index;
    }

    /// <summary>The user node or the graph, whichever the use names.</summary>
    internal object? Site => _site;

    public UseKind Kind { get; init; }
    public Node? User
    {
        get => _site as Node;
        init => _site = value ?? (_site is Node ? null : _site);
    }
    public Graph? Graph
    {
        get => _site as Graph;
        init => _site = value ?? (_site is Graph ? null : _site);
    }
    public int Index { get; init; }

    public void Deconstruct(out UseKind kind, out Node? user, out Graph? graph, out int index)
    {
        kind = Kind;
        user = User;
        graph = Graph;
        index = Index;
    }
}

/// <summary>An SSA value: exactly one definition, and a use-list kept right by the <see cref="Graph"/> API.</summary>
public sealed class Value
{
    /// <summary>Kept in the value (a struct field, mutated in place): most values have one use.</summary>
    internal UseList UseList;
    /// <summary>The doc string and the <see cref="Uses"/> view: created when first needed (few values have either).</summary>
    private ValueDetails? _details;
    private readonly int _hash = IdentityHash.Next();

    /// <summary>What defines the value besides its kind: the producing node of a result, the enclosing value of a
    /// capture, the data of a constant or an input's default. One field serves all four (values are numerous).</summary>
    private object? _definition;

    internal Value(Graph owner, string name, ValueKind kind, IrType? type)
        : this(owner, new LazyName(name), kind, type)
    {
    }

    internal Value(Graph owner, LazyName name, ValueKind kind, IrType? type)
    {
        Owner = owner;
        _name = name;
        Kind = kind;
        Type = type;
    }

    /// <summary>The name, possibly still the UTF-8 bytes of the model it was read from.</summary>
    private LazyName _name;

    /// <summary>The graph whose scope defines this value.</summary>
    public Graph Owner { get; internal set; }
    /// <summary>The value's name (unique in its graph and the graphs it encloses); empty for an omitted optional output.</summary>
    public string Name
    {
        get => _name.Text;
        internal set => _name = new LazyName(value);
    }

    /// <summary>The name as stored (string or UTF-8 bytes), for comparing, hashing and writing it without a string.</summary>
    internal ref readonly LazyName NameText => ref _name;

    /// <summary>True when the name is not empty (without decoding it).</summary>
    public bool HasName => !_name.IsEmpty;
    public ValueKind Kind { get; internal set; }
    public IrType? Type { get; set; }
    public string? DocString
    {
        get => _details?.DocString;
        set
        {
            if (value is not null || _details is not null) Details.DocString = value;
        }
    }

    private ValueDetails Details => _details ??= new();

    /// <summary>The node that defines a <see cref="ValueKind.NodeResult"/>.</summary>
    public Node? Producer
    {
        get => _definition as Node;
        internal set => SetDefinition<Node>(value);
    }
    public int ResultIndex { get; internal set; }

    /// <summary>Dense data of a constant, or the default value of an input (IR version 3 initializers that are inputs).</summary>
    public TensorConstant? Constant
    {
        get => _definition as TensorConstant;
        internal set => SetDefinition<TensorConstant>(value);
    }

    public SparseTensorConstant? SparseConstant
    {
        get => _definition as SparseTensorConstant;
        internal set => SetDefinition<SparseTensorConstant>(value);
    }

    /// <summary>For a <see cref="ValueKind.Capture"/>: the enclosing-scope value it stands for.</summary>
    public Value? Outer
    {
        get => _definition as Value;
        internal set => SetDefinition<Value>(value);
    }

    /// <summary>Sets the definition; clearing it with null only clears a definition of that kind.</summary>
    private void SetDefinition<T>(T? value) where T : class
    {
        if (value is not null) _definition = value;
        else if (_definition is T) _definition = null;
    }

    /// <summary>The next value in its graph's name-table bucket.</summary>
    internal Value? NextInScope;

    /// <summary>The hash code of the name the graph's name table filed this value under (meaningless when it is not filed).</summary>
    internal int NameHash;

    /// <summary>Scratch stamp of the verifier's walk that last defined this value; meaningless between calls.</summary>
    internal long Stamp;

    /// <summary>Position in the owning graph's constant list, or -1 when the value is not listed there.</summary>
    internal int ConstantSlot = -1;

    /// <summary>
    /// A number a pass may keep on the value while it runs, typically the value's index in the pass's dense side
    /// tables (arrays instead of value-keyed dictionaries). The IR never reads or keeps it meaningful: a pass sets it
    /// on every value it indexes before reading it, and nothing may rely on it after the pass.
    /// </summary>
    public int Scratch { get; set; }

    public IReadOnlyList<Use> Uses => Details.UsesView ??= new UseListView(this);
    public bool HasUses => UseList.Count > 0;

    /// <summary>The number of uses, read without creating the <see cref="Uses"/> view.</summary>
    public int UseCount => UseList.Count;

    /// <summary>Use <paramref name="index"/> (0 ≤ index &lt; <see cref="UseCount"/>), read without creating the <see cref="Uses"/> view.</summary>
    public Use UseAt(int index) => UseList[index];

    /// <summary>The element type when the value is a dense tensor.</summary>
    public DataType? ElementType => (Type as TensorType)?.ElementType;

    /// <summary>Identity hash (equality stays reference equality), cheaper than the runtime's for the passes' many value-keyed tables.</summary>
    public override int GetHashCode() => _hash;

    public override string ToString() => "%" + Name;

    /// <summary>The rarely set parts of a value, kept out of the value itself.</summary>
    private sealed class ValueDetails
    {
        public string? DocString;
        public UseListView? UsesView;
    }

    /// <summary>A live read-only view of a value's use-list.</summary>
    private sealed class UseListView(Value value) : IReadOnlyList<Use>
    {
        public int Count => value.UseList.Count;
        public Use this[int index] => value.UseList[index];

        public IEnumerator<Use> GetEnumerator()
        {
            for (int i = 0; i < value.UseList.Count; i++) yield return value.UseList[i];
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
