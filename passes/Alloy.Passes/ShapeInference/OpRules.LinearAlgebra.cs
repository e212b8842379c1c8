using Alloy.IR;

namespace Alloy.Passes.ShapeInference;

internal static partial class OpRules
{
    private static void AddLinearAlgebra(Dictionary<string, Action<NodeContext>> t)
    {
        t["MatMul"] = c => c.Set(0, c.FirstElem(0, 1), MatMulShape(c.ShapeOf(0), c.ShapeOf(1)));
        t["MatMulInteger"] = c => c.Set(0, DataType.Int32, MatMulShape(c.ShapeOf(0), c.ShapeOf(1)));
        // a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point
        t["QLinearMatMul"] = c => c.Set(0, c.FirstElem(7, 0), MatMulShape(c.ShapeOf(0), c.ShapeOf(3)));
        t["Gemm"] = Gemm;
        t["Einsum"] = Einsum;
        t["Det"] = c => c.Set(0, c.Elem(0), c.ShapeOf(0) is { Rank: >= 2 } s ? new Shape(s.Dims[..^2]) : null);
    }

    /// <summary>numpy.matmul: 1-D operands get a dimension prepended / appended (and removed again), batch dims broadcast.</summary>
    internal static Shape? MatMulShape(Shape? a, Shape? b)
    {
        if (a is null || b is null || a.Rank == 0 || b.Rank == 0) return null;
        if (a.Rank >= 2 && b.Rank == 2)
        {
            // The common case (activations × weights): a's leading dims, then b's columns.
            var r = a.Dims.AsSpan().ToArray();
            r[^1] = b[1];
            return NodeContext.Owned(r);
        }
        var ad = a.Rank == 1 ? new[] { Dim.Of(1), a[0] } : a.Dims.AsSpan().ToArray();
        var bd = b.Rank == 1 ? new[] { b[0], Dim.Of(1) } : b.Dims.AsSpan().ToArray();
        var batch = Broadcast(NodeContext.Owned(ad[..^2]), NodeContext.Owned(bd[..^2]))!;
        var dims = batch.Dims.ToList();
        if (a.Rank != 1) dims.Add(ad[^2]);
        if (b.Rank != 1) dims.Add(bd[^1]);
        return NodeContext.Owned([.. dims]);
    }

    /// <summary>Gemm: [M, K] × [K, N] (either transposed) → [M, N]; the bias only broadcasts.</summary>
    private static void Gemm(NodeContext c)
    {
        var a = c.ShapeOf(0);
        var b = c.ShapeOf(1);
        var rows = a is { Rank: 2 } ? a[c.Int("transA", 0) != 0 ? 1 : 0] : Dim.Unknown;
        var cols = b is { Rank: 2 } ? b[c.Int("transB", 0) != 0 ? 0 : 1] : Dim.Unknown;
        c.SetDims(0, c.FirstElem(0, 1), [rows, cols]);
    }

    /// <summary>Einsum: the output letters (explicit after "->", else the letters used once, sorted) sized from the operands; "..." broadcasts.</summary>
    private static void Einsum(NodeContext c)
    {
        var elem = c.FirstElem(0);
        var equation = c.Str("equation", "").Replace(" ", "", StringComparison.Ordinal);
        var arrow = equation.IndexOf("->", StringComparison.Ordinal);
        var lhs = arrow >= 0 ? equation[..arrow] : equation;
        var terms = lhs.Split(',');
        var sizes = new Dictionary<char, Dim>();
        Shape? ellipsis = Shape.Scalar;
        var counts = new Dictionary<char, int>();
        for (int i = 0; i < terms.Length; i++)
        {
            var term = terms[i];
            foreach (var ch in term.Replace("...", "", StringComparison.Ordinal)) counts[ch] = counts.GetValueOrDefault(ch) + 1;
            var s = c.ShapeOf(i);
            if (s is null)
            {
                if (term.Contains("...", StringComparison.Ordinal)) ellipsis = null;
                continue;
            }
            int dot = term.IndexOf("...", StringComparison.Ordinal);
            var before = dot >= 0 ? term[..dot] : term;
            var after = dot >= 0 ? term[(dot + 3)..] : "";
            int ellipsisRank = s.Rank - before.Length - after.Length;
            if (ellipsisRank < 0 || (dot < 0 && ellipsisRank != 0)) throw new ArgumentException($"Einsum term '{term}' does not match rank {s.Rank}");
            for (int k = 0; k < before.Length; k++) Bind(sizes, before[k], s[k]);
            for (int k = 0; k < after.Length; k++) Bind(sizes, after[k], s[before.Length + ellipsisRank + k]);
            if (dot >= 0 && ellipsis is not null)
                ellipsis = Broadcast(ellipsis, new Shape(s.Dims.Slice(before.Length, ellipsisRank)));
        }
        string output;
        if (arrow >= 0) output = equation[(arrow + 2)..];
        else
        {
            var once = counts.Where(kv => kv.Value == 1).Select(kv => kv.Key).Order().ToArray();
            output = (lhs.Contains("...", StringComparison.Ordinal) ? "..." : "") + new string(once);
        }
        var dims = new List<Dim>();
        int odot = output.IndexOf("...", StringComparison.Ordinal);
        if (odot >= 0 && ellipsis is null) { c.Set(0, elem, null); return; }
        for (int k = 0; k < output.Length; k++)
        {
            if (odot >= 0 && k == odot)
            {
                dims.AddRange(ellipsis!.Dims);
                k += 2;
                continue;
            }
            dims.Add(sizes.GetValueOrDefault(output[k], Dim.Unknown));
        }
        c.SetDims(0, elem, dims);
    }

    private static void Bind(Dictionary<char, Dim> sizes, char letter, Dim d)
    {
        if (!sizes.TryGetValue(letter, out var old) || old.IsUnknown || (old.Size == 1 && !d.IsUnknown)) sizes[letter] = d;
    }
}
