using Alloy.Runtime.Numerics;
using static Alloy.Runtime.Kernels.Reference.ElementwiseHelpers;

namespace Alloy.Runtime.Kernels.Reference;

/// <summary>
/// RoiAlign as ONNX Runtime and the ONNX reference compute it. X [N, C, H, W]; rois [R, 4] as (x1, y1, x2, y2) in
/// input coordinates scaled by spatial_scale; batch_indices [R] (int64). Output [R, C, output_height, output_width]
/// of X's element type. coordinate_transformation_mode 'half_pixel' (opset 16's default) shifts the scaled ROI by
/// -0.5; 'output_half_pixel' (the only behaviour before opset 16) does not, and forces ROIs to at least 1×1. Each
/// output bin is sampled on a sampling_ratio × sampling_ratio grid (adaptive ceil(roi size / bins) when 0); a sample
/// outside [-1, size] reads 0, otherwise it is clamped into the image and interpolated bilinearly. 'avg' averages the
/// samples; 'max' takes, as ONNX Runtime does, the maximum over samples of the largest of the four weighted corner
/// terms (not of the interpolated value). Computed in double, one rounding on store.
/// </summary>
internal sealed class RoiAlignKernel(bool max, bool halfPixel, long outH, long outW, long samplingRatio, double spatialScale) : IKernel
{
    private const string Op = "RoiAlign";

    public static IKernel? Create(KernelNode n, out string? reason)
    {
        reason = null;
        var a = n.Attributes;
        var mode = a.GetString("mode", "avg");
        if (mode is not ("avg" or "max"))
        {
            reason = $"{Op}: attribute 'mode' is '{mode}', expected avg or max";
            return null;
        }
        string ctm = OpsetBefore(n, 16) ? "output_half_pixel" : a.GetString("coordinate_transformation_mode", "half_pixel");
        if (ctm is not ("half_pixel" or "output_half_pixel"))
        {
            reason = $"{Op}: attribute 'coordinate_transformation_mode' is '{ctm}', expected half_pixel or output_half_pixel";
            return null;
        }
        long oh = a.GetInt("output_height", 1), ow = a.GetInt("output_width", 1), sr = a.GetInt("sampling_ratio", 0);
        if (oh <= 0 || ow <= 0 || sr < 0)
        {
            reason = $"{Op}: output_height ({oh}) and output_width ({ow}) must be positive and sampling_ratio ({sr}) non-negative";
            return null;
        }
        return new RoiAlignKernel(mode == "max", ctm == "half_pixel", oh, ow, sr, a.GetFloat("spatial_scale", 1f));
    }

    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = Required(inputs, 0, Op, "X");
        var rois = Required(inputs, 1, Op, "rois");
        var batchIndices = Required(inputs, 2, Op, "batch_indices");
        CheckType(x, ElementTypeSet.Float, Op, "X");
        CheckType(rois, ElementTypeSet.Float, Op, "rois");
        if (x.Rank != 4) throw new KernelException($"{Op}: input 'X' must have shape [N, C, H, W], got {x.ShapeText}");
        if (rois.Rank != 2 || rois.Shape[1] != 4) throw new KernelException($"{Op}: input 'rois' must have shape [num_rois, 4], got {rois.ShapeText}");
        long r = rois.Shape[0];
        if (batchIndices.Rank != 1 || batchIndices.Shape[0] != r)
            throw new KernelException($"{Op}: input 'batch_indices' must have shape [{r}], got {batchIndices.ShapeText}");
        var batch = ReadInts(batchIndices, Op, "batch_indices");
        long n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        if ((h == 0 || w == 0) && r > 0 && c > 0) throw new KernelException($"{Op}: input 'X' has an empty image ({x.ShapeText})");
        var v = ElementConvert.ToDoubles(x);
        var box = ElementConvert.ToDoubles(rois);
        var result = new double[r * c * outH * outW];
        double offset = halfPixel ? 0.5 : 0;
        for (long k = 0; k < r; k++)
        {
            if (batch[k] < 0 || batch[k] >= n)
                throw new KernelException($"{Op}: batch_indices[{k}] is {batch[k]}, outside [0, {n - 1}]");
            double x1 = box[k * 4] * spatialScale - offset, y1 = box[k * 4 + 1] * spatialScale - offset;
            double x2 = box[k * 4 + 2] * spatialScale - offset, y2 = box[k * 4 + 3] * spatialScale - offset;
            double roiW = x2 - x1, roiH = y2 - y1;
            if (!halfPixel)
            {
                roiW = Math.Max(roiW, 1);
                roiH = Math.Max(roiH, 1);
            }
            double binH = roiH / outH, binW = roiW / outW;
            long gridH = samplingRatio > 0 ? samplingRatio : (long)Math.Ceiling(roiH / outH);
            long gridW = samplingRatio > 0 ? samplingRatio : (long)Math.Ceiling(roiW / outW);
            long count = Math.Max(gridH * gridW, 1);
            for (long ch = 0; ch < c; ch++)
            {
                long plane = (batch[k] * c + ch) * h * w;
                for (long ph = 0; ph < outH; ph++)
                    for (long pw = 0; pw < outW; pw++)
                    {
                        double acc = 0;
                        bool first = true;
                        for (long iy = 0; iy < gridH; iy++)
                        {
                            double sy = y1 + ph * binH + (iy + 0.5) * binH / gridH;
                            for (long ix = 0; ix < gridW; ix++)
                            {
                                double sx = x1 + pw * binW + (ix + 0.5) * binW / gridW;
                                var (sum, largest) = Sample(v, plane, h, w, sy, sx);
                                if (!max) acc += sum;
                                else if (first || largest > acc) acc = largest;
                                first = false;
                            }
                        }
                        result[((k * c + ch) * outH + ph) * outW + pw] = max ? acc : acc / count;
                    }
            }
        }
        outputs[0] = ElementConvert.FromDoubles(x.Type, [r, c, outH, outW], result);
    }

    /// <summary>
    /// Bilinear interpolation at (y, x): the weighted sum of the four corners and the largest weighted corner term;
    /// both 0 for a sample outside [-1, size].
    /// </summary>
    private static (double Sum, double Largest) Sample(double[] v, long plane, long h, long w, double y, double x)
    {
        if (y < -1.0 || y > h || x < -1.0 || x > w) return (0, 0);
        y = Math.Max(y, 0);
        x = Math.Max(x, 0);
        long yLow = (long)y, xLow = (long)x, yHigh, xHigh;
        if (yLow >= h - 1) { yHigh = yLow = h - 1; y = yLow; }
        else yHigh = yLow + 1;
        if (xLow >= w - 1) { xHigh = xLow = w - 1; x = xLow; }
        else xHigh = xLow + 1;
        double ly = y - yLow, lx = x - xLow, hy = 1 - ly, hx = 1 - lx;
        double t1 = hy * hx * v[plane + yLow * w + xLow], t2 = hy * lx * v[plane + yLow * w + xHigh];
        double t3 = ly * hx * v[plane + yHigh * w + xLow], t4 = ly * lx * v[plane + yHigh * w + xHigh];
        return (t1 + t2 + t3 + t4, Math.Max(Math.Max(t1, t2), Math.Max(t3, t4)));
    }
}
