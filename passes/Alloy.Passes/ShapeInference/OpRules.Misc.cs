using Alloy.IR;

namespace Alloy.Passes.ShapeInference;

internal static partial class OpRules
{
    private static void AddMisc(Dictionary<string, Action<NodeContext>> t)
    {
        t["Cast"] = c =>
        {
            var to = c.TypeAttr("to", DataType.Undefined);
            c.Set(0, to, c.ShapeOf(0));
            if (c.Known(0)?.CastTo(to) is { } k) c.SetKnown(0, k);
        };
        t["CastLike"] = c =>
        {
            var to = c.Elem(1);
            c.Set(0, to, c.ShapeOf(0));
            if (to != DataType.Undefined && c.Known(0)?.CastTo(to) is { } k) c.SetKnown(0, k);
        };

        // Signal processing.
        foreach (var op in new[] { "HannWindow", "HammingWindow", "BlackmanWindow" })
            t[op] = c => c.SetDims(0, c.TypeAttr("output_datatype", DataType.Float), [c.Known(0) is { Ints: [var n] } ? n : Dim.Unknown]);
        t["MelWeightMatrix"] = c =>
        {
            // num_mel_bins, dft_length, sample_rate, lower_edge_hertz, upper_edge_hertz → [dft_length / 2 + 1, num_mel_bins]
            var bins = c.Known(0) is { Ints: [var b] } ? b : Dim.Unknown;
            var rows = c.KnownInts(1) is [var dft] ? Dim.Of(dft / 2 + 1) : Dim.Unknown;
            c.SetDims(0, c.TypeAttr("output_datatype", DataType.Float), [rows, bins]);
        };
        t["DFT"] = Dft;
        t["STFT"] = Stft;

        // Vision.
        t["GridSample"] = c =>
        {
            // X [N, C, D1…], grid [N, O1…, r] → [N, C, O1…]
            var x = c.ShapeOf(0);
            var grid = c.ShapeOf(1);
            if (x is null || grid is null || grid.Rank < 2) { c.Set(0, c.Elem(0), x is null ? null : UnknownShape(x.Rank)); return; }
            c.SetDims(0, c.Elem(0), new[] { grid[0], x.Rank > 1 ? x[1] : Dim.Unknown }.Concat(grid.Dims[1..^1]));
        };
        t["RoiAlign"] = c =>
        {
            // X [N, C, H, W], rois [R, 4], batch_indices [R] → [R, C, output_height, output_width]
            var rois = c.ShapeOf(1) is { Rank: 2 } r ? r[0] : c.ShapeOf(2) is { Rank: 1 } b ? b[0] : Dim.Unknown;
            var channels = c.ShapeOf(0) is { Rank: 4 } x ? x[1] : Dim.Unknown;
            c.SetDims(0, c.Elem(0), [rois, channels, Dim.Of(c.Int("output_height", 1)), Dim.Of(c.Int("output_width", 1))]);
        };
        t["NonMaxSuppression"] = c => c.SetDims(0, DataType.Int64, [Dim.Unknown, Dim.Of(3)]);

        // Losses.
        t["NegativeLogLikelihoodLoss"] = c =>
            c.Set(0, c.Elem(0), c.Str("reduction", "mean") == "none" ? c.ShapeOf(1) : Shape.Scalar);
        t["SoftmaxCrossEntropyLoss"] = c =>
        {
            c.Set(0, c.Elem(0), c.Str("reduction", "mean") == "none" ? c.ShapeOf(1) : Shape.Scalar);
            c.SameAs(1, 0);
        };

        // Text.
        t["StringNormalizer"] = c =>
        {
            // [C] or [1, C]; stop words may remove strings, so the last dimension is not known.
            var s = c.ShapeOf(0);
            c.Set(0, DataType.String, s is null ? null : new Shape((Dim[])[.. s.Dims[..^1], Dim.Unknown]));
        };
        t["TfIdfVectorizer"] = c =>
        {
            var indexes = c.Ints("ngram_indexes");
            var width = indexes is { Length: > 0 } ix ? Dim.Of(ix.Max() + 1) : Dim.Unknown;
            var s = c.ShapeOf(0);
            c.Set(0, DataType.Float, s is null ? null : s.Rank <= 1 ? new Shape(width) : new Shape(s[0], width));
        };
    }

    /// <summary>DFT: the axis becomes dft_length (or dft_length / 2 + 1 one-sided), the last dimension 2 (real, imaginary).</summary>
    private static void Dft(NodeContext c)
    {
        var elem = c.Elem(0);
        var s = c.ShapeOf(0);
        if (s is null) { c.Set(0, elem, null); return; }
        long axisValue = c.Opset >= 20 ? (c.Has(2) ? (c.KnownInts(2) is [var a] ? a : long.MinValue) : -2) : c.Int("axis", 1);
        if (axisValue == long.MinValue) { c.Set(0, elem, UnknownShape(s.Rank)); return; }
        int axis = Axis(axisValue, s.Rank);
        Dim length = c.Has(1) ? (c.Known(1) is { Ints: [var n] } ? n : Dim.Unknown) : s[axis];
        if (c.Int("onesided", 0) != 0) length = length.Size is { } v ? Dim.Of(v / 2 + 1) : Dim.Unknown;
        var dims = s.Dims.AsSpan().ToArray();
        dims[axis] = length;
        dims[^1] = Dim.Of(2);
        c.SetDims(0, elem, dims);
    }

    /// <summary>STFT: signal [batch, length, 1|2] → [batch, frames, bins, 2].</summary>
    private static void Stft(NodeContext c)
    {
        var elem = c.Elem(0);
        var s = c.ShapeOf(0);
        Dim batch = s is { Rank: 3 } ? s[0] : Dim.Unknown;
        long? frameLength = c.KnownInts(3) is [var fl] ? fl : c.ShapeOf(2) is { Rank: 1 } w ? w[0].Size : null;
        long? step = c.KnownInts(1) is [var st] ? st : null;
        Dim frames = s is { Rank: 3 } && s[1].Size is { } len && frameLength is { } f && step is { } k && k > 0 ? Dim.Of(1 + (len - f) / k) : Dim.Unknown;
        Dim bins = frameLength is { } fr ? Dim.Of(c.Int("onesided", 1) != 0 ? fr / 2 + 1 : fr) : Dim.Unknown;
        c.SetDims(0, elem, [batch, frames, bins, Dim.Of(2)]);
    }
}
