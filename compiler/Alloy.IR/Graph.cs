namespace Alloy.IR;

/// <summary>Quantization parameter names attached to a tensor (ONNX <c>TensorAnnotation</c>).</summary>
public sealed record TensorAnnotation(string TensorName, IReadOnlyList<KeyValuePair<string, string>> QuantParameterTensorNames);

/// <summary>
/// A graph: inputs, constants, nodes in topological order, outputs. Subgraphs (bodies of If / Loop / Scan)
/// are graphs owned by a node attribute; values of enclosing graphs they use are explicit captures.
/// Every topology change goes through this class so use-lists stay right.
/// </summary>
public sealed class Graph
{
    private readonly NameTable _scope = new();
    private readonly List<Value> _inputs = [];
    private readonly List<Value> _outputs = [];
    private readonly List<Value> _constants = [];
    private readonly List<Value> _captures = [];
    private int _nodeCount;
    private int _fresh;
    /// <summary>Slots of <see cref="_constants"/> emptied by <see cref="RemoveConstant"/>, compacted on the next read.</summary>
    private int _removedConstants;
    /// <summary>Set once a node holding a subgraph is linked here (or gets one while linked); never cleared.</summary>
    private bool _mayHoldSubgraphs;

    internal void NoteSubgraphs() => _mayHoldSubgraphs = true;

    /// <summary>
    /// Counts structural changes (definitions, names, operands, use-lists, node order, outputs, captures, attached
    /// subgraphs) of this graph and of the graphs nested in it; the <see cref="Verifier"/> does not walk a top-level
    /// graph again while this count is the one it last found valid (<see cref="VerifiedVersion"/>).
    /// </summary>
    internal long StructureVersion { get; private set; }

    /// <summary>The <see cref="StructureVersion"/> the verifier last found valid (-1: never).</summary>
    internal long VerifiedVersion { get; set; } = -1;

    /// <summary>Records a structural change here and in every enclosing graph.</summary>
    internal void Touch()
    {
        for (var g = this; g is not null; g = g.Parent) g.StructureVersion++;
    }

    public Graph(string name, Graph? parent = null)
    {
        Name = name;
        Parent = parent;
    }

    public string Name { get; set; }
    public string? DocString { get; set; }
    public List<KeyValuePair<string, string>> Metadata { get; } = [];
    public List<TensorAnnotation> QuantizationAnnotations { get; } = [];

    /// <summary>The enclosing graph of a subgraph.</summary>
    public Graph? Parent { get; internal set; }
    /// <summary>The node whose attribute holds this subgraph.</summary>
    public Node? OwnerNode { get; internal set; }

    public IReadOnlyList<Value> Inputs => _inputs;
    public IReadOnlyList<Value> Outputs => _outputs;
    /// <summary>Constants (initializers, dense and sparse) in definition order.</summary>
    public IReadOnlyList<Value> Constants
    {
        get
        {
            if (_removedConstants > 0) CompactConstants();
            return _constants;
        }
    }
    /// <summary>Values of enclosing graphs this subgraph uses, each as a local stand-in.</summary>
    public IReadOnlyList<Value> Captures => _captures;

    public Node? FirstNode { get; private set; }
    public Node? LastNode { get; private set; }
    public int NodeCount => _nodeCount;

    /// <summary>How many named values this graph defines (its name table).</summary>
    internal int NamedValueCount => _scope.Count;

    /// <summary>Nodes in order; safe against erasing the current node while iterating.</summary>
    public IEnumerable<Node> Nodes
    {
        get
        {
            for (var n = FirstNode; n is not null;)
            {
                var next = n.Next;
                yield return n;
                n = next;
            }
        }
    }

    /// <summary>This graph and every subgraph nested in it, depth first.</summary>
    public IEnumerable<Graph> SelfAndSubgraphs()
    {
        if (!_mayHoldSubgraphs) return [this];
        var all = new List<Graph>();
        Collect(this, all);
        return all;

        static void Collect(Graph g, List<Graph> into)
        {
            into.Add(g);
            for (var n = g.FirstNode; n is not null; n = n.Next)
                if (n.HasSubgraphs)
                    foreach (var s in n.Subgraphs) Collect(s, into);
        }
    }

    // ---- names ----

    /// <summary>Finds a value by name in this graph only.</summary>
    public Value? FindLocal(string name) => _scope.Find(name);

    /// <summary>Finds a value by name in this graph only, without allocating the name.</summary>
    public Value? FindLocal(ReadOnlySpan<char> name) => _scope.Find(name);

    /// <summary>True when <paramref name="value"/> is the value this graph's name table holds under its name.</summary>
    internal bool Holds(Value value) => ReferenceEquals(_scope.Find(in value.NameText), value);

    /// <summary>Finds a value by name in this graph or an enclosing one.</summary>
    public Value? Lookup(string name)
    {
        for (var g = this; g is not null; g = g.Parent)
            if (g._scope.Find(name) is { } v) return v;
        return null;
    }

    /// <summary>Finds a value by name in this graph or an enclosing one, without allocating the name.</summary>
    public Value? Lookup(ReadOnlySpan<char> name)
    {
        for (var g = this; g is not null; g = g.Parent)
            if (g.FindLocal(name) is { } v) return v;
        return null;
    }

    /// <summary>A name not used in this graph or any enclosing graph, derived from <paramref name="hint"/>.</summary>
    public string FreshName(string hint)
    {
        if (hint.Length > 0 && Lookup(hint) is null) return hint;
        string name;
        do name = $"{hint}_{_fresh++}";
        while (Lookup(name) is not null);
        return name;
    }

    private Value Define(string name, ValueKind kind, IrType? type) => Define(new LazyName(name), kind, type);

    private Value Define(LazyName name, ValueKind kind, IrType? type)
    {
        Touch();
        var v = new Value(this, name, kind, type);
        if (v.HasName)
        {
            if (!_scope.TryAdd(v))
                throw new IrException($"value '{v.Name}' is defined twice in graph '{Name}'");
        }
        return v;
    }

    /// <summary>Renames a value; the new name must be free in this graph.</summary>
    public void Rename(Value value, string name)
    {
        Touch();
        if (value.Owner != this) throw new IrException($"value '{value.Name}' does not belong to graph '{Name}'");
        if (name == value.Name) return;
        if (name.Length > 0 && _scope.Find(name) is not null) throw new IrException($"value '{name}' is defined twice in graph '{Name}'");
        if (value.HasName) _scope.Remove(value);
        value.Name = name;
        if (name.Length > 0) _scope.TryAdd(value);
    }

    /// <summary>Prepares the name table for <paramref name="count"/> more values (avoids rehashing while importing).</summary>
    public void ReserveNames(int count) => _scope.EnsureCapacity(_scope.Count + count);

    // ---- definitions ----

    public Value AddInput(string name, IrType? type)
    {
        var v = Define(name, ValueKind.Input, type);
        _inputs.Add(v);
        return v;
    }

    public Value AddConstant(string name, TensorConstant data)
    {
        var v = Define(name, ValueKind.Constant, data.Type);
        v.Constant = data;
        ListConstant(v);
        return v;
    }

    public Value AddSparseConstant(string name, SparseTensorConstant data)
    {
        var v = Define(name, ValueKind.Constant, data.Type);
        v.SparseConstant = data;
        ListConstant(v);
        return v;
    }

    /// <summary>Gives a graph input a default value (an initializer with the input's name).</summary>
    public void SetInputDefault(Value input, TensorConstant? data)
    {
        Touch();
        if (input.Kind != ValueKind.Input || input.Owner != this) throw new IrException($"'{input.Name}' is not an input of graph '{Name}'");
        if (data is not null && !IsListedConstant(input)) ListConstant(input);
        if (data is null && IsListedConstant(input)) UnlistConstant(input);
        input.Constant = data;
    }

    /// <summary>Removes a constant that has no uses (constant time; the list is compacted when next read).</summary>
    public void RemoveConstant(Value constant)
    {
        Touch();
        if (constant.HasUses) throw new IrException($"constant '{constant.Name}' still has {constant.Uses.Count} use(s)");
        if (!IsListedConstant(constant)) throw new IrException($"'{constant.Name}' is not a constant of graph '{Name}'");
        UnlistConstant(constant);
        if (constant.Kind == ValueKind.Constant) _scope.Remove(constant);
        else constant.Constant = null;
    }

    private bool IsListedConstant(Value v) =>
        v.ConstantSlot >= 0 && v.ConstantSlot < _constants.Count && ReferenceEquals(_constants[v.ConstantSlot], v);

    private void ListConstant(Value v)
    {
        v.ConstantSlot = _constants.Count;
        _constants.Add(v);
    }

    private void UnlistConstant(Value v)
    {
        _constants[v.ConstantSlot] = null!;
        v.ConstantSlot = -1;
        _removedConstants++;
    }

    private void CompactConstants()
    {
        int kept = 0;
        for (int i = 0; i < _constants.Count; i++)
        {
            if (_constants[i] is not { } v) continue;
            v.ConstantSlot = kept;
            _constants[kept++] = v;
        }
        _constants.RemoveRange(kept, _constants.Count - kept);
        _removedConstants = 0;
    }

    /// <summary>The local stand-in for <paramref name="outer"/>, a value of an enclosing graph (created once).</summary>
    public Value Capture(Value outer)
    {
        Touch();
        if (Parent is null) throw new IrException($"graph '{Name}' has no enclosing graph to capture '{outer.Name}' from");
        foreach (var c in _captures)
            if (c.Outer == outer) return c;
        var source = outer.Owner == Parent ? outer : Parent.Capture(outer);
        var v = new Value(this, outer.NameText, ValueKind.Capture, outer.Type) { Outer = source };
        if (!_scope.TryAdd(v)) throw new IrException($"graph '{Name}' defines '{outer.Name}' and also captures it");
        _captures.Add(v);
        source.UseList.Add(new Use(UseKind.Capture, null, this, _captures.Count - 1));
        return v;
    }

    /// <summary>Removes a capture nothing in this graph uses; the enclosing value loses the use the capture held.</summary>
    public void RemoveCapture(Value capture)
    {
        Touch();
        int index = capture.Kind == ValueKind.Capture && capture.Owner == this ? _captures.IndexOf(capture) : -1;
        if (index < 0) throw new IrException($"'{capture.Name}' is not a capture of graph '{Name}'");
        if (capture.HasUses) throw new IrException($"capture '{capture.Name}' still has {capture.Uses.Count} use(s)");
        capture.Outer?.UseList.Remove(new Use(UseKind.Capture, null, this, index));
        _captures.RemoveAt(index);
        // Later captures move down one place: their outer values' uses follow.
        for (int i = index; i < _captures.Count; i++)
        {
            if (_captures[i].Outer is not { } outer) continue;
            int k = outer.UseList.IndexOf(new Use(UseKind.Capture, null, this, i + 1));
            if (k >= 0) outer.UseList[k] = new Use(UseKind.Capture, null, this, i);
        }
        _scope.Remove(capture);
        capture.Outer = null;
    }

    // ---- outputs ----

    public void AddOutput(Value value)
    {
        Touch();
        CheckVisible(value);
        _outputs.Add(value);
        value.UseList.Add(new Use(UseKind.GraphOutput, null, this, _outputs.Count - 1));
    }

    public void SetOutput(int index, Value value)
    {
        Touch();
        CheckVisible(value);
        var old = _outputs[index];
        old.UseList.Remove(new Use(UseKind.GraphOutput, null, this, index));
        _outputs[index] = value;
        value.UseList.Add(new Use(UseKind.GraphOutput, null, this, index));
    }

    // ---- nodes ----

    /// <summary>Creates a node with fresh results named <paramref name="outputNames"/> and appends it, or inserts it before <paramref name="before"/>.</summary>
    public Node AddNode(string opType, IEnumerable<Value?> inputs, IEnumerable<string> outputNames, string domain = "", Node? before = null, IEnumerable<Attr>? attributes = null)
    {
        var operands = inputs as IReadOnlyList<Value?> ?? inputs.ToArray();
        var names = outputNames as IReadOnlyList<string> ?? outputNames.ToArray();
        var node = new Node(opType, domain, operands.Count, names.Count) { Owner = this };
        if (attributes is not null)
            foreach (var a in attributes) node.SetAttribute(a);
        for (int i = 0; i < operands.Count; i++)
        {
            if (operands[i] is not { } v) continue;
            v = Local(v);
            node.Slots[i] = v;
            v.UseList.Add(new Use(UseKind.Operand, node, null, i));
        }
        for (int i = 0; i < names.Count; i++)
            DefineResult(node, i, names[i], null);
        Link(node, before);
        return node;
    }

    /// <summary>
    /// Creates a node with no operands or results yet (added with <see cref="AddOperand"/> and <see cref="AddResult"/>)
    /// and appends it (or inserts it before <paramref name="before"/>). The capacities are hints.
    /// </summary>
    public Node AddEmptyNode(string opType, string domain, int operandCapacity, int resultCapacity, Node? before = null)
    {
        var node = new Node(opType, domain, 0, 0) { Owner = this };
        Link(node, before);
        return node;
    }

    /// <summary>
    /// For bulk builders that know the counts: appends a node with <paramref name="operandCount"/> omitted operands
    /// (set with <see cref="SetOperand"/>) and <paramref name="resultCount"/> result slots, each of which must be
    /// filled with <see cref="DefineResult"/> before the node is used.
    /// </summary>
    internal Node AddNodeWithSlots(string opType, string domain, int operandCount, int resultCount)
    {
        var node = new Node(opType, domain, operandCount, resultCount) { Owner = this };
        Link(node, null);
        return node;
    }

    /// <summary>Defines result <paramref name="index"/> of <paramref name="node"/> (a slot not yet filled).</summary>
    internal Value DefineResult(Node node, int index, string name, IrType? type) => DefineResult(node, index, new LazyName(name), type);

    /// <summary>Defines result <paramref name="index"/> of <paramref name="node"/> (a slot not yet filled), named by
    /// <paramref name="name"/>, which may still be the UTF-8 bytes of the model being read.</summary>
    internal Value DefineResult(Node node, int index, LazyName name, IrType? type)
    {
        var v = Define(name, ValueKind.NodeResult, type);
        v.Producer = node;
        v.ResultIndex = index;
        node.Slots[node.OperandCount + index] = v;
        return v;
    }

    /// <summary>Appends a new result to <paramref name="node"/>.</summary>
    public Value AddResult(Node node, string name, IrType? type)
    {
        int index = node.ResultCount;
        var v = Define(name, ValueKind.NodeResult, type);
        v.Producer = node;
        v.ResultIndex = index;
        Array.Resize(ref node.Slots, node.Slots.Length + 1);
        node.Slots[^1] = v;
        return v;
    }

    public void SetOperand(Node node, int index, Value? value)
    {
        Touch();
        if (value is not null) value = Local(value);
        if ((uint)index >= (uint)node.OperandCount) throw new ArgumentOutOfRangeException(nameof(index));
        var old = node.Slots[index];
        old?.UseList.Remove(new Use(UseKind.Operand, node, null, index));
        node.Slots[index] = value;
        value?.UseList.Add(new Use(UseKind.Operand, node, null, index));
    }

    public void AddOperand(Node node, Value? value)
    {
        Touch();
        if (value is not null) value = Local(value);
        int index = node.OperandCount;
        // The new operand goes between the operands and the results.
        var slots = new Value?[node.Slots.Length + 1];
        node.Slots.AsSpan(0, index).CopyTo(slots);
        node.Slots.AsSpan(index).CopyTo(slots.AsSpan(index + 1));
        slots[index] = value;
        node.Slots = slots;
        node.OperandCount = index + 1;
        value?.UseList.Add(new Use(UseKind.Operand, node, null, index));
    }

    /// <summary>Makes every use of <paramref name="from"/> (operands, graph outputs, captures) use <paramref name="to"/>.</summary>
    public void ReplaceAllUsesWith(Value from, Value to)
    {
        Touch();
        if (from == to) return;
        foreach (var use in from.UseList.ToArray())
        {
            switch (use.Kind)
            {
                case UseKind.Operand:
                    use.User!.Owner!.SetOperand(use.User, use.Index, to);
                    break;
                case UseKind.GraphOutput:
                    use.Graph!.SetOutput(use.Index, to);
                    break;
                case UseKind.Capture:
                    var capture = use.Graph!._captures[use.Index];
                    from.UseList.Remove(use);
                    capture.Outer = to;
                    to.UseList.Add(use);
                    break;
            }
        }
    }

    /// <summary>Removes a node whose results have no uses.</summary>
    public void Erase(Node node)
    {
        if (node.Owner != this) throw new IrException($"node {node} does not belong to graph '{Name}'");
        foreach (var r in node.Outputs)
            if (r.HasUses) throw new IrException($"cannot erase {node}: result '{r.Name}' still has {r.Uses.Count} use(s)");
        for (int i = 0; i < node.OperandCount; i++)
            node.Slots[i]?.UseList.Remove(new Use(UseKind.Operand, node, null, i));
        foreach (var g in node.Subgraphs) g.ReleaseCaptures();
        foreach (var r in node.Outputs)
            if (r.HasName) _scope.Remove(r);
        Unlink(node);
        node.Owner = null;
    }

    /// <summary>Drops the uses this graph (and graphs nested in it) hold on enclosing values, when it is detached.</summary>
    internal void ReleaseCaptures()
    {
        Touch();
        foreach (var n in Nodes)
            foreach (var g in n.Subgraphs) g.ReleaseCaptures();
        for (int i = 0; i < _captures.Count; i++)
            _captures[i].Outer?.UseList.Remove(new Use(UseKind.Capture, null, this, i));
    }

    /// <summary>Moves <paramref name="node"/> to just before <paramref name="anchor"/> (or to the end when null).</summary>
    public void Move(Node node, Node? anchor)
    {
        if (node == anchor) return;
        Unlink(node);
        Link(node, anchor);
    }

    private void Link(Node node, Node? before)
    {
        Touch();
        node.Owner = this;
        if (node.HasSubgraphs) _mayHoldSubgraphs = true;
        _nodeCount++;
        if (before is null)
        {
            node.Prev = LastNode;
            node.Next = null;
            if (LastNode is null) FirstNode = node;
            else LastNode.Next = node;
            LastNode = node;
            return;
        }
        if (before.Owner != this) throw new IrException($"anchor {before} does not belong to graph '{Name}'");
        node.Next = before;
        node.Prev = before.Prev;
        if (before.Prev is null) FirstNode = node;
        else before.Prev.Next = node;
        before.Prev = node;
    }

    private void Unlink(Node node)
    {
        Touch();
        _nodeCount--;
        if (node.Prev is null) FirstNode = node.Next;
        else node.Prev.Next = node.Next;
        if (node.Next is null) LastNode = node.Prev;
        else node.Next.Prev = node.Prev;
        node.Prev = node.Next = null;
    }

    /// <summary>The value itself when it belongs to this graph; its capture when it belongs to an enclosing graph.</summary>
    private Value Local(Value v)
    {
        if (v.Owner == this) return v;
        CheckVisible(v);
        return Capture(v);
    }

    internal void CheckVisible(Value v)
    {
        for (var g = this; g is not null; g = g.Parent)
            if (v.Owner == g) return;
        throw new IrException($"value '{v.Name}' is not visible in graph '{Name}'");
    }

    /// <summary>
    /// Reorders nodes topologically (stable: keeps the given order where it is already valid).
    /// Throws <see cref="IrException"/> naming a node on a cycle.
    /// </summary>
    public void SortTopologically()
    {
        if (IsTopologicallyOrdered()) return;
        var nodes = Nodes.ToList();
        var index = new Dictionary<Node, int>(nodes.Count);
        for (int i = 0; i < nodes.Count; i++) index[nodes[i]] = i;
        var pending = new int[nodes.Count];
        var users = new List<int>?[nodes.Count];
        for (int i = 0; i < nodes.Count; i++)
        {
            foreach (var v in Dependencies(nodes[i]))
            {
                if (v.Kind == ValueKind.NodeResult && v.Owner == this && v.Producer is { } p && index.TryGetValue(p, out var pi))
                {
                    pending[i]++;
                    (users[pi] ??= []).Add(i);
                }
            }
        }
        var ready = new PriorityQueue<int, int>();
        for (int i = 0; i < nodes.Count; i++)
            if (pending[i] == 0) ready.Enqueue(i, i);
        var order = new List<Node>(nodes.Count);
        while (ready.TryDequeue(out var i, out _))
        {
            order.Add(nodes[i]);
            if (users[i] is { } us)
                foreach (var u in us)
                    if (--pending[u] == 0) ready.Enqueue(u, u);
        }
        if (order.Count != nodes.Count)
        {
            var stuck = nodes.First(n => pending[index[n]] > 0);
            throw new IrException($"the graph has a cycle through node {stuck}") { Node = stuck };
        }
        FirstNode = LastNode = null;
        _nodeCount = 0;
        foreach (var n in order) Link(n, null);
    }

    /// <summary>True when every node comes after the producers of the values it depends on.</summary>
    public bool IsTopologicallyOrdered()
    {
        for (var n = FirstNode; n is not null; n = n.Next) n.Mark = 0;
        int position = 0;
        for (var n = FirstNode; n is not null; n = n.Next)
        {
            var inputs = n.Slots;
            for (int i = 0; i < n.OperandCount; i++)
                if (inputs[i] is { Kind: ValueKind.NodeResult, Producer: { } p } && p.Owner == this && p.Mark == 0) return false;
            if (n.HasSubgraphs)
                foreach (var g in n.Subgraphs)
                    foreach (var c in g.Captures)
                        if (c.Outer is { Kind: ValueKind.NodeResult, Producer: { } p } && p.Owner == this && p.Mark == 0) return false;
            n.Mark = ++position;
        }
        return true;
    }

    /// <summary>Values of this graph a node needs before it can run: its operands and, through captures, what its subgraphs use.</summary>
    public IEnumerable<Value> Dependencies(Node node)
    {
        foreach (var v in node.Inputs)
            if (v is not null) yield return v;
        foreach (var g in node.Subgraphs)
            foreach (var c in g.Captures)
                if (c.Outer is { } o) yield return o;
    }
}

/// <summary>An IR invariant was broken by a caller, or an input describes an invalid graph.</summary>
public sealed class IrException(string message) : Exception(message)
{
    public Node? Node { get; init; }
}
