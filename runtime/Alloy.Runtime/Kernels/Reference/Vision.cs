using Alloy.Runtime.Numerics;
using static Alloy.Runtime.Kernels.Reference.ElementwiseHelpers;

namespace Alloy.Runtime.Kernels.Reference;

/// <summary>
/// Vision family: NonMaxSuppression (opsets 10, 11), GridSample (opset 16 mode names; opset 20 names for 4-D
/// inputs), RoiAlign (opsets 10, 16), LRN (opsets 1, 13), MaxUnpool (opsets 9, 11).
/// </summary>
internal static partial class ReferenceKernels
{
    static partial void RegisterVision(KernelRegistry r)
    {
        r.Register("NonMaxSuppression", (KernelNode n, out string? reason) => NonMaxSuppressionKernel.Create(n, out reason));
        r.Register("GridSample", (KernelNode n, out string? reason) => GridSampleKernel.Create(n, out reason));
        r.Register("RoiAlign", (KernelNode n, out string? reason) => RoiAlignKernel.Create(n, out reason));
        r.Register("LRN", (KernelNode n, out string? reason) => LrnKernel.Create(n, out reason));
        r.Register("MaxUnpool", (KernelNode n, out string? reason) => MaxUnpoolKernel.Create(n, out reason));
    }
}

/// <summary>
/// NonMaxSuppression, per batch and class, as ONNX Runtime and the ONNX reference run it: boxes [B, S, 4] ([y1, x1,
/// y2, x2] with either diagonal pair when center_point_box = 0; [x_centre, y_centre, width, height] when 1), scores
/// [B, K, S]. Candidates are the boxes whose score is strictly above score_threshold (all boxes when that input is
/// omitted), taken in decreasing score order (ties: lower box index first); a candidate is kept unless its IoU with
/// an already kept box of the same class is strictly above iou_threshold (default 0); at most
/// max_output_boxes_per_class (default 0: no output) boxes are kept per class. Boxes of zero area never suppress.
/// Output: int64 [selected, 3] rows (batch, class, box) in batch, class, selection order. IoU in double.
/// </summary>
internal sealed class NonMaxSuppressionKernel(bool centerPointBox) : IKernel
{
    private const string Op = "NonMaxSuppression";

    public static IKernel? Create(KernelNode n, out string? reason)
    {
        reason = null;
        long cpb = n.Attributes.GetInt("center_point_box", 0);
        if (cpb is not (0 or 1))
        {
            reason = $"{Op}: attribute 'center_point_box' is {cpb}, expected 0 or 1";
            return null;
        }
        return new NonMaxSuppressionKernel(cpb == 1);
    }

    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var boxes = Required(inputs, 0, Op, "boxes");
        var scores = Required(inputs, 1, Op, "scores");
        CheckType(boxes, ElementTypeSet.Float, Op, "boxes");
        CheckType(scores, ElementTypeSet.Float, Op, "scores");
        if (boxes.Rank != 3 || boxes.Shape[2] != 4)
            throw new KernelException($"{Op}: input 'boxes' must have shape [num_batches, spatial_dimension, 4], got {boxes.ShapeText}");
        if (scores.Rank != 3 || scores.Shape[0] != boxes.Shape[0] || scores.Shape[2] != boxes.Shape[1])
            throw new KernelException($"{Op}: input 'scores' must have shape [{boxes.Shape[0]}, num_classes, {boxes.Shape[1]}], got {scores.ShapeText}");
        long maxPerClass = 0;
        if (Optional(inputs, 2) is { Length: > 0 } m)
            maxPerClass = Math.Max(0, ReadScalarInt(m, Op, "max_output_boxes_per_class"));
        double iouThreshold = 0;
        if (Optional(inputs, 3) is { Length: > 0 } iou)
        {
            iouThreshold = SignalHelpers.ReadScalarFloat(iou, Op, "iou_threshold");
            if (!(iouThreshold >= 0 && iouThreshold <= 1))
                throw new KernelException($"{Op}: input 'iou_threshold' is {iouThreshold}, expected a value in [0, 1]");
        }
        double? scoreThreshold = Optional(inputs, 4) is { Length: > 0 } st ? SignalHelpers.ReadScalarFloat(st, Op, "score_threshold") : null;

        long batches = boxes.Shape[0], spatial = boxes.Shape[1], classes = scores.Shape[1];
        var b = ElementConvert.ToDoubles(boxes);
        var s = ElementConvert.ToDoubles(scores);
        var selected = new List<long>();
        var kept = new List<long>();
        for (long batch = 0; batch < batches; batch++)
            for (long cls = 0; cls < classes; cls++)
            {
                long scoreBase = (batch * classes + cls) * spatial;
                var candidates = new List<long>();
                for (long i = 0; i < spatial; i++)
                    if (scoreThreshold is not { } t || s[scoreBase + i] > t) candidates.Add(i);
                // Decreasing score, then increasing index (a stable sort of the index order).
                var order = candidates.OrderByDescending(i => s[scoreBase + i]).ToList();
                kept.Clear();
                foreach (var i in order)
                {
                    if (kept.Count >= maxPerClass) break;
                    bool suppressed = false;
                    foreach (var k in kept)
                        if (Suppresses(b, (batch * spatial + i) * 4, (batch * spatial + k) * 4, iouThreshold)) { suppressed = true; break; }
                    if (suppressed) continue;
                    kept.Add(i);
                    selected.Add(batch);
                    selected.Add(cls);
                    selected.Add(i);
                }
            }
        outputs[0] = Tensor.FromArray<long>(ElementType.Int64, [selected.Count / 3, 3], selected.ToArray());
    }

    private (double XMin, double XMax, double YMin, double YMax) Corners(double[] b, long o)
    {
        if (centerPointBox)
            return (b[o] - b[o + 2] / 2, b[o] + b[o + 2] / 2, b[o + 1] - b[o + 3] / 2, b[o + 1] + b[o + 3] / 2);
        return (Math.Min(b[o + 1], b[o + 3]), Math.Max(b[o + 1], b[o + 3]), Math.Min(b[o], b[o + 2]), Math.Max(b[o], b[o + 2]));
    }

    private bool Suppresses(double[] b, long first, long second, double threshold)
    {
        var p = Corners(b, first);
        var q = Corners(b, second);
        double ix = Math.Min(p.XMax, q.XMax) - Math.Max(p.XMin, q.XMin);
        double iy = Math.Min(p.YMax, q.YMax) - Math.Max(p.YMin, q.YMin);
        if (!(ix > 0) || !(iy > 0)) return false;
        double intersection = ix * iy;
        double areaP = (p.XMax - p.XMin) * (p.YMax - p.YMin), areaQ = (q.XMax - q.XMin) * (q.YMax - q.YMin);
        double union = areaP + areaQ - intersection;
        if (!(areaP > 0) || !(areaQ > 0) || !(union > 0)) return false;
        return intersection / union > threshold;
    }
}
