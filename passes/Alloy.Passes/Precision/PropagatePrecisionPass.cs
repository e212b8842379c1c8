using Alloy.IR;
using Alloy.Pipeline;
using static Alloy.Passes.Precision.PrecisionAnnotations;

namespace Alloy.Passes.Precision;

/// <summary>
/// <c>propagate-bf16</c> / <c>propagate-fp16</c>: from the colors mark-* painted, decides every float node's
/// precision in TensorFlow's order — (1) deny propagates forward through infer nodes and through clear nodes that
/// lead to deny/infer nodes; (2) infer/clear nodes both downstream and upstream of allow nodes become allow;
/// (3) allow flows through clear nodes; then (4) a depth-first walk from each allow node over its producers makes
/// a producer low precision wherever it can run low and that adds no Cast (Intel Neural Compressor's BF16
/// conversion, with the cast count as the test). Infer/clear nodes after the last allow op stay FP32 unless
/// <c>low-tail=true</c>. Writes <c>prec</c> on every painted node, <c>acc = f32</c> on low nodes that accumulate,
/// and <c>why</c>. If/Loop/Scan are single units: their results, body outputs and Loop/Scan body inputs share
/// the node's <c>prec</c>. Only annotates; insert-casts changes types.
/// </summary>
public sealed class PropagatePrecisionPass(DataType lowType, bool lowTail = false) : IPass
{
    public PrecisionPolicy Policy { get; } = PrecisionPolicy.For(lowType);

    /// <summary>Run the infer/clear nodes after the last allow op in low precision too (<c>low-tail</c>).</summary>
    public bool LowTail { get; } = lowTail;

    public string Id => "propagate-" + Policy.LowName;

    public string Description => $"decide each painted node's precision ({Policy.LowName} or fp32) by deny propagation, allow propagation and a cast-minimizing walk over producers";

    public void Run(Model model, PassContext context)
    {
        var lowStat = context.Statistic("low-precision", $"float nodes set to {Policy.LowName}");
        var fp32Stat = context.Statistic("fp32", "float nodes kept fp32");
        var lowByReason = new Dictionary<string, Statistic>();
        var fp32ByReason = new Dictionary<string, Statistic>();
        foreach (var (why, low, text) in ReasonStatistics)
            (low ? lowByReason : fp32ByReason)[why] = context.Statistic((low ? "low-" : "fp32-") + why.Replace('_', '-'), text);
        var castsStat = context.Statistic("casts-needed", "Casts the decided precisions need (one per float value read in another precision than it is produced in; constants are free)");

        var facts = new FloatFacts(model, Policy.LowType);
        var graph = new PrecisionGraph(facts);
        if (graph.Count == 0)
        {
            if (facts.AllNodes.Any(facts.IsFloatNode))
                context.Warn(null, $"no node carries a color: run mark-{Policy.LowName} before {Id}");
            return;
        }
        var decision = Decide(graph, context);

        for (int i = 0; i < graph.Count; i++)
        {
            var node = graph.Nodes[i];
            bool low = decision.Low[i];
            var prec = low ? Policy.LowName : Fp32;
            var why = decision.Why[i];
            bool changed = false;
            if (PrecisionOf(node) != prec) { node.Annotate(PrecisionAnnotations.Precision, prec); changed = true; }
            if (graph.Reasons[i] != why) { node.Annotate(Reason, why); changed = true; }
            if (low && Policy.AccumulatesInF32(node))
            {
                if (!node.Annotations.TryGetValue(Accumulation, out var acc) || acc != AccF32) { node.Annotate(Accumulation, AccF32); changed = true; }
            }
            else changed |= node.RemoveAnnotation(Accumulation);
            if (changed) context.MarkChanged();
            (low ? lowStat : fp32Stat).Add();
            // Low nodes forced by an override count with the allow-list ones.
            var key = low && why is Why.OverrideOp or Why.OverrideName ? Why.AllowList : why;
            if ((low ? lowByReason : fp32ByReason).TryGetValue(key, out var s)) s.Add();
        }
        castsStat.Add(graph.TotalCasts(decision.Low));
    }

    private static readonly (string Why, bool Low, string Text)[] ReasonStatistics =
    [
        (Why.AllowList, true, "nodes low because they are allow (list or override)"),
        (Why.BetweenAllow, true, "infer/clear nodes low because they lie between allow nodes"),
        (Why.ClearFlow, true, "clear nodes low because allow flows through clear nodes"),
        (Why.DfsProducer, true, "producers made low by the depth-first walk (no Cast added)"),
        (Why.LowTail, true, "tail nodes made low because low-tail=true"),
        (Why.DenyList, false, "nodes fp32 because their op is on the deny list"),
        (Why.DenyPropagation, false, "infer/clear nodes fp32 because deny propagated to them"),
        (Why.Unlisted, false, "nodes fp32 because their op is on no list"),
        (Why.SchemaFp32, false, "nodes fp32 because their type is schema-fixed or they compute shapes"),
        (Why.OverrideOp, false, "nodes fp32 by an op-type override"),
        (Why.OverrideName, false, "nodes fp32 by a node-name override"),
        (Why.RangeFp16Overflow, false, "nodes fp32 because a value exceeds the fp16 safe range"),
        (Why.RangeBf16Integer, false, "nodes fp32 because an integer-valued tensor exceeds 256 (bf16)"),
        (Why.RangeFp16Integer, false, "nodes fp32 because an integer-valued tensor exceeds 2048 (fp16)"),
        (Why.SchemaOpset, false, "nodes fp32 because their op does not admit the low type at the model's opset"),
        (Why.NoKernel, false, "allow-list nodes fp32 because the target lacks the kernel and no neighbour pulled them low"),
        (Why.Fp32Tail, false, "infer/clear nodes fp32 because they come after the last allow op"),
        (Why.InferList, false, "infer nodes fp32 because no low-precision neighbours pulled them in"),
        (Why.ClearList, false, "clear nodes fp32 because no low-precision neighbours pulled them in"),
    ];

    /// <summary>The traversal stack, reused by every walk of one run (a pass instance runs one model at a time).</summary>
    private readonly Stack<int> _stack = new();

    /// <summary>The decided precision and reason of every node of a precision graph.</summary>
    internal sealed record Decision(bool[] Low, string[] Why);

    private enum Paint : byte { Allow, Infer, Clear, Deny }

    /// <summary>The traversals of steps (1) to (3): which nodes a walk enters and what it does on each.</summary>
    private enum Walk : byte { ClearUpstream, DenyForward, Reach, InferClearDownstream, BetweenAllow, LowTail, ClearFlow }

    /// <summary>The per-node state of one decision; the traversals read and write it without allocating.</summary>
    private sealed class State(int n, bool lowTail)
    {
        public readonly Paint[] Paint = new Paint[n];
        public readonly string[] Why = new string[n];
        public readonly bool[] Low = new bool[n];
        public readonly bool[] Deny = new bool[n];
        public readonly bool[] UpstreamOfDenyOrInfer = new bool[n];
        public readonly bool[] Downstream = new bool[n];
        public readonly bool[] Tail = new bool[n];
        public readonly bool LowTail = lowTail;

        public bool InferOrClear(int i) => Paint[i] is PropagatePrecisionPass.Paint.Infer or PropagatePrecisionPass.Paint.Clear;

        /// <summary>Whether <paramref name="walk"/> enters node <paramref name="i"/> (not yet seen, not its root).</summary>
        public bool Enter(Walk walk, int i) => walk switch
        {
            Walk.ClearUpstream => Paint[i] == PropagatePrecisionPass.Paint.Clear,
            Walk.DenyForward => !Deny[i] && UpstreamOfDenyOrInfer[i],
            Walk.Reach => true,
            Walk.InferClearDownstream => !Low[i] && !Deny[i] && InferOrClear(i),
            Walk.BetweenAllow => Downstream[i] && !Low[i],
            Walk.LowTail => Tail[i] && !Low[i] && !Deny[i] && InferOrClear(i),
            _ => !Low[i] && !Deny[i] && Paint[i] == PropagatePrecisionPass.Paint.Clear && (LowTail || !Tail[i]),
        };

        /// <summary>What <paramref name="walk"/> does on a node it enters (and on its root).</summary>
        public void Visit(Walk walk, int i)
        {
            switch (walk)
            {
                case Walk.DenyForward:
                    if (Deny[i]) return;
                    Deny[i] = true;
                    Why[i] = PrecisionAnnotations.Why.DenyPropagation;
                    break;
                case Walk.BetweenAllow or Walk.LowTail or Walk.ClearFlow:
                    if (Low[i]) return;
                    Low[i] = true;
                    Why[i] = walk switch
                    {
                        Walk.BetweenAllow => PrecisionAnnotations.Why.BetweenAllow,
                        Walk.LowTail => PrecisionAnnotations.Why.LowTail,
                        _ => PrecisionAnnotations.Why.ClearFlow,
                    };
                    break;
            }
        }
    }

    private Decision Decide(PrecisionGraph g, PassContext context)
    {
        int n = g.Count;
        var s = new State(n, LowTail);
        var paint = s.Paint;
        var why = s.Why;
        var low = s.Low;
        var deny = s.Deny;
        var propagatesDeny = new bool[n];
        for (int i = 0; i < n; i++)
        {
            why[i] = g.Reasons[i] ?? Why.DenyList;
            paint[i] = g.Colors[i] switch
            {
                PrecisionAnnotations.Allow => Paint.Allow,
                PrecisionAnnotations.Infer => Paint.Infer,
                PrecisionAnnotations.Clear => Paint.Clear,
                _ => Paint.Deny,
            };
            low[i] = paint[i] == Paint.Allow;
            deny[i] = paint[i] == Paint.Deny;
            propagatesDeny[i] = deny[i] && why[i] is Why.DenyList or Why.OverrideOp or Why.OverrideName
                or Why.RangeFp16Overflow or Why.RangeBf16Integer or Why.RangeFp16Integer;
        }

        // (1) Deny propagates forward through infer nodes and through clear nodes upstream of deny/infer nodes.
        var upstreamOfDenyOrInfer = s.UpstreamOfDenyOrInfer;
        for (int root = 0; root < n; root++)
        {
            if (!(propagatesDeny[root] || paint[root] == Paint.Infer)) continue;
            Dfs(s, Walk.ClearUpstream, root, g.Producers, upstreamOfDenyOrInfer);
        }
        var denied = new bool[n];
        for (int root = 0; root < n; root++)
        {
            if (!propagatesDeny[root] || denied[root]) continue;
            Dfs(s, Walk.DenyForward, root, g.Consumers, denied);
        }
        context.ThrowIfCancelled();

        // The tail: nodes downstream of an allow node from which no allow node is reachable.
        var downstreamOfAllow = new bool[n];
        var upstreamOfAllow = new bool[n];
        for (int root = 0; root < n; root++)
        {
            if (paint[root] != Paint.Allow) continue;
            if (!downstreamOfAllow[root]) Dfs(s, Walk.Reach, root, g.Consumers, downstreamOfAllow);
            if (!upstreamOfAllow[root]) Dfs(s, Walk.Reach, root, g.Producers, upstreamOfAllow);
        }
        var tail = s.Tail;
        // Shape/Size read only metadata: they follow their operand and are never held back as tail.
        for (int i = 0; i < n; i++) tail[i] = downstreamOfAllow[i] && !upstreamOfAllow[i] && !PrecisionPolicy.ReadsOnlyShape(g.Nodes[i]);

        // (2) Infer/clear nodes both downstream and upstream of allow nodes become allow.
        var downstream = s.Downstream;
        for (int root = 0; root < n; root++)
        {
            if (paint[root] != Paint.Allow) continue;
            Dfs(s, Walk.InferClearDownstream, root, g.Consumers, downstream);
        }
        var upstream = new bool[n];
        for (int root = 0; root < n; root++)
        {
            if (paint[root] != Paint.Allow || upstream[root]) continue;
            Dfs(s, Walk.BetweenAllow, root, g.Producers, upstream);
        }

        // (2b) low-tail: the tail joins the low-precision region where deny does not block it.
        if (LowTail)
        {
            var seen = new bool[n];
            for (int root = 0; root < n; root++)
            {
                if (!low[root] || seen[root]) continue;
                Dfs(s, Walk.LowTail, root, g.Consumers, seen);
            }
        }

        // (3) Allow flows through clear nodes, in both directions.
        var clearSeen = new bool[n];
        for (int root = 0; root < n; root++)
        {
            if (!low[root] || clearSeen[root]) continue;
            Dfs(s, Walk.ClearFlow, root, g.Producers, clearSeen, g.Consumers);
        }
        context.ThrowIfCancelled();

        // (4) Depth-first over producers of low nodes: a producer that can run low does when that removes Casts,
        // or keeps their number and every reader of its results runs low (no FP32 reader sees a rounded value).
        var walked = new bool[n];
        var stack = _stack;
        stack.Clear();
        for (int root = 0; root < n; root++)
        {
            if (!low[root] || walked[root]) continue;
            walked[root] = true;
            stack.Push(root);
            while (stack.Count > 0)
            {
                int cur = stack.Pop();
                foreach (var p in g.Producers.Of(cur))
                {
                    if (low[p])
                    {
                        if (!walked[p]) { walked[p] = true; stack.Push(p); }
                        continue;
                    }
                    if (deny[p] || !s.InferOrClear(p) || (tail[p] && !LowTail)) continue;
                    int before = g.CastsAround(p, low);
                    low[p] = true;
                    int after = g.CastsAround(p, low);
                    if (after > before || (after == before && !g.AllReadersLow(p, low)))
                    {
                        low[p] = false;
                        continue;
                    }
                    why[p] = Why.DfsProducer;
                    walked[p] = true;
                    stack.Push(p);
                }
            }
        }

        // The tail rule explains the infer/clear nodes it kept FP32.
        if (!LowTail)
            for (int i = 0; i < n; i++)
                if (tail[i] && !low[i] && !deny[i] && s.InferOrClear(i)) why[i] = Why.Fp32Tail;
        return new Decision(low, why);
    }

    /// <summary>
    /// Iterative depth-first traversal from <paramref name="root"/> over <paramref name="edges"/> (and
    /// <paramref name="moreEdges"/> when given), entering the nodes <paramref name="walk"/> accepts (marking them in
    /// <paramref name="seen"/>) and visiting each, the root first.
    /// </summary>
    private void Dfs(State s, Walk walk, int root, Adjacency edges, bool[] seen, Adjacency? moreEdges = null)
    {
        var stack = _stack;
        stack.Clear();
        seen[root] = true;
        s.Visit(walk, root);
        stack.Push(root);
        while (stack.Count > 0)
        {
            int cur = stack.Pop();
            Enter(edges.Of(cur));
            if (moreEdges is { } more) Enter(more.Of(cur));
        }

        void Enter(ReadOnlySpan<int> next)
        {
            foreach (var n in next)
            {
                if (n == root || seen[n] || !s.Enter(walk, n)) continue;
                seen[n] = true;
                s.Visit(walk, n);
                stack.Push(n);
            }
        }
    }
}
