using Alloy.Runtime.Numerics;
using static Alloy.Runtime.Kernels.Reference.ElementwiseHelpers;

namespace Alloy.Runtime.Kernels.Reference;

internal enum GridSampleMode { Linear, Nearest, Cubic }
internal enum GridSamplePadding { Zeros, Border, Reflection }

/// <summary>
/// GridSample on 4-D inputs, with PyTorch's grid_sample semantics (which the ONNX test data follows). X [N, C, H, W],
/// grid [N, H_out, W_out, 2] holding (x, y) in [-1, 1]; output [N, C, H_out, W_out] of X's element type.
/// A grid value g maps to the pixel coordinate ((g + 1)/2)·(size - 1) with align_corners, else ((g + 1)·size - 1)/2.
/// Bilinear and nearest first apply the padding to that coordinate (border: clamp to [0, size - 1]; reflection:
/// reflect about the borders — the pixel centres with align_corners, the image edges without — then clamp); taps
/// outside the image read 0. Nearest rounds half to even. Bicubic (A = -0.75) applies the padding to each of its 4×4
/// taps instead. Modes: opset 16 'bilinear' / 'nearest' / 'bicubic'; opset 20 'linear' / 'nearest' / 'cubic'.
/// Computed in double, one rounding on store.
/// </summary>
internal sealed class GridSampleKernel(GridSampleMode mode, GridSamplePadding padding, bool alignCorners) : IKernel
{
    private const string Op = "GridSample";

    public static IKernel? Create(KernelNode n, out string? reason)
    {
        reason = null;
        bool opset20 = !OpsetBefore(n, 20);
        var modeName = n.Attributes.GetString("mode", opset20 ? "linear" : "bilinear");
        GridSampleMode? mode = (modeName, opset20) switch
        {
            ("bilinear", false) or ("linear", true) => GridSampleMode.Linear,
            ("nearest", _) => GridSampleMode.Nearest,
            ("bicubic", false) or ("cubic", true) => GridSampleMode.Cubic,
            _ => null,
        };
        if (mode is null)
        {
            reason = $"{Op}: attribute 'mode' is '{modeName}', expected " + (opset20 ? "linear, nearest or cubic" : "bilinear, nearest or bicubic") + $" (opset {n.Opset})";
            return null;
        }
        var paddingName = n.Attributes.GetString("padding_mode", "zeros");
        GridSamplePadding? padding = paddingName switch
        {
            "zeros" => GridSamplePadding.Zeros,
            "border" => GridSamplePadding.Border,
            "reflection" => GridSamplePadding.Reflection,
            _ => null,
        };
        if (padding is null)
        {
            reason = $"{Op}: attribute 'padding_mode' is '{paddingName}', expected zeros, border or reflection";
            return null;
        }
        if (RejectsType(n, 1, ElementTypeSet.Float, "grid", out reason)) return null;
        return new GridSampleKernel(mode.Value, padding.Value, n.Attributes.GetInt("align_corners", 0) != 0);
    }

    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = Required(inputs, 0, Op, "X");
        var grid = Required(inputs, 1, Op, "grid");
        CheckType(x, ElementTypeSet.Numeric, Op, "X");
        CheckType(grid, ElementTypeSet.Float, Op, "grid");
        if (x.Rank != 4) throw new KernelException($"{Op}: only 4-D inputs [N, C, H, W] are supported, got X with shape {x.ShapeText}");
        if (grid.Rank != 4 || grid.Shape[0] != x.Shape[0] || grid.Shape[3] != 2)
            throw new KernelException($"{Op}: input 'grid' must have shape [{x.Shape[0]}, H_out, W_out, 2], got {grid.ShapeText}");
        long n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        long ho = grid.Shape[1], wo = grid.Shape[2];
        var v = ElementConvert.ToDoubles(x);
        var g = ElementConvert.ToDoubles(grid);
        var y = Tensor.Create(x.Type, [n, c, ho, wo]);
        for (long b = 0; b < n; b++)
            for (long i = 0; i < ho; i++)
                for (long j = 0; j < wo; j++)
                {
                    long gi = ((b * ho + i) * wo + j) * 2;
                    double px = Unnormalize(g[gi], w), py = Unnormalize(g[gi + 1], h);
                    for (long ch = 0; ch < c; ch++)
                    {
                        long plane = (b * c + ch) * h * w;
                        double value = mode switch
                        {
                            GridSampleMode.Linear => Bilinear(v, plane, h, w, Pad(px, w), Pad(py, h)),
                            GridSampleMode.Nearest => Read(v, plane, h, w, Math.Round(Pad(py, h), MidpointRounding.ToEven), Math.Round(Pad(px, w), MidpointRounding.ToEven)),
                            _ => Bicubic(v, plane, h, w, px, py),
                        };
                        ElementConvert.SetDouble(y, ((b * c + ch) * ho + i) * wo + j, value);
                    }
                }
        outputs[0] = y;
    }

    private double Unnormalize(double g, long size) =>
        alignCorners ? (g + 1) / 2 * (size - 1) : ((g + 1) * size - 1) / 2;

    /// <summary>Applies border / reflection padding to a pixel coordinate (zeros padding leaves it as is).</summary>
    private double Pad(double p, long size)
    {
        switch (padding)
        {
            case GridSamplePadding.Border:
                return Clamp(p, size);
            case GridSamplePadding.Reflection:
                p = alignCorners ? Reflect(p, 0, 2 * (size - 1)) : Reflect(p, -1, 2 * size - 1);
                return Clamp(p, size);
            default:
                return p;
        }
    }

    private static double Clamp(double p, long size) => double.IsNaN(p) ? p : Math.Clamp(p, 0, size - 1);

    /// <summary>Reflects p into [twiceLow/2, twiceHigh/2] (PyTorch's reflect_coordinates).</summary>
    private static double Reflect(double p, long twiceLow, long twiceHigh)
    {
        if (twiceLow == twiceHigh) return 0;
        double min = twiceLow / 2.0, span = (twiceHigh - twiceLow) / 2.0;
        p = Math.Abs(p - min);
        double extra = p % span;
        double flips = Math.Floor(p / span);
        return flips % 2 == 0 ? extra + min : span - extra + min;
    }

    /// <summary>The pixel at integer coordinates (row, col), or 0 outside the image.</summary>
    private static double Read(double[] v, long plane, long h, long w, double row, double col)
    {
        if (!(row >= 0 && row < h && col >= 0 && col < w)) return 0;
        return v[plane + (long)row * w + (long)col];
    }

    private static double Bilinear(double[] v, long plane, long h, long w, double px, double py)
    {
        double x0 = Math.Floor(px), y0 = Math.Floor(py);
        double tx = px - x0, ty = py - y0;
        return Read(v, plane, h, w, y0, x0) * (1 - tx) * (1 - ty) + Read(v, plane, h, w, y0, x0 + 1) * tx * (1 - ty)
             + Read(v, plane, h, w, y0 + 1, x0) * (1 - tx) * ty + Read(v, plane, h, w, y0 + 1, x0 + 1) * tx * ty;
    }

    private double Bicubic(double[] v, long plane, long h, long w, double px, double py)
    {
        double x0 = Math.Floor(px), y0 = Math.Floor(py);
        var cx = CubicWeights(px - x0);
        var cy = CubicWeights(py - y0);
        double sum = 0;
        for (int r = 0; r < 4; r++)
        {
            double row = 0;
            for (int k = 0; k < 4; k++)
                row += cx[k] * Read(v, plane, h, w, Math.Truncate(Pad(y0 - 1 + r, h)), Math.Truncate(Pad(x0 - 1 + k, w)));
            sum += cy[r] * row;
        }
        return sum;
    }

    /// <summary>Keys' cubic convolution weights (A = -0.75) of the taps at offsets -1, 0, 1, 2 for fraction t.</summary>
    private static double[] CubicWeights(double t)
    {
        const double A = -0.75;
        static double Near(double d) => ((A + 2) * d - (A + 3)) * d * d + 1;       // |d| <= 1
        static double Far(double d) => ((A * d - 5 * A) * d + 8 * A) * d - 4 * A; // 1 < |d| < 2
        return [Far(t + 1), Near(t), Near(1 - t), Far(2 - t)];
    }
}
