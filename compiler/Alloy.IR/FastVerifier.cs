namespace Alloy.IR;

/// <summary>
/// The verifier's invariants checked in one linear walk without hash sets: definitions are stamped on the values
/// themselves (a stamp unique to each walk), operands must carry the current stamp (defined before use, in this
/// graph), and use-lists are matched to operand slots by counting plus a duplicate check, each value's use-list
/// right where the value is defined (while it is in cache). Answers only valid or
/// not; <see cref="Verifier"/> runs its thorough check, which names each issue, when the answer is not valid.
/// Like the rest of the IR, not safe against another thread mutating or verifying the same graph concurrently.
/// </summary>
internal static class FastVerifier
{
    private static long s_stamp;

    public static bool IsValid(Graph g) => IsValid(g, 0);

    /// <param name="parentStamp">The stamp of the walk over the enclosing graph, which has reached the owning node (0: unknown).</param>
    private static bool IsValid(Graph g, long parentStamp)
    {
        long stamp = Interlocked.Increment(ref s_stamp);
        int named = 0;

        bool Define(Value v)
        {
            if (v.Owner != g || v.Stamp == stamp) return false;
            v.Stamp = stamp;
            // Names change only through the Graph, which keeps its name table with them; a table whose size
            // differs from the number of named definitions shows a value missing from it or a stale entry.
            if (v.HasName) named++;
            return true;
        }

        // Every use points back at its value; operand uses of this graph's nodes are distinct and as many as the
        // operand slots, so they are exactly the slots.
        long operandUses = 0;
        bool CheckUses(Value v)
        {
            var uses = v.UseList;
            for (int k = 0; k < uses.Count; k++)
            {
                var u = uses[k];
                switch (u.Kind)
                {
                    case UseKind.Operand:
                        if (u.User is not { Owner: { } owner } user || u.Index >= user.OperandCount || user.Slots[u.Index] != v) return false;
                        if (owner == g) operandUses++;
                        break;
                    case UseKind.GraphOutput:
                        if (u.Graph is null || u.Index >= u.Graph.Outputs.Count || u.Graph.Outputs[u.Index] != v) return false;
                        break;
                    case UseKind.Capture:
                        if (u.Graph is null || u.Index >= u.Graph.Captures.Count || u.Graph.Captures[u.Index].Outer != v) return false;
                        break;
                }
            }
            return uses.Count < 2 || Distinct(uses);
        }
        foreach (var c in g.Captures)
        {
            if (!Define(c) || c.Kind != ValueKind.Capture || c.Outer is not { } outer || g.Parent is not { } parent || !CheckUses(c)) return false;
            if (outer.Owner != parent || !parent.Holds(outer)) return false;
            if (g.OwnerNode is { } owner && outer.Producer is { } p)
            {
                if (p == owner) return false;
                if (parentStamp != 0 ? outer.Stamp != parentStamp : !Verifier.Precedes(p, owner)) return false;
            }
        }
        foreach (var v in g.Inputs)
            if (!Define(v) || v.Kind != ValueKind.Input || !CheckUses(v)) return false;
        foreach (var v in g.Constants)
        {
            if (v.Kind == ValueKind.Input)
            {
                if (v.Constant is null) return false;
                continue;
            }
            if (!Define(v) || (v.Constant is null && v.SparseConstant is null) || !CheckUses(v)) return false;
        }

        long operandRefs = 0;
        Node? prev = null;
        int count = 0, limit = g.NodeCount;
        for (var n = g.FirstNode; n is not null; n = n.Next)
        {
            if (++count > limit || n.Owner != g || n.Prev != prev) return false;
            prev = n;
            var slots = n.Slots;
            int operands = n.OperandCount;
            for (int i = 0; i < operands; i++)
            {
                var v = slots[i];
                if (v is null) continue;
                operandRefs++;
                if (v.Owner != g || v.Stamp != stamp) return false;
            }
            for (int i = operands; i < slots.Length; i++)
            {
                var r = slots[i];
                if (r is null || !Define(r) || r.Producer != n || !CheckUses(r)) return false;
            }
            if (n.HasSubgraphs)
            {
                foreach (var sub in n.Subgraphs)
                    if (sub.Parent != g || sub.OwnerNode != n || !IsValid(sub, stamp)) return false;
            }
        }
        if (count != g.NodeCount || prev != g.LastNode || named != g.NamedValueCount) return false;

        if (operandUses != operandRefs) return false;

        var graphOutputs = g.Outputs;
        for (int i = 0; i < graphOutputs.Count; i++)
        {
            var v = graphOutputs[i];
            if (v.Owner == g ? v.Stamp != stamp : !IsVisible(g, v)) return false;
            if (!v.UseList.Contains(new Use(UseKind.GraphOutput, null, g, i))) return false;
        }
        return true;
    }

    private static bool Distinct(in UseList uses)
    {
        if (uses.Count <= 16)
        {
            for (int a = 1; a < uses.Count; a++)
                for (int b = 0; b < a; b++)
                    if (uses[a] == uses[b]) return false;
            return true;
        }
        var seen = new HashSet<Use>(uses.Count);
        for (int k = 0; k < uses.Count; k++)
            if (!seen.Add(uses[k])) return false;
        return true;
    }

    private static bool IsVisible(Graph g, Value v)
    {
        for (var s = g; s is not null; s = s.Parent)
            if (v.Owner == s) return true;
        return false;
    }
}
