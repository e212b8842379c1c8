using Alloy.Runtime.Numerics;
using static Alloy.Runtime.Kernels.Reference.LinearAlgebraHelpers;

namespace Alloy.Runtime.Kernels.Reference;

internal static partial class ReferenceKernels
{
    private static IKernel? CreateEinsum(KernelNode n, out string? reason)
    {
        reason = null;
        var equation = n.Attributes.GetStringOrNull("equation");
        if (equation is null)
        {
            reason = "Einsum: attribute 'equation' is missing";
            return null;
        }
        for (int i = 0; i < n.InputTypes.Count; i++)
            if ((reason = NumericTypeReason(n, i, $"Inputs[{i}]")) is not null) return null;
        var eq = EinsumEquation.Parse(equation); // throws KernelException, which the registry turns into a reason
        if (n.InputTypes.Count > 0 && n.InputTypes.Count != eq.Terms.Count)
        {
            reason = $"Einsum: equation '{equation}' has {eq.Terms.Count} operand terms but the node has {n.InputTypes.Count} inputs";
            return null;
        }
        return new EinsumKernel(eq);
    }
}

/// <summary>
/// A parsed einsum equation: one term per operand (labels, with <see cref="Ellipsis"/> standing for the
/// broadcast dims) and the output term (null in implicit mode).
/// </summary>
internal sealed class EinsumEquation
{
    public const int Ellipsis = -1;
    public required string Text { get; init; }
    public required List<int[]> Terms { get; init; }
    public int[]? Output { get; init; }

    public static EinsumEquation Parse(string equation)
    {
        var text = new string(equation.Where(c => !char.IsWhiteSpace(c)).ToArray());
        int arrow = text.IndexOf("->", StringComparison.Ordinal);
        var lhs = arrow < 0 ? text : text[..arrow];
        var rhs = arrow < 0 ? null : text[(arrow + 2)..];
        if (rhs is not null && rhs.Contains("->", StringComparison.Ordinal))
            throw new KernelException($"Einsum: equation '{equation}' has more than one '->'");
        var terms = lhs.Split(',').Select(t => ParseTerm(t, equation)).ToList();
        int[]? output = rhs is null ? null : ParseTerm(rhs, equation);
        if (output is not null)
        {
            var seen = new HashSet<int>();
            foreach (var l in output)
            {
                if (!seen.Add(l))
                    throw new KernelException($"Einsum: equation '{equation}': output label '{Label(l)}' appears more than once");
                if (l != Ellipsis && !terms.Any(t => t.Contains(l)))
                    throw new KernelException($"Einsum: equation '{equation}': output label '{Label(l)}' does not appear in any input");
            }
        }
        return new EinsumEquation { Text = equation, Terms = terms, Output = output };
    }

    private static int[] ParseTerm(string term, string equation)
    {
        var labels = new List<int>();
        for (int i = 0; i < term.Length; i++)
        {
            char c = term[i];
            if (c == '.')
            {
                if (i + 2 >= term.Length || term[i + 1] != '.' || term[i + 2] != '.')
                    throw new KernelException($"Einsum: equation '{equation}': a '.' that is not part of '...'");
                if (labels.Contains(Ellipsis))
                    throw new KernelException($"Einsum: equation '{equation}': term '{term}' has more than one ellipsis");
                labels.Add(Ellipsis);
                i += 2;
            }
            else if (c is >= 'a' and <= 'z' or >= 'A' and <= 'Z') labels.Add(c);
            else throw new KernelException($"Einsum: equation '{equation}': invalid character '{c}'");
        }
        return [.. labels];
    }

    public static string Label(int l) => l == Ellipsis ? "..." : ((char)l).ToString();
}

/// <summary>
/// Einsum (opset 12): any number of operands; explicit or implicit output (implicit: the broadcast dims, then
/// the labels that appear exactly once, in alphabetical order); repeated labels within a term take the
/// diagonal; labels absent from the output are summed; ellipsis dims broadcast like numpy. Every output
/// element is one sum of products, accumulated in double (integers in long) and rounded once.
/// </summary>
internal sealed class EinsumKernel(EinsumEquation eq) : IKernel
{
    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        int count = eq.Terms.Count;
        if (inputs.Length != count)
            throw new KernelException($"Einsum: equation '{eq.Text}' needs {count} operands, got {inputs.Length}");
        var ops = new Tensor[count];
        for (int i = 0; i < count; i++)
        {
            ops[i] = Required(inputs, i, "Einsum", $"Inputs[{i}]");
            RequireNumeric(ops[i], "Einsum", $"Inputs[{i}]");
            if (i > 0) RequireSameType(ops[0], "Inputs[0]", ops[i], $"Inputs[{i}]", "Einsum");
        }

        // Rank of each operand's ellipsis, and the broadcast rank E of all of them.
        var ellRank = new int[count];
        for (int i = 0; i < count; i++)
        {
            var term = eq.Terms[i];
            int letters = term.Count(l => l != EinsumEquation.Ellipsis);
            bool hasEll = term.Contains(EinsumEquation.Ellipsis);
            if (hasEll ? ops[i].Rank < letters : ops[i].Rank != letters)
                throw new KernelException($"Einsum: equation '{eq.Text}': operand {i} has shape {ops[i].ShapeText}, which does not match term '{string.Concat(term.Select(EinsumEquation.Label))}'");
            ellRank[i] = ops[i].Rank - letters;
        }
        int e = ellRank.Max();

        // Label ids: ellipsis dims are 0..E-1 (right-aligned), letters follow in order of appearance.
        var letterId = new Dictionary<int, int>();
        var letterCount = new Dictionary<int, int>();
        foreach (var term in eq.Terms)
            foreach (var l in term)
                if (l != EinsumEquation.Ellipsis)
                {
                    letterId.TryAdd(l, e + letterId.Count);
                    letterCount[l] = letterCount.GetValueOrDefault(l) + 1;
                }
        int ids = e + letterId.Count;
        var size = new long[ids];
        var known = new bool[ids];
        for (int j = 0; j < e; j++) size[j] = 1;
        var opIds = new int[count][];
        for (int i = 0; i < count; i++)
        {
            var dims = new List<int>();
            foreach (var l in eq.Terms[i])
            {
                if (l == EinsumEquation.Ellipsis)
                    for (int j = 0; j < ellRank[i]; j++) dims.Add(e - ellRank[i] + j);
                else dims.Add(letterId[l]);
            }
            opIds[i] = [.. dims];
            for (int d = 0; d < dims.Count; d++)
            {
                int id = dims[d];
                long s = ops[i].Shape[d];
                if (id < e)
                {
                    if (s != 1 && size[id] != 1 && size[id] != s)
                        throw new KernelException($"Einsum: equation '{eq.Text}': the ellipsis dims of the operands cannot be broadcast together (operand {i} has {ops[i].ShapeText})");
                    if (s != 1) size[id] = s;
                }
                else if (known[id] && size[id] != s)
                    throw new KernelException($"Einsum: equation '{eq.Text}': label '{EinsumEquation.Label(eq.Terms[i][LabelPos(eq.Terms[i], d, ellRank[i])])}' has size {size[id]} and {s} (operand {i} {ops[i].ShapeText})");
                else
                {
                    size[id] = s;
                    known[id] = true;
                }
            }
        }

        // Output ids.
        var outIds = new List<int>();
        if (eq.Output is { } output)
        {
            foreach (var l in output)
                if (l == EinsumEquation.Ellipsis) for (int j = 0; j < e; j++) outIds.Add(j);
                else outIds.Add(letterId[l]);
        }
        else
        {
            for (int j = 0; j < e; j++) outIds.Add(j);
            foreach (var l in letterCount.Where(kv => kv.Value == 1).Select(kv => kv.Key).Order()) outIds.Add(letterId[l]);
        }
        var sumIds = Enumerable.Range(0, ids).Where(id => !outIds.Contains(id)).ToList();
        var order = outIds.Concat(sumIds).ToArray();          // odometer order: output dims first
        var orderSizes = order.Select(id => size[id]).ToArray();
        var outShape = outIds.Select(id => size[id]).ToArray();

        // Stride of every id in every operand (repeated labels add up: the diagonal; broadcast dims: 0).
        var strides = new long[count][];
        for (int i = 0; i < count; i++)
        {
            strides[i] = new long[ids];
            var st = Strides(ops[i].Shape);
            for (int d = 0; d < opIds[i].Length; d++)
                if (ops[i].Shape[d] != 1 || size[opIds[i][d]] == 1) strides[i][opIds[i][d]] += st[d];
        }
        // Strides in odometer order.
        var ordStrides = new long[count][];
        for (int i = 0; i < count; i++) ordStrides[i] = order.Select(id => strides[i][id]).ToArray();

        long outCount = Product(outShape);
        long sumCount = Product(sumIds.Select(id => size[id]).ToArray());
        bool isFloat = ops[0].Type.IsFloat();
        var dv = isFloat ? ops.Select(ElementConvert.ToDoubles).ToArray() : null;
        var lv = isFloat ? null : ops.Select(ElementConvert.ToLongs).ToArray();
        var yd = isFloat ? new double[outCount] : null;
        var yl = isFloat ? null : new long[outCount];
        if (outCount > 0 && sumCount > 0)
        {
            var index = new long[order.Length];
            var offset = new long[count];
            for (long o = 0; o < outCount; o++)
            {
                double accD = 0;
                long accL = 0;
                for (long s = 0; s < sumCount; s++)
                {
                    for (int i = 0; i < count; i++)
                    {
                        long off = 0;
                        for (int d = 0; d < order.Length; d++) off += index[d] * ordStrides[i][d];
                        offset[i] = off;
                    }
                    if (isFloat)
                    {
                        double p = 1;
                        for (int i = 0; i < count; i++) p *= dv![i][offset[i]];
                        accD += p;
                    }
                    else
                    {
                        long p = 1;
                        for (int i = 0; i < count; i++) p *= lv![i][offset[i]];
                        accL += p;
                    }
                    Next(index, orderSizes);
                }
                if (isFloat) yd![o] = accD;
                else yl![o] = accL;
            }
        }
        outputs[0] = isFloat ? ElementConvert.FromDoubles(ops[0].Type, outShape, yd) : ElementConvert.FromLongs(ops[0].Type, outShape, yl);
    }

    /// <summary>The position in <paramref name="term"/> of the label of dimension <paramref name="dim"/>.</summary>
    private static int LabelPos(int[] term, int dim, int ellRank)
    {
        int d = 0;
        for (int p = 0; p < term.Length; p++)
        {
            if (term[p] == EinsumEquation.Ellipsis)
            {
                if (dim < d + ellRank) return p;
                d += ellRank;
            }
            else if (d++ == dim) return p;
        }
        return 0;
    }
}
