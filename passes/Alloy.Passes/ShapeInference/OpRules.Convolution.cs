using Alloy.IR;

namespace Alloy.Passes.ShapeInference;

internal static partial class OpRules
{
    private static void AddConvolution(Dictionary<string, Action<NodeContext>> t)
    {
        t["Conv"] = c => Conv(c, c.FirstElem(0, 1), x: 0, w: 1);
        t["ConvInteger"] = c => Conv(c, DataType.Int32, x: 0, w: 1);
        // x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B
        t["QLinearConv"] = c => Conv(c, c.FirstElem(7, 0), x: 0, w: 3);
        t["ConvTranspose"] = ConvTranspose;
        foreach (var op in new[] { "MaxPool", "AveragePool", "LpPool" }) t[op] = Pool;
        foreach (var op in new[] { "GlobalMaxPool", "GlobalAveragePool", "GlobalLpPool" })
            t[op] = c => c.Set(0, c.Elem(0), c.ShapeOf(0) is { Rank: >= 2 } s ? NodeContext.MakeShape(s.Dims.Select((d, k) => k < 2 ? d : Dim.Of(1))) : null);
        t["MaxUnpool"] = MaxUnpool;
    }

    private static long[] PerDim(long[]? values, int rank, long fallback) =>
        values is { } v && v.Length == rank ? v : Enumerable.Repeat(fallback, rank).ToArray();

    /// <summary>
    /// One output size of a sliding window (Conv, pools), as the reference kernels compute it: explicit pads
    /// (NOTSET), none (VALID), or ceil(in / stride) (SAME_*); ceil_mode rounds up but the last window must start
    /// inside the input or its leading padding. A symbolic input size stays symbolic only where the output equals it.
    /// </summary>
    internal static Dim WindowOutput(Dim input, long kernel, long stride, long dilation, long padBegin, long padEnd, string autoPad, bool ceilMode)
    {
        long dk = (kernel - 1) * dilation + 1;
        if (autoPad is "SAME_UPPER" or "SAME_LOWER")
        {
            if (input.Size is { } n) return Dim.Of(CeilDiv(n, stride));
            return stride == 1 ? input : Dim.Unknown;
        }
        if (autoPad != "NOTSET") padBegin = padEnd = 0;
        if (input.Size is not { } size)
            return stride == 1 && padBegin + padEnd - dk + 1 == 0 ? input : Dim.Unknown;
        long span = size + padBegin + padEnd - dk;
        if (span < 0) return Dim.Unknown;
        long o = ceilMode ? CeilDiv(span, stride) + 1 : span / stride + 1;
        if (ceilMode && (o - 1) * stride >= size + padBegin) o--;
        return Dim.Of(o);
    }

    private static string AutoPad(NodeContext c)
    {
        var p = c.Str("auto_pad", "NOTSET");
        return p.Length == 0 ? "NOTSET" : p;
    }

    private static void Conv(NodeContext c, DataType elem, int x, int w)
    {
        var xs = c.ShapeOf(x);
        var ws = c.ShapeOf(w);
        var kernelAttr = c.Ints("kernel_shape");
        if (xs is null)
        {
            c.Set(0, elem, ws is { } ? UnknownShape(ws.Rank) : kernelAttr is { } ka ? UnknownShape(ka.Length + 2) : null);
            return;
        }
        int rank = xs.Rank - 2;
        if (rank < 0) throw new ArgumentException("Conv input has rank below 2");
        var kernel = kernelAttr ?? (ws is { } && ws.Rank == rank + 2 && ws.Dims.Skip(2).All(d => d.IsKnown) ? ws.Dims.Skip(2).Select(d => d.Size!.Value).ToArray() : null);
        var dims = new List<Dim> { xs[0], ws is { Rank: > 0 } ? ws[0] : Dim.Unknown };
        if (kernel is null || kernel.Length != rank)
        {
            dims.AddRange(Enumerable.Repeat(Dim.Unknown, rank));
            c.SetDims(0, elem, dims);
            return;
        }
        var strides = PerDim(c.Ints("strides"), rank, 1);
        var dilations = PerDim(c.Ints("dilations"), rank, 1);
        var pads = PerDim(c.Ints("pads"), 2 * rank, 0);
        var autoPad = AutoPad(c);
        for (int d = 0; d < rank; d++)
            dims.Add(WindowOutput(xs[d + 2], kernel[d], strides[d], dilations[d], pads[d], pads[rank + d], autoPad, ceilMode: false));
        c.SetDims(0, elem, dims);
    }

    /// <summary>
    /// ConvTranspose: channels W[1] × group; spatial size output_shape when given, in × stride for SAME_*, else
    /// stride × (in − 1) + output_padding + (k − 1) × dilation + 1 − pads.
    /// </summary>
    private static void ConvTranspose(NodeContext c)
    {
        var elem = c.FirstElem(0, 1);
        var xs = c.ShapeOf(0);
        var ws = c.ShapeOf(1);
        if (xs is null) { c.Set(0, elem, ws is { } ? UnknownShape(ws.Rank) : null); return; }
        int rank = xs.Rank - 2;
        if (rank < 0) throw new ArgumentException("ConvTranspose input has rank below 2");
        long group = c.Int("group", 1);
        var channels = ws is { Rank: >= 2 } ? DimMath.Mul(ws[1], Dim.Of(group)) : Dim.Unknown;
        var dims = new List<Dim> { xs[0], channels };
        var kernel = c.Ints("kernel_shape") ?? (ws is { } && ws.Rank == rank + 2 && ws.Dims.Skip(2).All(d => d.IsKnown) ? ws.Dims.Skip(2).Select(d => d.Size!.Value).ToArray() : null);
        var outputShape = c.Ints("output_shape");
        var strides = PerDim(c.Ints("strides"), rank, 1);
        var dilations = PerDim(c.Ints("dilations"), rank, 1);
        var outPad = PerDim(c.Ints("output_padding"), rank, 0);
        var pads = PerDim(c.Ints("pads"), 2 * rank, 0);
        var autoPad = AutoPad(c);
        for (int d = 0; d < rank; d++)
        {
            var input = xs[d + 2];
            if (outputShape is { } os && (os.Length == rank || os.Length == rank + 2)) { dims.Add(Dim.Of(os[os.Length - rank + d])); continue; }
            if (autoPad is "SAME_UPPER" or "SAME_LOWER") { dims.Add(DimMath.Mul(input, Dim.Of(strides[d]))); continue; }
            if (kernel is null || kernel.Length != rank) { dims.Add(Dim.Unknown); continue; }
            long pb = autoPad == "NOTSET" ? pads[d] : 0, pe = autoPad == "NOTSET" ? pads[rank + d] : 0;
            long extra = outPad[d] + (kernel[d] - 1) * dilations[d] + 1 - pb - pe;
            if (input.Size is { } n) dims.Add(Dim.Of(strides[d] * (n - 1) + extra));
            else dims.Add(strides[d] == 1 && extra == 1 ? input : Dim.Unknown);
        }
        c.SetDims(0, elem, dims);
    }

    private static void Pool(NodeContext c)
    {
        var elem = c.Elem(0);
        var xs = c.ShapeOf(0);
        if (xs is null) { c.Set(0, elem, null); c.Set(1, DataType.Int64, null); return; }
        int rank = xs.Rank - 2;
        if (rank < 0) throw new ArgumentException("pooling input has rank below 2");
        var kernel = c.Ints("kernel_shape");
        var dims = new List<Dim> { xs[0], xs[1] };
        if (kernel is null || kernel.Length != rank) dims.AddRange(Enumerable.Repeat(Dim.Unknown, rank));
        else
        {
            var strides = PerDim(c.Ints("strides"), rank, 1);
            var dilations = PerDim(c.Ints("dilations"), rank, 1);
            var pads = PerDim(c.Ints("pads"), 2 * rank, 0);
            var autoPad = AutoPad(c);
            bool ceil = c.Int("ceil_mode", 0) != 0;
            for (int d = 0; d < rank; d++)
                dims.Add(WindowOutput(xs[d + 2], kernel[d], strides[d], dilations[d], pads[d], pads[rank + d], autoPad, ceil));
        }
        c.SetDims(0, elem, dims);
        c.SetDims(1, DataType.Int64, dims);
    }

    private static void MaxUnpool(NodeContext c)
    {
        var elem = c.Elem(0);
        if (c.Has(2))
        {
            if (c.KnownInts(2) is { } os) c.SetDims(0, elem, os.Select(Dim.Of));
            else c.Set(0, elem, c.ShapeOf(2) is { Rank: 1 } s && s[0].Size is { } r ? UnknownShape((int)r) : null);
            return;
        }
        var xs = c.ShapeOf(0);
        if (xs is null) { c.Set(0, elem, null); return; }
        int rank = xs.Rank - 2;
        var kernel = c.Ints("kernel_shape");
        var strides = PerDim(c.Ints("strides"), rank, 1);
        var pads = PerDim(c.Ints("pads"), 2 * rank, 0);
        var dims = new List<Dim> { xs[0], xs[1] };
        for (int d = 0; d < rank; d++)
            dims.Add(kernel is { } k && k.Length == rank && xs[d + 2].Size is { } n ? Dim.Of((n - 1) * strides[d] + k[d] - pads[d] - pads[rank + d]) : Dim.Unknown);
        c.SetDims(0, elem, dims);
    }
}
