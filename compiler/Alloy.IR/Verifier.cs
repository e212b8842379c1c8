namespace Alloy.IR;

/// <summary>One broken invariant found by the <see cref="Verifier"/>.</summary>
public sealed record VerifierIssue(string GraphName, string? NodeName, string Message)
{
    public override string ToString() => NodeName is null ? $"graph '{GraphName}': {Message}" : $"graph '{GraphName}', node {NodeName}: {Message}";
}

/// <summary>
/// Read-only structural checks: single definition per name, operands defined before use, use-lists that match
/// operands exactly, captures that resolve to a value visible from the owning node, defined graph outputs.
/// </summary>
public static class Verifier
{
    public static IReadOnlyList<VerifierIssue> Verify(Model model)
    {
        List<VerifierIssue>? issues = null;
        Verify(model.Graph, ref issues);
        foreach (var f in model.Functions) Verify(f.Body, ref issues);
        return (IReadOnlyList<VerifierIssue>?)issues ?? [];
    }

    public static IReadOnlyList<VerifierIssue> Verify(Graph graph)
    {
        List<VerifierIssue>? issues = null;
        Verify(graph, ref issues);
        return (IReadOnlyList<VerifierIssue>?)issues ?? [];
    }

    /// <summary>
    /// Checks one graph. A top-level graph whose structure has not changed since the verifier last found it valid
    /// (<see cref="Graph.StructureVersion"/>: every change of definitions, operands, use-lists, node order, outputs,
    /// captures or attached subgraphs, here or in a nested graph, counts) is still valid and is not walked again. A
    /// subgraph checked on its own is always walked: its captures depend on the enclosing graph.
    /// </summary>
    private static void Verify(Graph g, ref List<VerifierIssue>? issues)
    {
        bool topLevel = g.Parent is null;
        long version = g.StructureVersion;
        if (topLevel && g.VerifiedVersion == version) return;
        if (FastVerifier.IsValid(g))
        {
            if (topLevel) g.VerifiedVersion = version;
            return;
        }
        VerifyGraph(g, issues ??= []);
    }

    /// <summary>Throws <see cref="IrException"/> listing every issue when the graph is not valid.</summary>
    public static void Check(Model model)
    {
        var issues = Verify(model);
        if (issues.Count > 0)
            throw new IrException("IR verification failed:\n  " + string.Join("\n  ", issues));
    }

    /// <summary>The thorough check that names every issue; runs when <see cref="FastVerifier"/> finds the graph not valid.</summary>
    private static void VerifyGraph(Graph g, List<VerifierIssue> issues)
    {
        void Fail(Node? n, string msg) => issues.Add(new VerifierIssue(g.Name, n?.ToString(), msg));

        var defined = new HashSet<Value>();
        var names = new HashSet<string>(StringComparer.Ordinal);

        void Define(Value v, Node? n)
        {
            if (v.Owner != g) Fail(n, $"value '{v.Name}' is listed in graph '{g.Name}' but owned by graph '{v.Owner.Name}'");
            if (!defined.Add(v)) Fail(n, $"value '{v.Name}' is defined more than once");
            if (v.Name.Length > 0 && !names.Add(v.Name)) Fail(n, $"name '{v.Name}' is defined more than once");
            if (v.Name.Length > 0 && g.FindLocal(v.Name) != v) Fail(n, $"value '{v.Name}' is missing from the graph's name table");
        }

        foreach (var c in g.Captures)
        {
            Define(c, null);
            if (c.Kind != ValueKind.Capture || c.Outer is null) { Fail(null, $"capture '{c.Name}' has no outer value"); continue; }
            if (g.Parent is null) { Fail(null, $"capture '{c.Name}' in a graph with no enclosing graph"); continue; }
            if (c.Outer.Owner != g.Parent) Fail(null, $"capture '{c.Name}' refers to a value of graph '{c.Outer.Owner.Name}', not the enclosing graph '{g.Parent.Name}'");
            else if (g.Parent.FindLocal(c.Outer.Name) != c.Outer) Fail(null, $"capture '{c.Name}' refers to a value the enclosing graph does not define");
            else if (g.OwnerNode is { } owner && c.Outer.Producer is { } p && !Precedes(p, owner))
                Fail(null, $"capture '{c.Name}' is defined by {p}, which does not come before the owning node {owner}");
        }
        foreach (var v in g.Inputs)
        {
            Define(v, null);
            if (v.Kind != ValueKind.Input) Fail(null, $"input '{v.Name}' has kind {v.Kind}");
        }
        foreach (var v in g.Constants)
        {
            if (v.Kind == ValueKind.Input) { if (v.Constant is null) Fail(null, $"input '{v.Name}' is listed as a constant but has no data"); continue; }
            Define(v, null);
            if (v.Constant is null && v.SparseConstant is null) Fail(null, $"constant '{v.Name}' has no data");
        }

        var seenNodes = new HashSet<Node>();
        int operandRefs = 0;
        Node? prev = null;
        int count = 0;
        foreach (var n in g.Nodes)
        {
            count++;
            if (n.Owner != g) Fail(n, "node is linked into a graph it does not belong to");
            if (n.Prev != prev) Fail(n, "node list links are inconsistent");
            prev = n;
            if (!seenNodes.Add(n)) { Fail(n, "node appears twice in the node list"); break; }
            for (int i = 0; i < n.Inputs.Count; i++)
            {
                var v = n.Inputs[i];
                if (v is null) continue;
                operandRefs++;
                if (v.Owner != g) Fail(n, $"operand {i} '{v.Name}' belongs to graph '{v.Owner.Name}'; values of enclosing graphs must be captured");
                else if (!defined.Contains(v)) Fail(n, $"operand {i} '{v.Name}' is used before it is defined");
            }
            foreach (var r in n.Outputs)
            {
                Define(r, n);
                if (r.Producer != n) Fail(n, $"result '{r.Name}' names a different producer");
            }
            foreach (var sub in n.Subgraphs)
            {
                if (sub.Parent != g) Fail(n, $"subgraph '{sub.Name}' has the wrong enclosing graph");
                if (sub.OwnerNode != n) Fail(n, $"subgraph '{sub.Name}' names a different owning node");
                VerifyGraph(sub, issues);
            }
        }
        if (count != g.NodeCount) Fail(null, $"node count {g.NodeCount} differs from the {count} linked nodes");
        if (prev != g.LastNode) Fail(null, "last-node link is inconsistent");

        // Every use must point back at its value, appear once, and together the operand uses must cover every
        // operand slot: checked by counting, so verification stays linear in the number of uses.
        var operandUses = new HashSet<Use>();
        foreach (var v in defined)
        {
            foreach (var u in v.Uses)
            {
                CheckUse(v, u);
                if (u.Kind == UseKind.Operand && u.User?.Owner == g && !operandUses.Add(u))
                    Fail(u.User, $"use-list of '{v.Name}' lists operand {u.Index} twice");
            }
        }
        if (operandUses.Count != operandRefs)
        {
            foreach (var n in g.Nodes)
                for (int i = 0; i < n.Inputs.Count; i++)
                    if (n.Inputs[i] is { } v && !operandUses.Contains(new Use(UseKind.Operand, n, null, i)))
                        Fail(n, $"use-list of '{v.Name}' lacks operand {i}");
        }

        for (int i = 0; i < g.Outputs.Count; i++)
        {
            var v = g.Outputs[i];
            if (v.Owner != g && !IsVisible(g, v)) Fail(null, $"output {i} '{v.Name}' is not defined in this graph");
            else if (v.Owner == g && !defined.Contains(v)) Fail(null, $"output {i} '{v.Name}' is not defined in this graph");
            if (!v.Uses.Contains(new Use(UseKind.GraphOutput, null, g, i))) Fail(null, $"use-list of '{v.Name}' lacks graph output {i}");
        }

        void CheckUse(Value v, Use u)
        {
            switch (u.Kind)
            {
                case UseKind.Operand:
                    if (u.User is null || u.Index >= u.User.Inputs.Count || u.User.Inputs[u.Index] != v)
                        Fail(u.User, $"use-list of '{v.Name}' names operand {u.Index}, which is not that value");
                    else if (u.User.Owner is null) Fail(u.User, $"use-list of '{v.Name}' names an erased node");
                    break;
                case UseKind.GraphOutput:
                    if (u.Graph is null || u.Index >= u.Graph.Outputs.Count || u.Graph.Outputs[u.Index] != v)
                        Fail(null, $"use-list of '{v.Name}' names graph output {u.Index}, which is not that value");
                    break;
                case UseKind.Capture:
                    if (u.Graph is null || u.Index >= u.Graph.Captures.Count || u.Graph.Captures[u.Index].Outer != v)
                        Fail(null, $"use-list of '{v.Name}' names a capture that does not refer to it");
                    break;
            }
        }
    }

    private static bool IsVisible(Graph g, Value v)
    {
        for (var s = g; s is not null; s = s.Parent)
            if (v.Owner == s) return true;
        return false;
    }

    internal static bool Precedes(Node a, Node b)
    {
        if (a.Owner != b.Owner) return false;
        for (var n = b.Prev; n is not null; n = n.Prev)
            if (n == a) return true;
        return false;
    }
}
