using Alloy.IR;

namespace Alloy.Passes.ShapeInference;

internal static partial class OpRules
{
    /// <summary>How many times a Loop body is inferred again while its carried shapes still change.</summary>
    private const int LoopAttempts = 4;

    private static void AddControlFlow(Dictionary<string, Action<NodeContext>> t)
    {
        t["If"] = If;
        t["Loop"] = Loop;
        t["Scan"] = Scan;
    }

    /// <summary>The type both branches agree on: the element type, and each dimension both give alike.</summary>
    internal static IrType? Join(IrType? a, IrType? b)
    {
        if (a is null || b is null) return a is TensorType ta ? new TensorType(ta.ElementType, null) : b is TensorType tb ? new TensorType(tb.ElementType, null) : null;
        if (a is TensorType x && b is TensorType y)
        {
            var elem = x.ElementType == y.ElementType || y.ElementType == DataType.Undefined ? x.ElementType
                : x.ElementType == DataType.Undefined ? y.ElementType : DataType.Undefined;
            Shape? shape = null;
            if (x.Shape is { } xs && y.Shape is { } ys && xs.Rank == ys.Rank)
                shape = new Shape((Dim[])[.. xs.Dims.Select((d, k) => DimMath.Join(d, ys[k]))]);
            return new TensorType(elem, shape);
        }
        if (a is SequenceType sa && b is SequenceType sb) return new SequenceType(Join(sa.ElementType, sb.ElementType));
        if (a is OptionalType oa && b is OptionalType ob) return new OptionalType(Join(oa.ElementType, ob.ElementType));
        return a == b ? a : null;
    }

    private static void If(NodeContext c)
    {
        var thenBranch = c.GraphAttr("then_branch");
        var elseBranch = c.GraphAttr("else_branch");
        if (thenBranch is not null) c.Engine.InferSubgraph(thenBranch, [], c.Node);
        if (elseBranch is not null) c.Engine.InferSubgraph(elseBranch, [], c.Node);
        if (thenBranch is null || elseBranch is null) return;
        // A condition known while compiling selects one branch.
        Graph? taken = c.KnownInts(0) is [var flag] ? (flag != 0 ? thenBranch : elseBranch) : null;
        for (int i = 0; i < c.OutputCount; i++)
        {
            var t = i < thenBranch.Outputs.Count ? thenBranch.Outputs[i].Type : null;
            var e = i < elseBranch.Outputs.Count ? elseBranch.Outputs[i].Type : null;
            if (taken is not null) c.SetType(i, i < taken.Outputs.Count ? taken.Outputs[i].Type : null);
            else c.SetType(i, Join(t, e));
        }
    }

    private static TensorType Scalar(DataType t) => new(t, Shape.Scalar);

    /// <summary>
    /// Loop: the body sees (iteration i64[], condition bool[], carried values…) and returns (condition,
    /// carried values…, scan outputs…). Carried types start from the initial values; where the body changes a
    /// carried shape, the body is inferred again with the dimensions that differ left unknown.
    /// </summary>
    private static void Loop(NodeContext c)
    {
        var body = c.GraphAttr("body");
        if (body is null) return;
        int carried = Math.Max(0, c.InputCount - 2);
        var carriedTypes = new IrType?[carried];
        var finalTypes = new IrType?[carried];
        for (int j = 0; j < carried; j++) carriedTypes[j] = c.InType(2 + j);
        var point = c.Engine.Checkpoint(body);
        for (int attempt = 0; ; attempt++)
        {
            var inputs = new List<IrType?> { Scalar(DataType.Int64), Scalar(DataType.Bool) };
            inputs.AddRange(carriedTypes);
            c.Engine.InferSubgraph(body, inputs, c.Node);
            bool stable = true;
            for (int j = 0; j < carried; j++)
            {
                var seen = 2 + j < body.Inputs.Count ? body.Inputs[2 + j].Type : carriedTypes[j];
                var produced = 1 + j < body.Outputs.Count ? body.Outputs[1 + j].Type : null;
                carriedTypes[j] = seen;
                finalTypes[j] = seen;
                if (produced is null) continue;
                if (seen is not null && seen.GetType() != produced.GetType())
                {
                    // An optional initial value the body replaces by what it holds: the result is the body's type.
                    finalTypes[j] = produced;
                    continue;
                }
                var joined = Join(seen, produced);
                finalTypes[j] = joined;
                if (!Equals(joined, seen))
                {
                    stable = false;
                    carriedTypes[j] = joined;
                }
            }
            if (stable || attempt + 1 >= LoopAttempts) break;
            c.Engine.Restore(point);
        }
        for (int j = 0; j < carried; j++) c.SetType(j, finalTypes[j]);

        // Scan outputs stack one value per iteration: M iterations when there is no condition.
        Dim trips = !c.Has(1) && c.Known(0) is { Ints: [var m] } ? m : Dim.Unknown;
        for (int k = carried; k < c.OutputCount; k++)
        {
            var produced = 1 + k < body.Outputs.Count ? body.Outputs[1 + k].Type as TensorType : null;
            if (produced is null) continue;
            c.SetType(k, new TensorType(produced.ElementType, produced.Shape is { } s ? new Shape((Dim[])[trips, .. s.Dims]) : null));
        }
    }

    /// <summary>
    /// Scan (opset 9+): the body sees the states and one slice of each scan input (the scan axis removed) and
    /// returns the states and one slice of each scan output, stacked along scan_output_axes. Opset 8 adds a
    /// leading batch axis to every operand and result and scans axis 1.
    /// </summary>
    private static void Scan(NodeContext c)
    {
        var body = c.GraphAttr("body");
        if (body is null) return;
        bool batched = c.Opset < 9;
        int first = batched ? 1 : 0;
        int m = (int)c.Int("num_scan_inputs", 0);
        int n = c.InputCount - first - m;
        if (n < 0) throw new ArgumentException($"Scan has {c.InputCount} operands for {m} scan inputs");
        int k = c.OutputCount - n;
        var inAxes = c.Ints("scan_input_axes") ?? new long[m];
        var outAxes = c.Ints("scan_output_axes") ?? new long[Math.Max(k, 0)];

        var inputs = new List<IrType?>();
        Dim batch = Dim.Unknown;
        for (int j = 0; j < n; j++)
        {
            var t = c.InType(first + j);
            if (batched && t is TensorType { Shape: { Rank: > 0 } bs } bt)
            {
                batch = bs[0];
                t = new TensorType(bt.ElementType, new Shape(bs.Dims[1..]));
            }
            inputs.Add(t);
        }
        Dim length = Dim.Unknown;
        bool lengthSet = false;
        for (int j = 0; j < m; j++)
        {
            var t = c.In(first + n + j);
            if (t?.Shape is not { } s) { inputs.Add(t is null ? null : new TensorType(t.ElementType, null)); continue; }
            int axis = batched ? 1 : Axis(inAxes[j], s.Rank);
            if (!lengthSet) { length = s[axis]; lengthSet = true; }
            if (batched) batch = s[0];
            var dims = s.Dims.Where((_, d) => d != axis && !(batched && d == 0));
            inputs.Add(new TensorType(t.ElementType, new Shape((Dim[])[.. dims])));
        }
        c.Engine.InferSubgraph(body, inputs, c.Node);

        for (int j = 0; j < n && j < c.OutputCount; j++)
        {
            var seen = j < body.Inputs.Count ? body.Inputs[j].Type : inputs[j];
            var produced = j < body.Outputs.Count ? body.Outputs[j].Type : null;
            var state = produced is null ? seen : Join(seen, produced);
            if (batched && state is TensorType { } st) state = new TensorType(st.ElementType, st.Shape is { } ss ? new Shape((Dim[])[batch, .. ss.Dims]) : null);
            c.SetType(j, state);
        }
        for (int j = 0; j < k; j++)
        {
            if (n + j >= body.Outputs.Count || body.Outputs[n + j].Type is not TensorType produced) continue;
            if (produced.Shape is not { } s) { c.Set(n + j, produced.ElementType, null); continue; }
            var dims = s.Dims.ToList();
            if (batched)
            {
                dims.Insert(0, length);
                dims.Insert(0, batch);
            }
            else
            {
                long axis = j < outAxes.Length ? outAxes[j] : 0;
                int at = (int)(axis < 0 ? axis + s.Rank + 1 : axis);
                if (at < 0 || at > s.Rank) throw new ArgumentException($"scan_output_axes {axis} is out of range");
                dims.Insert(at, length);
            }
            c.SetDims(n + j, produced.ElementType, dims);
        }
    }
}
