using Alloy.IR;

namespace Alloy.Passes.ShapeInference;

internal static partial class OpRules
{
    private static void AddNormalization(Dictionary<string, Action<NodeContext>> t)
    {
        foreach (var op in new[] { "InstanceNormalization", "GroupNormalization", "LpNormalization", "MeanVarianceNormalization", "LRN" })
            t[op] = c => c.SameAs(0, 0);

        t["BatchNormalization"] = c =>
        {
            c.SameAs(0, 0);
            // Training outputs (running / saved mean and variance) are per channel.
            var channels = c.ShapeOf(0) is { Rank: >= 2 } s ? s[1] : c.ShapeOf(1) is { Rank: 1 } sc ? sc[0] : Dim.Unknown;
            var statElem = c.FirstElem(3, 1, 0);
            for (int i = 1; i < c.OutputCount; i++) c.SetDims(i, statElem, [channels]);
        };

        t["LayerNormalization"] = c =>
        {
            c.SameAs(0, 0);
            var stash = c.TypeAttr("stash_type", DataType.Float);
            if (c.ShapeOf(0) is not { } s)
            {
                c.Set(1, stash, null);
                c.Set(2, stash, null);
                return;
            }
            int axis = Axis(c.Int("axis", -1), s.Rank);
            var dims = s.Dims.Select((d, k) => k < axis ? d : Dim.Of(1)).ToArray();
            c.SetDims(1, stash, dims);
            c.SetDims(2, stash, dims);
        };
    }
}
