namespace Alloy.Runtime.OneDnn.Convolution;

/// <summary>
/// One 2-D convolution's sizes: batch N, input channels C, input H×W, output channels M, groups, kernel KH×KW,
/// strides, dilations (1 = dense), padding (top, left, bottom, right) and the output OH×OW.
/// </summary>
internal readonly record struct ConvolutionShape(
    long N, long C, long H, long W, long M, long Group, long KH, long KW, long SH, long SW, long DH, long DW,
    long PadTop, long PadLeft, long PadBottom, long PadRight, long OH, long OW)
{
    /// <summary>
    /// The shape of a convolution of x [N, C, H, W] by w [M, C/group, KH, KW]; null when the operands do not fit each
    /// other or the attributes (the managed kernel then reports the error).
    /// </summary>
    public static ConvolutionShape? From(ConvolutionAttributes a, ReadOnlySpan<long> x, ReadOnlySpan<long> w)
    {
        if (x.Length != 4 || w.Length != 4) return null;
        long n = x[0], c = x[1], h = x[2], wd = x[3], m = w[0], cg = w[1], kh = w[2], kw = w[3], g = a.Group;
        if (c != cg * g || m % g != 0 || m == 0 || n == 0 || h == 0 || wd == 0) return null;
        if (a.KernelShape is { } ks && (ks[0] != kh || ks[1] != kw)) return null;
        long sh = a.Strides?[0] ?? 1, sw = a.Strides?[1] ?? 1, dh = a.Dilations?[0] ?? 1, dw = a.Dilations?[1] ?? 1;
        var (pt, pb, oh) = Axis(a, h, kh, sh, dh, 0);
        var (pl, pr, ow) = Axis(a, wd, kw, sw, dw, 1);
        if (oh < 1 || ow < 1) return null;
        return new ConvolutionShape(n, c, h, wd, m, g, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, oh, ow);
    }

    private static (long Begin, long End, long Out) Axis(ConvolutionAttributes a, long size, long k, long s, long d, int axis)
    {
        long extent = (k - 1) * d + 1;
        switch (a.AutoPad)
        {
            case "VALID":
                return (0, 0, (size - extent) / s + 1);
            case "SAME_UPPER" or "SAME_LOWER":
            {
                long outSize = (size + s - 1) / s;
                long total = Math.Max(0, (outSize - 1) * s + extent - size);
                long begin = a.AutoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
                return (begin, total - begin, outSize);
            }
            default:
            {
                long begin = a.Pads?[axis] ?? 0, end = a.Pads?[axis + 2] ?? 0;
                long span = size + begin + end - extent;
                return (begin, end, span < 0 ? 0 : span / s + 1);
            }
        }
    }
}
