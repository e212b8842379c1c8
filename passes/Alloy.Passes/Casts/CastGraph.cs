using Alloy.IR;

namespace Alloy.Passes.Casts;

/// <summary>IR helpers shared by the cast passes.</summary>
internal static class CastGraph
{
    public const string CastOp = "Cast";

    /// <summary>The element type of a dense tensor value, or null when unknown.</summary>
    public static DataType? Elem(Value? v) => v?.Type is TensorType { ElementType: not DataType.Undefined } t ? t.ElementType : null;

    /// <summary>The defining value a capture stands for (the value itself otherwise).</summary>
    public static Value Root(Value v)
    {
        while (v is { Kind: ValueKind.Capture, Outer: { } outer }) v = outer;
        return v;
    }

    public static bool IsCast(Node n) => n.OpType == CastOp && n.IsDefaultDomain && n.Inputs.Count == 1 && n.Outputs.Count == 1;

    /// <summary>The <c>to</c> type of a Cast node, or null when missing or not a known element type.</summary>
    public static DataType? CastTarget(Node n) =>
        n.FindAttribute("to")?.Value is IntAttr { Value: var code } && DataTypes.IsKnown((int)code) && code != 0 ? (DataType)code : null;

    /// <summary>Changes a tensor value's element type (keeping its shape) and the types of the captures that stand for it.</summary>
    public static void SetElem(Value v, DataType type) => SetElem(v, type, null);

    /// <summary>
    /// <see cref="SetElem(Value, DataType)"/>, sharing the new type object between values whose old type was the same
    /// object (<paramref name="retyped"/> maps old type objects to new ones, by reference; types are immutable).
    /// </summary>
    public static void SetElem(Value v, DataType type, Dictionary<IrType, TensorType>? retyped)
    {
        var old = v.Type;
        var shape = (old as TensorType)?.Shape;
        TensorType? now = null;
        if (retyped is not null && old is not null && retyped.TryGetValue(old, out var shared) && shared.ElementType == type) now = shared;
        if (now is null)
        {
            now = new TensorType(type, shape);
            if (retyped is not null && old is not null) retyped[old] = now;
        }
        v.Type = now;
        for (int i = 0; i < v.UseCount; i++)
            if (v.UseAt(i) is { Kind: UseKind.Capture, Graph: { } g } use)
                SetElem(g.Captures[use.Index], type, retyped);
    }

    public static bool IsGraphOutput(Value v)
    {
        for (int i = 0; i < v.UseCount; i++)
            if (v.UseAt(i).Kind == UseKind.GraphOutput) return true;
        return false;
    }

    /// <summary>
    /// True when every use of <paramref name="result"/> can be moved to <paramref name="replacement"/>. A graph output is
    /// named by its value, so it moves only when the replacement is a node result of the same graph that is not itself a
    /// graph output (the replacement then takes over the name); captures move only to a value of the same graph.
    /// </summary>
    public static bool CanReplace(Value result, Value replacement)
    {
        // Captures in nested bodies must refer to the graph right around them: only same-graph replacements move them.
        if (replacement.Owner != result.Owner && result.Uses.Any(u => u.Kind == UseKind.Capture)) return false;
        if (!IsGraphOutput(result)) return true;
        return replacement.Owner == result.Owner && replacement.Kind == ValueKind.NodeResult && !IsGraphOutput(replacement);
    }

    /// <summary>
    /// Moves every use of the single result of <paramref name="node"/> to <paramref name="replacement"/> and erases the
    /// node; a graph output keeps its name (see <see cref="CanReplace"/>). Returns false, changing nothing, when that
    /// is not possible.
    /// </summary>
    public static bool ReplaceAndErase(Node node, Value replacement)
    {
        var result = node.Outputs[0];
        if (!CanReplace(result, replacement)) return false;
        var g = node.Owner!;
        bool output = IsGraphOutput(result);
        var name = result.Name;
        g.ReplaceAllUsesWith(result, replacement);
        g.Erase(node);
        if (output) replacement.Owner.Rename(replacement, name);
        return true;
    }
}

/// <summary>Fresh value names unique in the whole model (FreshName sees only enclosing graphs, not nested ones).</summary>
internal sealed class NameSource
{
    private readonly HashSet<string> _taken = new(StringComparer.Ordinal);
    private readonly Graph _main;

    /// <summary>The main graph's names are read from its own name table; only nested graphs' names are collected.</summary>
    public NameSource(Model model)
    {
        _main = model.Graph;
        foreach (var g in model.Graph.SelfAndSubgraphs())
            if (g != _main) Add(g);
        SingleScope = _taken.Count == 0 && !model.Graph.SelfAndSubgraphs().Skip(1).Any();
    }

    /// <summary>True when the model has no subgraphs: every name lives in the main graph's table.</summary>
    public bool SingleScope { get; }

    private void Add(Graph g)
    {
        foreach (var v in g.Inputs) _taken.Add(v.Name);
        foreach (var v in g.Constants) _taken.Add(v.Name);
        foreach (var v in g.Captures) _taken.Add(v.Name);
        foreach (var n in g.Nodes)
            foreach (var r in n.Outputs) _taken.Add(r.Name);
    }

    public string Fresh(Graph g, string hint)
    {
        var name = hint;
        for (int i = 0; _taken.Contains(name) || _main.FindLocal(name) is not null || (g != _main && g.Lookup(name) is not null); i++) name = $"{hint}_{i}";
        _taken.Add(name);
        return name;
    }
}
