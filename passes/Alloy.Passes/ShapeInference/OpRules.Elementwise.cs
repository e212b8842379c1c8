using Alloy.IR;

namespace Alloy.Passes.ShapeInference;

internal static partial class OpRules
{
    private static readonly string[] SameTypeUnary =
    [
        "Abs", "Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "Ceil", "Cos", "Cosh", "Erf", "Exp", "Floor", "Log",
        "Neg", "Reciprocal", "Round", "Sign", "Sin", "Sinh", "Sqrt", "Tan", "Tanh", "Not", "BitwiseNot", "Relu", "Sigmoid",
        "Softplus", "Softsign", "Elu", "Selu", "Celu", "LeakyRelu", "HardSigmoid", "HardSwish", "ThresholdedRelu", "Gelu",
        "Mish", "Shrink", "Clip", "Softmax", "LogSoftmax", "Hardmax", "CumSum", "Trilu", "ReverseSequence",
    ];

    private static readonly string[] Arithmetic = ["Add", "Sub", "Mul", "Div", "Mod", "BitShift", "And", "Or", "Xor", "BitwiseAnd", "BitwiseOr", "BitwiseXor"];
    private static readonly string[] Comparisons = ["Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual"];

    private static void AddElementwise(Dictionary<string, Action<NodeContext>> t)
    {
        foreach (var op in SameTypeUnary) t[op] = c => { c.SameAs(0, 0); KnownUnary(c); };
        t["IsNaN"] = c => c.Set(0, DataType.Bool, c.ShapeOf(0));
        t["IsInf"] = c => c.Set(0, DataType.Bool, c.ShapeOf(0));
        foreach (var op in Arithmetic) t[op] = c => Binary(c, c.FirstElem(0, 1));
        t["Pow"] = c => Binary(c, c.Elem(0));
        foreach (var op in Comparisons) t[op] = c => Binary(c, DataType.Bool);
        foreach (var op in new[] { "Sum", "Mean", "Max", "Min" })
            t[op] = c =>
            {
                var inputs = Enumerable.Range(0, c.InputCount).Where(c.Has).ToArray();
                c.Set(0, c.FirstElem(inputs), Broadcast(inputs.Select(c.ShapeOf)));
                if (op is "Max" or "Min" && inputs.Length == 2) KnownBinary(c, c.FirstElem(inputs), op, inputs[0], inputs[1]);
            };
        t["Where"] = c =>
        {
            c.Set(0, c.FirstElem(1, 2), Broadcast(c.ShapeOf(0), c.ShapeOf(1), c.ShapeOf(2)));
            KnownWhere(c);
        };
        t["PRelu"] = c => c.Set(0, c.Elem(0), Broadcast(c.ShapeOf(0), c.ShapeOf(1)));
        t["Dropout"] = c =>
        {
            c.SameAs(0, 0);
            c.Set(1, DataType.Bool, c.ShapeOf(0));
            KnownUnary(c);
        };
        t["Identity"] = c =>
        {
            c.SameAs(0, 0);
            c.SetKnown(0, c.Known(0));
        };
    }

    /// <summary>A binary elementwise op: broadcast shapes (legacy broadcast before opset 7 keeps A's shape).</summary>
    private static void Binary(NodeContext c, DataType elem)
    {
        var shape = c.Opset < 7 ? c.ShapeOf(0) : Broadcast(c.ShapeOf(0), c.ShapeOf(1));
        c.Set(0, elem, shape);
        KnownBinary(c, elem, c.Node.OpType, 0, 1);
    }

    // ---- known values through elementwise integer arithmetic (shape computations) ----

    private static void KnownUnary(NodeContext c)
    {
        if (c.Known(0) is not { } a) return;
        switch (c.Node.OpType)
        {
            case "Dropout":
                c.SetKnown(0, a);
                break;
            case "Neg" when a.Ints is { } ints:
                c.SetKnown(0, KnownValue.OfInts(a.Type, a.Dims, ints.Select(d => d.Size is { } v ? Dim.Of(-v) : Dim.Unknown).ToArray()));
                break;
            case "Abs" when a.Ints is { } ints:
                c.SetKnown(0, KnownValue.OfInts(a.Type, a.Dims, ints.Select(d => d.Size is { } v ? Dim.Of(Math.Abs(v)) : d).ToArray()));
                break;
            case "Not" when a.Ints is { } ints:
                c.SetKnown(0, KnownValue.OfInts(a.Type, a.Dims, ints.Select(d => d.Size is { } v ? Dim.Of(v == 0 ? 1 : 0) : Dim.Unknown).ToArray()));
                break;
            case "Sqrt" or "Floor" or "Ceil" or "Round" or "Reciprocal" when a.Floats is { } f:
                Func<double, double> fn = c.Node.OpType switch
                {
                    "Sqrt" => Math.Sqrt,
                    "Floor" => Math.Floor,
                    "Ceil" => Math.Ceiling,
                    "Round" => x => Math.Round(x, MidpointRounding.ToEven),
                    _ => x => 1 / x,
                };
                c.SetKnown(0, KnownValue.OfFloats(a.Type, a.Dims, f.Select(x => KnownValue.Round(fn(x), a.Type)).ToArray()));
                break;
        }
    }

    private static void KnownBinary(NodeContext c, DataType elem, string op, int ia, int ib)
    {
        if (c.Known(ia) is not { } a || c.Known(ib) is not { } b) return;
        var dims = BroadcastDims(a.Dims, b.Dims);
        if (dims is null || KnownValue.Product(dims) > KnownValue.MaxElements) return;
        int count = (int)KnownValue.Product(dims);
        if (a.Ints is { } ai && b.Ints is { } bi && KnownValue.IsIntegerLike(elem))
        {
            var r = new Dim[count];
            for (int i = 0; i < count; i++)
            {
                var x = ai[SourceIndex(i, dims, a.Dims)];
                var y = bi[SourceIndex(i, dims, b.Dims)];
                r[i] = op switch
                {
                    "Add" => DimMath.Add(x, y),
                    "Sub" => DimMath.Sub(x, y),
                    "Mul" => DimMath.Mul(x, y),
                    "Div" => DimMath.Div(x, y),
                    "Mod" when x.Size is { } p && y.Size is { } q && q != 0 => Dim.Of(c.Int("fmod", 0) != 0 ? p % q : ((p % q) + q) % q),
                    "Max" when x.Size is { } p && y.Size is { } q => Dim.Of(Math.Max(p, q)),
                    "Min" when x.Size is { } p && y.Size is { } q => Dim.Of(Math.Min(p, q)),
                    "Equal" => x.Size is { } p && y.Size is { } q ? Dim.Of(p == q ? 1 : 0) : DimMath.SameDim(x, y) ? Dim.Of(1) : Dim.Unknown,
                    "Less" when x.Size is { } p && y.Size is { } q => Dim.Of(p < q ? 1 : 0),
                    "Greater" when x.Size is { } p && y.Size is { } q => Dim.Of(p > q ? 1 : 0),
                    "LessOrEqual" when x.Size is { } p && y.Size is { } q => Dim.Of(p <= q ? 1 : 0),
                    "GreaterOrEqual" when x.Size is { } p && y.Size is { } q => Dim.Of(p >= q ? 1 : 0),
                    "And" when x.Size is { } p && y.Size is { } q => Dim.Of(p != 0 && q != 0 ? 1 : 0),
                    "Or" when x.Size is { } p && y.Size is { } q => Dim.Of(p != 0 || q != 0 ? 1 : 0),
                    _ => Dim.Unknown,
                };
            }
            c.SetKnown(0, KnownValue.OfInts(elem, dims, r));
            return;
        }
        if (KnownValue.IsFloatLike(elem) && a.AllNumbers() is { } af && b.AllNumbers() is { } bf)
        {
            var r = new double[count];
            for (int i = 0; i < count; i++)
            {
                double x = af[SourceIndex(i, dims, a.Dims)], y = bf[SourceIndex(i, dims, b.Dims)];
                double? v = op switch
                {
                    "Add" => x + y,
                    "Sub" => x - y,
                    "Mul" => x * y,
                    "Div" => x / y,
                    "Max" => Math.Max(x, y),
                    "Min" => Math.Min(x, y),
                    "Pow" => Math.Pow(x, y),
                    _ => null,
                };
                if (v is null) return;
                r[i] = KnownValue.Round(v.Value, elem);
            }
            c.SetKnown(0, KnownValue.OfFloats(elem, dims, r));
        }
    }

    private static void KnownWhere(NodeContext c)
    {
        if (c.Known(0) is not { Ints: { } cond } k || c.Known(1) is not { } x || c.Known(2) is not { } y) return;
        var kx = BroadcastDims(k.Dims, x.Dims);
        var dims = kx is null ? null : BroadcastDims(kx, y.Dims);
        if (dims is null) return;
        int count = (int)KnownValue.Product(dims);
        if (count > KnownValue.MaxElements) return;
        if (x.Ints is { } xi && y.Ints is { } yi)
        {
            var r = new Dim[count];
            for (int i = 0; i < count; i++)
            {
                var flag = cond[SourceIndex(i, dims, k.Dims)];
                if (flag.Size is not { } f) { r[i] = Dim.Unknown; continue; }
                r[i] = f != 0 ? xi[SourceIndex(i, dims, x.Dims)] : yi[SourceIndex(i, dims, y.Dims)];
            }
            c.SetKnown(0, KnownValue.OfInts(x.Type, dims, r));
        }
        else if (x.Floats is { } xf && y.Floats is { } yf && k.AllInts() is { } flags)
        {
            var r = new double[count];
            for (int i = 0; i < count; i++)
                r[i] = flags[SourceIndex(i, dims, k.Dims)] != 0 ? xf[SourceIndex(i, dims, x.Dims)] : yf[SourceIndex(i, dims, y.Dims)];
            c.SetKnown(0, KnownValue.OfFloats(x.Type, dims, r));
        }
    }

    /// <summary>Numpy broadcast of concrete dimensions; null when they do not broadcast.</summary>
    internal static long[]? BroadcastDims(long[] a, long[] b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var r = new long[rank];
        for (int k = 0; k < rank; k++)
        {
            long x = k - (rank - a.Length) >= 0 ? a[k - (rank - a.Length)] : 1;
            long y = k - (rank - b.Length) >= 0 ? b[k - (rank - b.Length)] : 1;
            if (x != y && x != 1 && y != 1) return null;
            r[k] = x == 1 ? y : x;
        }
        return r;
    }

    /// <summary>The flat index in a tensor of <paramref name="srcDims"/> that broadcasts to flat index <paramref name="flat"/> of <paramref name="outDims"/>.</summary>
    internal static int SourceIndex(int flat, long[] outDims, long[] srcDims)
    {
        int offset = outDims.Length - srcDims.Length;
        long index = 0, stride = 1;
        for (int k = outDims.Length - 1; k >= 0; k--)
        {
            long coord = flat % outDims[k];
            flat = (int)(flat / outDims[k]);
            int s = k - offset;
            if (s < 0) continue;
            if (srcDims[s] != 1) index += coord * stride;
            stride *= srcDims[s];
        }
        return (int)index;
    }
}
