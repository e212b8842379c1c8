using Alloy.Runtime.Numerics;
using static Alloy.Runtime.Kernels.Reference.ElementwiseHelpers;

namespace Alloy.Runtime.Kernels.Reference;

/// <summary>The discrete Fourier transform by its definition, in double (O(n²); this is the reference).</summary>
internal static class Fourier
{
    /// <summary>
    /// X[m] = Σ_k x[k]·e^(∓2πi·km/n) for m in [0, outCount), where x holds the first n samples (shorter inputs are
    /// zero-padded by the caller). The inverse uses e^(+…) and divides by n. The angle is taken from km mod n, so
    /// large indices lose no accuracy.
    /// </summary>
    public static void Transform(ReadOnlySpan<double> re, ReadOnlySpan<double> im, long n, bool inverse, Span<double> outRe, Span<double> outIm)
    {
        double sign = inverse ? 1 : -1;
        for (long m = 0; m < outRe.Length; m++)
        {
            double sr = 0, si = 0;
            for (long k = 0; k < n; k++)
            {
                double angle = 2 * Math.PI * (k * m % n) / n;
                double c = Math.Cos(angle), s = sign * Math.Sin(angle);
                sr += re[(int)k] * c - im[(int)k] * s;
                si += re[(int)k] * s + im[(int)k] * c;
            }
            outRe[(int)m] = inverse ? sr / n : sr;
            outIm[(int)m] = inverse ? si / n : si;
        }
    }
}

/// <summary>
/// DFT. The input is [batch, n1, …, nk, 1] (real) or [..., 2] (complex, real and imaginary parts); the transform runs
/// along 'axis' (opset 17: attribute, default 1; opset 20: optional third input, default -2), which may be negative
/// (counted from the back) but never the last dimension. dft_length (optional second input) zero-pads or truncates
/// the signal; by default it is the axis length. 'inverse' computes the inverse transform (normalised by 1/n);
/// 'onesided' keeps the first dft_length/2 + 1 frequencies (real input only; not with 'inverse'). The output is
/// complex ([..., 2]) of the input's element type; arithmetic in double, one rounding on store.
/// </summary>
internal sealed class DftKernel(long axisAttribute, bool axisIsInput, bool inverse, bool onesided) : IKernel
{
    private const string Op = "DFT";

    public static IKernel? Create(KernelNode n, out string? reason)
    {
        reason = null;
        bool inverse = n.Attributes.GetInt("inverse", 0) != 0, onesided = n.Attributes.GetInt("onesided", 0) != 0;
        if (inverse && onesided)
        {
            reason = "DFT: 'inverse' together with 'onesided' (an inverse real FFT) is not supported";
            return null;
        }
        bool axisIsInput = !OpsetBefore(n, 20);
        if (axisIsInput && n.Attributes.Has("axis"))
        {
            reason = "DFT: from opset 20 the axis is the third input, not an attribute";
            return null;
        }
        return new DftKernel(n.Attributes.GetInt("axis", 1), axisIsInput, inverse, onesided);
    }

    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = Required(inputs, 0, Op, "input");
        CheckType(x, ElementTypeSet.Float, Op, "input");
        if (x.Rank < 2 || x.Shape[^1] is not (1 or 2))
            throw new KernelException($"{Op}: input must have shape [..., signal dims, 1 or 2] (real or complex), got {x.ShapeText}");
        bool complex = x.Shape[^1] == 2;
        if (onesided && complex) throw new KernelException($"{Op}: 'onesided' needs a real input (last dimension 1), got {x.ShapeText}");

        long axisValue = axisAttribute;
        if (axisIsInput) axisValue = Optional(inputs, 2) is { } a ? ReadScalarInt(a, Op, "axis") : -2;
        int axis = NormalizeAxis(axisValue, x.Rank, Op);
        if (axis == x.Rank - 1) throw new KernelException($"{Op}: axis {axisValue} names the last dimension, which holds the real / imaginary parts");

        long length = x.Shape[axis];
        long n = length;
        if (Optional(inputs, 1) is { } dl)
        {
            n = ReadScalarInt(dl, Op, "dft_length");
            if (n <= 0) throw new KernelException($"{Op}: input 'dft_length' is {n}, expected a positive length");
        }
        long outLength = onesided ? n / 2 + 1 : n;

        var shape = (long[])x.Shape.Clone();
        shape[axis] = outLength;
        shape[^1] = 2;
        long outer = Product(x.Shape.AsSpan(0, axis));
        long inner = Product(x.Shape.AsSpan(axis + 1, x.Rank - axis - 2)); // between the axis and the complex dim
        long parts = x.Shape[^1];
        var v = ElementConvert.ToDoubles(x);
        var result = new double[Product(shape)];
        var re = new double[n];
        var im = new double[n];
        var outRe = new double[outLength];
        var outIm = new double[outLength];
        for (long o = 0; o < outer; o++)
            for (long i = 0; i < inner; i++)
            {
                Array.Clear(re);
                Array.Clear(im);
                for (long k = 0; k < Math.Min(n, length); k++)
                {
                    long src = ((o * length + k) * inner + i) * parts;
                    re[k] = v[src];
                    im[k] = complex ? v[src + 1] : 0;
                }
                Fourier.Transform(re, im, n, inverse, outRe, outIm);
                for (long m = 0; m < outLength; m++)
                {
                    long dst = ((o * outLength + m) * inner + i) * 2;
                    result[dst] = outRe[m];
                    result[dst + 1] = outIm[m];
                }
            }
        outputs[0] = ElementConvert.FromDoubles(x.Type, shape, result);
    }
}

/// <summary>
/// STFT (opset 17). signal [batch, length, 1 or 2]; frame_step (scalar int); optional window [frame_length];
/// optional frame_length (scalar int; by default the window's length). frames = 1 + (length - frame_length) /
/// frame_step; frame f is the samples [f·step, f·step + frame_length) multiplied by the window (ones when absent) and
/// transformed with a DFT of length frame_length. 'onesided' (default 1) keeps frame_length/2 + 1 frequencies and
/// needs a real signal. Output [batch, frames, bins, 2] of the signal's element type; double arithmetic.
/// </summary>
internal sealed class StftKernel(bool onesided) : IKernel
{
    private const string Op = "STFT";

    public static IKernel? Create(KernelNode n, out string? reason)
    {
        reason = null;
        return new StftKernel(n.Attributes.GetInt("onesided", 1) != 0);
    }

    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = Required(inputs, 0, Op, "signal");
        CheckType(x, ElementTypeSet.Float, Op, "signal");
        if (x.Rank != 3 || x.Shape[2] is not (1 or 2))
            throw new KernelException($"{Op}: input 'signal' must have shape [batch, length, 1 or 2], got {x.ShapeText}");
        bool complex = x.Shape[2] == 2;
        if (onesided && complex) throw new KernelException($"{Op}: 'onesided' needs a real signal (last dimension 1), got {x.ShapeText}");
        long step = ReadScalarInt(Required(inputs, 1, Op, "frame_step"), Op, "frame_step");
        if (step <= 0) throw new KernelException($"{Op}: input 'frame_step' is {step}, expected a positive step");
        var window = Optional(inputs, 2);
        long frameLength;
        if (Optional(inputs, 3) is { } fl)
        {
            frameLength = ReadScalarInt(fl, Op, "frame_length");
            if (window is not null && (window.Rank != 1 || window.Shape[0] != frameLength))
                throw new KernelException($"{Op}: input 'window' has shape {window.ShapeText}, expected [{frameLength}] (frame_length)");
        }
        else if (window is not null)
        {
            if (window.Rank != 1) throw new KernelException($"{Op}: input 'window' must be 1-D, got {window.ShapeText}");
            frameLength = window.Shape[0];
        }
        else throw new KernelException($"{Op}: either 'window' or 'frame_length' must be given");
        if (window is not null) CheckType(window, ElementTypeSet.Float, Op, "window");
        long batch = x.Shape[0], length = x.Shape[1];
        if (frameLength <= 0 || frameLength > length)
            throw new KernelException($"{Op}: frame_length {frameLength} must be in [1, {length}] (the signal length)");

        long frames = 1 + (length - frameLength) / step;
        long bins = onesided ? frameLength / 2 + 1 : frameLength;
        var w = window is null ? Enumerable.Repeat(1.0, (int)frameLength).ToArray() : ElementConvert.ToDoubles(window);
        var v = ElementConvert.ToDoubles(x);
        long parts = x.Shape[2];
        var result = new double[batch * frames * bins * 2];
        var re = new double[frameLength];
        var im = new double[frameLength];
        var outRe = new double[bins];
        var outIm = new double[bins];
        for (long b = 0; b < batch; b++)
            for (long f = 0; f < frames; f++)
            {
                for (long k = 0; k < frameLength; k++)
                {
                    long src = (b * length + f * step + k) * parts;
                    re[k] = v[src] * w[k];
                    im[k] = complex ? v[src + 1] * w[k] : 0;
                }
                Fourier.Transform(re, im, frameLength, inverse: false, outRe, outIm);
                for (long m = 0; m < bins; m++)
                {
                    long dst = ((b * frames + f) * bins + m) * 2;
                    result[dst] = outRe[m];
                    result[dst + 1] = outIm[m];
                }
            }
        outputs[0] = ElementConvert.FromDoubles(x.Type, [batch, frames, bins, 2], result);
    }
}
