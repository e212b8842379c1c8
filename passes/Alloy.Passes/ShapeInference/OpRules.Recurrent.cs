using Alloy.IR;

namespace Alloy.Passes.ShapeInference;

internal static partial class OpRules
{
    private static void AddRecurrent(Dictionary<string, Action<NodeContext>> t)
    {
        t["RNN"] = Recurrent;
        t["GRU"] = Recurrent;
        t["LSTM"] = Recurrent;
    }

    /// <summary>
    /// RNN / GRU / LSTM. With layout 0: X [seq, batch, input] → Y [seq, directions, batch, hidden], Y_h (and
    /// LSTM's Y_c) [directions, batch, hidden]; with layout 1 batch comes first: Y [batch, seq, directions,
    /// hidden], Y_h [batch, directions, hidden].
    /// </summary>
    private static void Recurrent(NodeContext c)
    {
        var elem = c.FirstElem(0, 1);
        bool batchFirst = c.Int("layout", 0) != 0;
        var direction = c.Str("direction", "forward");
        var directions = direction == "bidirectional" ? Dim.Of(2) : Dim.Of(1);
        Dim hidden = c.IntOrNull("hidden_size") is { } h ? Dim.Of(h) : c.ShapeOf(2) is { Rank: 3 } r ? r[2] : Dim.Unknown;
        Dim seq = Dim.Unknown, batch = Dim.Unknown;
        if (c.ShapeOf(0) is { Rank: 3 } x)
        {
            seq = batchFirst ? x[1] : x[0];
            batch = batchFirst ? x[0] : x[1];
        }
        Shape y = batchFirst ? new Shape(batch, seq, directions, hidden) : new Shape(seq, directions, batch, hidden);
        Shape state = batchFirst ? new Shape(batch, directions, hidden) : new Shape(directions, batch, hidden);
        c.Set(0, elem, y);
        for (int i = 1; i < c.OutputCount; i++) c.Set(i, elem, state);
    }
}
