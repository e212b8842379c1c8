using Xunit;
using static Alloy.Runtime.Tests.Kernels.LossSignalVisionTextKit;

namespace Alloy.Runtime.Tests.Kernels;

public sealed class VisionTests
{
    // ---- NonMaxSuppression ----

    private static readonly float[] Boxes =
    [
        0, 0, 1, 1,
        0, 0.1f, 1, 1.1f,
        0, -0.1f, 1, 0.9f,
        0, 10, 1, 11,
        0, 10.1f, 1, 11.1f,
        0, 100, 1, 101,
    ];

    private static readonly float[] Scores = [0.9f, 0.75f, 0.6f, 0.95f, 0.5f, 0.3f];

    private static long[] Nms(float[] boxes, long batches, float[] scores, long classes, long? max, float? iou, float? score, long centerPointBox = 0)
    {
        long spatial = boxes.Length / 4 / batches;
        var y = Run("NonMaxSuppression", 11, A(("center_point_box", centerPointBox)),
            F32([batches, spatial, 4], boxes), F32([batches, classes, spatial], scores),
            max is { } m ? I64([1], m) : null, iou is { } i ? F32([1], i) : null, score is { } s ? F32([1], s) : null);
        Assert.Equal(ElementType.Int64, y.Type);
        Assert.Equal(2, y.Rank);
        Assert.Equal(3, y.Shape[1]);
        return L(y);
    }

    [Fact]
    public void NmsSuppressesByIouInScoreOrder()
    {
        // Box 3 (0.95) wins, box 4 overlaps it; box 0 (0.9) suppresses 1 and 2; box 5 is apart.
        Assert.Equal([0L, 0, 3, 0, 0, 0, 0, 0, 5], Nms(Boxes, 1, Scores, 1, 3, 0.5f, 0));
        Assert.Equal([0L, 0, 3, 0, 0, 0], Nms(Boxes, 1, Scores, 1, 3, 0.5f, 0.4f)); // score threshold drops box 5
        Assert.Equal([0L, 0, 3, 0, 0, 0], Nms(Boxes, 1, Scores, 1, 2, 0.5f, 0)); // at most 2 per class
        Assert.Equal([0L, 0, 3, 0, 0, 0, 0, 0, 5], Nms(Boxes, 1, Scores, 1, 3, 0.5f, null)); // no score threshold
        // Without an IoU threshold (0) every overlap suppresses; with 1 nothing does.
        Assert.Equal([0L, 0, 3, 0, 0, 0, 0, 0, 5], Nms(Boxes, 1, Scores, 1, 10, null, null));
        Assert.Equal(new long[] { 3, 0, 1, 2, 4, 5 }.SelectMany(b => new[] { 0L, 0, b }), Nms(Boxes, 1, Scores, 1, 10, 1, null));
        // max_output_boxes_per_class omitted or 0: no output.
        Assert.Empty(Nms(Boxes, 1, Scores, 1, null, 0.5f, 0));
        Assert.Empty(Nms(Boxes, 1, Scores, 1, 0, 0.5f, 0));
    }

    [Fact]
    public void NmsHandlesFlippedCornersCentreBoxesAndTies()
    {
        float[] flipped = [1, 1, 0, 0, 0, 0.1f, 1, 1.1f, 0, 0.9f, 1, -0.1f, 0, 10, 1, 11, 1, 10.1f, 0, 11.1f, 1, 101, 0, 100];
        Assert.Equal([0L, 0, 3, 0, 0, 0, 0, 0, 5], Nms(flipped, 1, Scores, 1, 3, 0.5f, 0));
        float[] centre = [0.5f, 0.5f, 1, 1, 0.5f, 0.6f, 1, 1, 0.5f, 0.4f, 1, 1, 0.5f, 10.5f, 1, 1, 0.5f, 10.6f, 1, 1, 0.5f, 100.5f, 1, 1];
        Assert.Equal([0L, 0, 3, 0, 0, 0, 0, 0, 5], Nms(centre, 1, Scores, 1, 3, 0.5f, 0, centerPointBox: 1));
        var identical = Enumerable.Range(0, 10).SelectMany(_ => new float[] { 0, 0, 1, 1 }).ToArray();
        Assert.Equal([0L, 0, 0], Nms(identical, 1, Enumerable.Repeat(0.9f, 10).ToArray(), 1, 3, 0.5f, 0));
        // Equal scores keep index order.
        float[] apart = [0, 0, 1, 1, 0, 5, 1, 6, 0, 10, 1, 11];
        Assert.Equal([0L, 0, 0, 0, 0, 1, 0, 0, 2], Nms(apart, 1, [0.5f, 0.5f, 0.5f], 1, 5, 0.5f, null));
        // Zero-area boxes never suppress.
        float[] degenerate = [0, 0, 0, 0, 0, 0, 0, 0];
        Assert.Equal([0L, 0, 0, 0, 0, 1], Nms(degenerate, 1, [0.5f, 0.4f], 1, 5, 0, null));
    }

    [Fact]
    public void NmsRunsPerBatchAndClass()
    {
        Assert.Equal([0L, 0, 3, 0, 0, 0, 0, 1, 3, 0, 1, 0], Nms(Boxes, 1, [.. Scores, .. Scores], 2, 2, 0.5f, 0));
        Assert.Equal([0L, 0, 3, 0, 0, 0, 1, 0, 3, 1, 0, 0], Nms([.. Boxes, .. Boxes], 2, [.. Scores, .. Scores], 1, 2, 0.5f, 0));
    }

    [Fact]
    public void NmsRejectsBadShapesAndAttributes()
    {
        Assert.Contains("boxes", Fails("NonMaxSuppression", 11, null, F32([1, 2, 3], 0, 0, 0, 0, 0, 0), F32([1, 1, 2], 1, 1)).Message);
        Assert.Contains("scores", Fails("NonMaxSuppression", 11, null, F32([1, 1, 4], 0, 0, 1, 1), F32([1, 1, 2], 1, 1)).Message);
        Assert.Contains("iou_threshold", Fails("NonMaxSuppression", 11, null, F32([1, 1, 4], 0, 0, 1, 1), F32([1, 1, 1], 1), I64([1], 1), F32([1], 1.5f)).Message);
        Assert.Contains("center_point_box", Declines("NonMaxSuppression", 11, A(("center_point_box", 2L))));
    }

    // ---- GridSample ----

    private static readonly Tensor Small = F32([1, 1, 3, 2], 0, 1, 2, 3, 4, 5);
    private static Tensor Grid(params float[] v) => F32([1, v.Length / 8, 4, 2], v);

    private static readonly Tensor FarGrid = Grid(-10, -10, -5, -5, -0.2f, -0.2f, 10, 10, 10, 10, -0.2f, -0.2f, 5, 5, 10, 10);
    private static readonly Tensor ModeGrid = Grid(-1, -1, -0.5f, -0.5f, -0.2f, -0.2f, 0, 0, 0, 0, -0.2f, -0.2f, 0.5f, 0.5f, 1, 1);

    [Fact]
    public void GridSamplePaddingModesMatchPyTorch()
    {
        // Values from PyTorch's grid_sample (the ONNX operator examples).
        Close([0, 0, 1.7, 0, 0, 1.7, 0, 0], Run("GridSample", 16, A(("padding_mode", "zeros")), Small, FarGrid), 1e-6);
        Close([0, 0, 1.7, 5, 5, 1.7, 5, 5], Run("GridSample", 16, A(("padding_mode", "border")), Small, FarGrid), 1e-6);
        Close([2.5, 0, 1.7, 2.5, 2.5, 1.7, 5, 2.5], Run("GridSample", 16, A(("padding_mode", "reflection")), Small, FarGrid), 1e-6);
    }

    [Fact]
    public void GridSampleModesMatchPyTorch()
    {
        Close([0, 0.5, 1.7, 2.5, 2.5, 1.7, 4.5, 1.25], Run("GridSample", 16, A(("mode", "bilinear")), Small, ModeGrid), 1e-6);
        Close([0, 1.25, 2, 2.5, 2.5, 2, 3.75, 5], Run("GridSample", 16, A(("align_corners", 1L)), Small, ModeGrid), 1e-6);
        Close([0, 0, 2, 2, 2, 2, 5, 0], Run("GridSample", 16, A(("mode", "nearest")), Small, ModeGrid), 1e-6);
        Close([-0.1406, 0.3828, 1.7556, 2.9688, 2.9688, 1.7556, 5.1445, 1.3906], Run("GridSample", 16, A(("mode", "bicubic")), Small, ModeGrid), 1e-4);
        // Opset 20 spells the modes linear / cubic.
        Close([0, 0.5, 1.7, 2.5, 2.5, 1.7, 4.5, 1.25], Run("GridSample", 20, A(("mode", "linear")), Small, ModeGrid), 1e-6);
        Close([-0.1406, 0.3828, 1.7556, 2.9688, 2.9688, 1.7556, 5.1445, 1.3906], Run("GridSample", 20, A(("mode", "cubic")), Small, ModeGrid), 1e-4);
        Assert.Contains("mode", Declines("GridSample", 16, A(("mode", "linear")), Small, ModeGrid));
        Assert.Contains("mode", Declines("GridSample", 20, A(("mode", "bicubic")), Small, ModeGrid));
        Assert.Contains("padding_mode", Declines("GridSample", 16, A(("padding_mode", "wrap")), Small, ModeGrid));
    }

    [Fact]
    public void GridSampleReproducesLinearImagesInside()
    {
        // Each channel is f(r, c) = a·r + b·c + d, which bilinear interpolation reproduces exactly inside the image.
        const int n = 2, ch = 3, h = 5, w = 7, ho = 3, wo = 17;
        double[] a = [1, -0.5, 2], b = [0.25, 3, -1], d = [0, 1, -2];
        var x = new double[n * ch * h * w];
        for (int i = 0; i < x.Length; i++)
        {
            int c = i / (h * w) % ch, r = i / w % h, col = i % w;
            x[i] = a[c] * r + b[c] * col + d[c];
        }
        var g = Random(n * ho * wo * 2, 50, -0.95, 0.95, ElementType.Double);
        foreach (var align in new[] { 0L, 1L })
        {
            var y = Run("GridSample", 16, A(("align_corners", align)), F64([n, ch, h, w], x), F64([n, ho, wo, 2], g));
            Assert.Equal([(long)n, ch, ho, wo], y.Shape);
            var expected = new double[n * ch * ho * wo];
            for (int i = 0; i < expected.Length; i++)
            {
                int bn = i / (ch * ho * wo), c = i / (ho * wo) % ch, p = i % (ho * wo);
                double gx = g[(bn * ho * wo + p) * 2], gy = g[(bn * ho * wo + p) * 2 + 1];
                double px = align == 1 ? (gx + 1) / 2 * (w - 1) : ((gx + 1) * w - 1) / 2;
                double py = align == 1 ? (gy + 1) / 2 * (h - 1) : ((gy + 1) * h - 1) / 2;
                if (align == 0) { px = Math.Clamp(px, 0, w - 1); py = Math.Clamp(py, 0, h - 1); }
                expected[i] = a[c] * py + b[c] * px + d[c];
            }
            // Without align_corners the outer half pixel mixes in zeros: compare with border padding there.
            var bordered = Run("GridSample", 16, A(("align_corners", align), ("padding_mode", "border")), F64([n, ch, h, w], x), F64([n, ho, wo, 2], g));
            Close(expected, bordered, 1e-12);
            if (align == 1) Close(expected, y, 1e-12);
        }
    }

    [Fact]
    public void GridSampleIdentityGridAndConstantImages()
    {
        // With align_corners the grid of pixel centres returns the image for every mode.
        const int h = 3, w = 5;
        var x = Random(h * w, 60, type: ElementType.Double);
        var grid = new double[h * w * 2];
        for (int r = 0; r < h; r++)
            for (int c = 0; c < w; c++)
            {
                grid[(r * w + c) * 2] = -1 + 2.0 * c / (w - 1);
                grid[(r * w + c) * 2 + 1] = -1 + 2.0 * r / (h - 1);
            }
        foreach (var mode in new[] { "bilinear", "nearest", "bicubic" })
            Close(x, Run("GridSample", 16, A(("mode", mode), ("align_corners", 1L), ("padding_mode", "border")), F64([1, 1, h, w], x), F64([1, h, w, 2], grid)), 1e-12);
        // Bicubic weights sum to one: a constant image stays constant under border padding anywhere.
        var constant = Enumerable.Repeat(2.5, h * w).ToArray();
        var g = Random(2 * 9 * 2, 61, -3, 3, ElementType.Double);
        Close(Enumerable.Repeat(2.5, 18).ToArray(), Run("GridSample", 16, A(("mode", "bicubic"), ("padding_mode", "border")), F64([1, 1, h, w], constant), F64([1, 2, 9, 2], g)), 1e-12);
        Close(Enumerable.Repeat(2.5, 18).ToArray(), Run("GridSample", 16, A(("mode", "bicubic"), ("padding_mode", "reflection")), F64([1, 1, h, w], constant), F64([1, 2, 9, 2], g)), 1e-12);
    }

    [Fact]
    public void GridSampleBf16RoundsOnceAndRejectsBadShapes()
    {
        var x = Of(ElementType.BFloat16, [1, 1, 3, 2], 0, 1, 2, 3, 4, 5);
        var y = Run("GridSample", 16, null, x, ModeGrid);
        Assert.Equal(ElementType.BFloat16, y.Type);
        // The bilinear results in double (grid values are the f32 ones), rounded once.
        var g = D(ModeGrid);
        var expected = new double[8];
        for (int i = 0; i < 8; i++)
        {
            double px = ((g[2 * i] + 1) * 2 - 1) / 2, py = ((g[2 * i + 1] + 1) * 3 - 1) / 2;
            double x0 = Math.Floor(px), y0 = Math.Floor(py), tx = px - x0, ty = py - y0;
            double V(double r, double c) => r >= 0 && r < 3 && c >= 0 && c < 2 ? r * 2 + c : 0;
            expected[i] = V(y0, x0) * (1 - tx) * (1 - ty) + V(y0, x0 + 1) * tx * (1 - ty) + V(y0 + 1, x0) * (1 - tx) * ty + V(y0 + 1, x0 + 1) * tx * ty;
        }
        RoundedOnce(expected, y);
        Assert.Contains("4-D", Fails("GridSample", 16, null, F32([1, 1, 2], 1, 2), F32([1, 1, 1, 2], 0, 0)).Message);
        Assert.Contains("grid", Fails("GridSample", 16, null, Small, F32([1, 1, 1, 3], 0, 0, 0)).Message);
    }

    // ---- RoiAlign ----

    [Fact]
    public void RoiAlignAveragesBilinearSamplesOfALinearImage()
    {
        // Channel 0 is f = column, channel 1 is f = 2·row + 1 (image 2 of the batch is the negative), so the average
        // of the samples of a bin is the function at the bin's centre while the samples stay inside the image.
        const int h = 6, w = 8;
        var x = new double[2 * 2 * h * w];
        for (int i = 0; i < x.Length; i++)
        {
            int b = i / (2 * h * w), c = i / (h * w) % 2, r = i / w % h, col = i % w;
            double v = c == 0 ? col : 2 * r + 1;
            x[i] = b == 0 ? v : -v;
        }
        double[] rois = [1, 1.5, 5, 4, /* */ 0.5, 0.5, 6.5, 5];
        foreach (var halfPixel in new[] { false, true })
        {
            var y = Run("RoiAlign", 16, A(("output_height", 3L), ("output_width", 2L), ("sampling_ratio", 2L), ("spatial_scale", 1f),
                ("coordinate_transformation_mode", halfPixel ? "half_pixel" : "output_half_pixel")),
                F64([2, 2, h, w], x), F64([2, 4], rois), I64([2], 0, 1));
            Assert.Equal([2L, 2, 3, 2], y.Shape);
            var expected = new List<double>();
            for (int k = 0; k < 2; k++)
                for (int c = 0; c < 2; c++)
                    for (int ph = 0; ph < 3; ph++)
                        for (int pw = 0; pw < 2; pw++)
                        {
                            double off = halfPixel ? 0.5 : 0;
                            double x1 = rois[k * 4] - off, y1 = rois[k * 4 + 1] - off, x2 = rois[k * 4 + 2] - off, y2 = rois[k * 4 + 3] - off;
                            double cx = x1 + (pw + 0.5) * (x2 - x1) / 2, cy = y1 + (ph + 0.5) * (y2 - y1) / 3;
                            double v = c == 0 ? cx : 2 * cy + 1;
                            expected.Add(k == 0 ? v : -v);
                        }
            Close(expected, y, 1e-12);
        }
    }

    [Fact]
    public void RoiAlignMaxModeTakesTheLargestWeightedCorner()
    {
        // One sample at (0.5, 0.5): the corners 1, 2, 3, 4 weigh 0.25 each; avg = 2.5, ONNX Runtime's max = 0.25 · 4.
        var x = F32([1, 1, 2, 2], 1, 2, 3, 4);
        var roi = F32([1, 4], 0, 0, 1, 1);
        var attrs = (string mode) => A(("mode", mode), ("sampling_ratio", 1L), ("coordinate_transformation_mode", "output_half_pixel"));
        Assert.Equal([2.5], D(Run("RoiAlign", 16, attrs("avg"), x, roi, I64([1], 0))));
        Assert.Equal([1.0], D(Run("RoiAlign", 16, attrs("max"), x, roi, I64([1], 0))));
        // Opset 10 has no coordinate_transformation_mode and behaves as output_half_pixel.
        Assert.Equal([2.5], D(Run("RoiAlign", 10, A(("sampling_ratio", 1L)), x, roi, I64([1], 0))));
        // Opset 16's default is half_pixel: the sample moves to (0, 0).
        Assert.Equal([1.0], D(Run("RoiAlign", 16, A(("sampling_ratio", 1L)), x, roi, I64([1], 0))));
    }

    [Fact]
    public void RoiAlignSamplesOutsideTheImageReadZero()
    {
        var x = F32([1, 1, 2, 2], 1, 2, 3, 4);
        Assert.Equal([0.0, 0, 0, 0], D(Run("RoiAlign", 16, A(("output_height", 2L), ("output_width", 2L)), x, F32([1, 4], 10, 10, 14, 14), I64([1], 0))));
        // Adaptive sampling (ratio 0) over a ROI of 4 × 2 pixels with 1 × 1 output: ceil(4) × ceil(2) samples.
        var y = Run("RoiAlign", 16, A(("coordinate_transformation_mode", "output_half_pixel")), F32([1, 1, 1, 8], 0, 1, 2, 3, 4, 5, 6, 7), F32([1, 4], 2, -0.5f, 6, 1.5f), I64([1], 0));
        // Rows sampled at y = 0 and 1 (clamped to the single row); columns at 2.5, 3.5, 4.5, 5.5.
        Close([4.0], y, 1e-12);
    }

    [Fact]
    public void RoiAlignF16RoundsOnceAndRejectsBadInputs()
    {
        var x = Of(ElementType.Float16, [1, 1, 2, 3], 0.5, 1.25, -2, 3, 0.75, 1);
        var y = Run("RoiAlign", 16, A(("sampling_ratio", 1L), ("coordinate_transformation_mode", "output_half_pixel")), x, F32([1, 4], 0.25f, 0.125f, 1.25f, 1.125f), I64([1], 0));
        Assert.Equal(ElementType.Float16, y.Type);
        // The single sample sits at (y, x) = (0.625, 0.75).
        double sy = 0.625, sx = 0.75;
        double e = (1 - sy) * (1 - sx) * 0.5 + (1 - sy) * sx * 1.25 + sy * (1 - sx) * 3 + sy * sx * 0.75;
        RoundedOnce([e], y);
        Assert.Contains("batch_indices", Fails("RoiAlign", 16, null, x, F32([1, 4], 0, 0, 1, 1), I64([1], 1)).Message);
        Assert.Contains("rois", Fails("RoiAlign", 16, null, x, F32([1, 3], 0, 0, 1), I64([1], 0)).Message);
        Assert.Contains("mode", Declines("RoiAlign", 16, A(("mode", "sum"))));
        Assert.Contains("coordinate_transformation_mode", Declines("RoiAlign", 16, A(("coordinate_transformation_mode", "asymmetric"))));
    }

    // ---- LRN ----

    [Theory]
    [InlineData(3L)]
    [InlineData(4L)]
    [InlineData(1L)]
    public void LrnNormalisesOverNeighbouringChannels(long size)
    {
        long[] shape = [2, 5, 3, 1];
        var x = Random(30, 70 + (int)size, type: ElementType.Double);
        const float alpha = 0.02f, beta = 0.6f, bias = 1.5f;
        var y = Run("LRN", 13, A(("size", size), ("alpha", alpha), ("beta", beta), ("bias", bias)), F64(shape, x));
        var expected = new double[30];
        for (int i = 0; i < 30; i++)
        {
            var idx = Unflatten(i, shape);
            double sum = 0;
            for (long c = idx[1] - (long)Math.Floor((size - 1) / 2.0); c <= idx[1] + (long)Math.Ceiling((size - 1) / 2.0); c++)
            {
                if (c < 0 || c >= 5) continue;
                var j = (long[])idx.Clone();
                j[1] = c;
                sum += Math.Pow(x[Flatten(j, shape)], 2);
            }
            expected[i] = x[i] / Math.Pow(bias + (double)alpha / size * sum, beta);
        }
        Close(expected, y, 1e-14);
    }

    [Fact]
    public void LrnDefaultsAndBf16()
    {
        var x = Random(3 * 4, 80, type: ElementType.BFloat16);
        var y = Run("LRN", 1, A(("size", 3L)), Of(ElementType.BFloat16, [1, 3, 4], x));
        Assert.Equal(ElementType.BFloat16, y.Type);
        var expected = new double[12];
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < 4; i++)
            {
                double sum = 0;
                for (int k = Math.Max(0, c - 1); k <= Math.Min(2, c + 1); k++) sum += x[k * 4 + i] * x[k * 4 + i];
                expected[c * 4 + i] = x[c * 4 + i] / Math.Pow(1 + (double)1e-4f / 3 * sum, (double)0.75f);
            }
        RoundedOnce(expected, y);
        Assert.Contains("size", Declines("LRN", 13, null, F32([1, 1], 1)));
        Assert.Contains("size", Declines("LRN", 13, A(("size", 0L)), F32([1, 1], 1)));
    }

    // ---- MaxUnpool ----

    [Fact]
    public void MaxUnpoolScattersIntoTheInferredShape()
    {
        var y = Run("MaxUnpool", 11, A(("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 })),
            F32([1, 1, 2, 2], 1, 2, 3, 4), I64([1, 1, 2, 2], 5, 7, 13, 15));
        Assert.Equal([1L, 1, 4, 4], y.Shape);
        Assert.Equal([0.0, 0, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4], D(y));
        // 1-D with padding: (3 - 1)·2 - 1 - 1 + 2 = 4; the indices run over the whole [N, C, L] tensor.
        var p = Run("MaxUnpool", 9, A(("kernel_shape", new long[] { 2 }), ("strides", new long[] { 2 }), ("pads", new long[] { 1, 1 })),
            F64([1, 2, 3], 1, 2, 3, 4, 5, 6), I64([1, 2, 3], 0, 2, 3, 4, 5, 7));
        Assert.Equal([1L, 2, 4], p.Shape);
        Assert.Equal([1.0, 0, 2, 3, 4, 5, 0, 6], D(p));
    }

    [Fact]
    public void MaxUnpoolWithOutputShapeUsesItsLayout()
    {
        // MaxPool over a 5 × 5 input (kernel 2, stride 2) picks positions in the 5 × 5 layout, e.g. 6, 8, 16, 18.
        var y = Run("MaxUnpool", 11, A(("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 })),
            Of(ElementType.Float16, [1, 1, 2, 2], 5, 6, 7, 8), I64([1, 1, 2, 2], 6, 8, 16, 18), I64([4], 1, 1, 5, 5));
        Assert.Equal([1L, 1, 5, 5], y.Shape);
        Assert.Equal(ElementType.Float16, y.Type);
        var expected = new double[25];
        expected[6] = 5;
        expected[8] = 6;
        expected[16] = 7;
        expected[18] = 8;
        Assert.Equal(expected, D(y));
    }

    [Fact]
    public void MaxUnpoolRejectsBadIndicesAndShapes()
    {
        var attrs = A(("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 }));
        var x = F32([1, 1, 1, 1], 1);
        Assert.Contains("outside the output", Fails("MaxUnpool", 11, attrs, x, I64([1, 1, 1, 1], 4)).Message);
        Assert.Contains("outside the output", Fails("MaxUnpool", 11, attrs, x, I64([1, 1, 1, 1], -1)).Message);
        Assert.Contains("'I'", Fails("MaxUnpool", 11, attrs, x, I64([1, 1, 1], 0)).Message);
        Assert.Contains("output_shape", Fails("MaxUnpool", 11, attrs, x, I64([1, 1, 1, 1], 0), I64([3], 1, 1, 2)).Message);
        Assert.Contains("rank", Fails("MaxUnpool", 11, attrs, F32([1, 1, 1], 1), I64([1, 1, 1], 0)).Message);
        Assert.Contains("kernel_shape", Declines("MaxUnpool", 11, null, x));
        Assert.Contains("strides", Declines("MaxUnpool", 11, A(("kernel_shape", new long[] { 2 }), ("strides", new long[] { 0 })), x));
    }
}
