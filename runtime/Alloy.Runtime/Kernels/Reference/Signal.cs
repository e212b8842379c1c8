using Alloy.Runtime.Numerics;
using static Alloy.Runtime.Kernels.Reference.ElementwiseHelpers;

namespace Alloy.Runtime.Kernels.Reference;

/// <summary>
/// Signal family: HannWindow, HammingWindow, BlackmanWindow, MelWeightMatrix (opset 17), DFT (opsets 17 and 20),
/// STFT (opset 17), and Det (opset 11; a matrix function that belongs to no other family here).
/// </summary>
internal static partial class ReferenceKernels
{
    static partial void RegisterSignal(KernelRegistry r)
    {
        r.Register("HannWindow", (KernelNode n, out string? reason) => WindowKernel.Create(n, WindowKind.Hann, out reason));
        r.Register("HammingWindow", (KernelNode n, out string? reason) => WindowKernel.Create(n, WindowKind.Hamming, out reason));
        r.Register("BlackmanWindow", (KernelNode n, out string? reason) => WindowKernel.Create(n, WindowKind.Blackman, out reason));
        r.Register("MelWeightMatrix", (KernelNode n, out string? reason) => MelWeightMatrixKernel.Create(n, out reason));
        r.Register("DFT", (KernelNode n, out string? reason) => DftKernel.Create(n, out reason));
        r.Register("STFT", (KernelNode n, out string? reason) => StftKernel.Create(n, out reason));
        r.Register("Det", (KernelNode n, out string? reason) => DetKernel.Create(n, out reason));
    }
}

internal enum WindowKind { Hann, Hamming, Blackman }

/// <summary>Reading the signal ops' scalar inputs and their 'output_datatype' attribute.</summary>
internal static class SignalHelpers
{
    /// <summary>The element types 'output_datatype' may name (the windows' and MelWeightMatrix's T2).</summary>
    public static bool IsNumericOutput(ElementType t) => (t.IsFloat() && t.Bits() >= 16) || (t.IsInteger() && t.Bits() >= 8);

    /// <summary>The 'output_datatype' attribute (default float), or null with a reason when it names an unsupported type.</summary>
    public static ElementType? OutputType(KernelNode n, out string? reason)
    {
        reason = null;
        long code = n.Attributes.GetInt("output_datatype", (long)ElementType.Float);
        var t = (ElementType)code;
        if (!Enum.IsDefined(t) || !IsNumericOutput(t))
        {
            reason = $"{n.OpType}: attribute 'output_datatype' is {code}, expected an ONNX numeric type (a float type of 16 bits or more, or an integer type)";
            return null;
        }
        return t;
    }

    /// <summary>A scalar (rank 0 or one element) float input, widened to double.</summary>
    public static double ReadScalarFloat(Tensor t, string op, string name)
    {
        if (!t.Type.IsFloat()) throw new KernelException($"{op}: input '{name}' is {t.Type.Name()}, expected a floating-point type");
        if (t.Length != 1 || t.Rank > 1) throw new KernelException($"{op}: input '{name}' must be a scalar, it has shape {t.ShapeText}");
        return ElementConvert.GetDouble(t, 0);
    }
}

/// <summary>
/// The generalised cosine windows: w[k] = a0 - a1·cos(2πk/N) + a2·cos(4πk/N), k in [0, size), with N = size when
/// 'periodic' (default 1) and size - 1 otherwise. Hann: a0 = a1 = 0.5; Hamming: a0 = 25/46, a1 = 21/46; Blackman:
/// a0 = 0.42, a1 = 0.5, a2 = 0.08. A symmetric window of size 1 is [1] (as numpy's and scipy's windows are; the
/// formula would divide by zero). The size is a scalar int32 / int64 input; the element type comes from
/// 'output_datatype' (default float), each value rounded once from double.
/// </summary>
internal sealed class WindowKernel(string op, WindowKind kind, bool periodic, ElementType outType) : IKernel
{
    public static IKernel? Create(KernelNode n, WindowKind kind, out string? reason)
    {
        if (SignalHelpers.OutputType(n, out reason) is not { } t) return null;
        return new WindowKernel(n.OpType, kind, n.Attributes.GetInt("periodic", 1) != 0, t);
    }

    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        long size = ReadScalarInt(Required(inputs, 0, op, "size"), op, "size");
        if (size < 0) throw new KernelException($"{op}: input 'size' is {size}, expected a non-negative window length");
        var (a0, a1, a2) = kind switch
        {
            WindowKind.Hann => (0.5, 0.5, 0.0),
            WindowKind.Hamming => (25.0 / 46.0, 21.0 / 46.0, 0.0),
            _ => (0.42, 0.5, 0.08),
        };
        long denominator = periodic ? size : size - 1;
        var y = Tensor.Create(outType, [size]);
        for (long k = 0; k < size; k++)
        {
            double v = denominator == 0 ? 1.0 : a0 - a1 * Math.Cos(2 * Math.PI * k / denominator) + a2 * Math.Cos(4 * Math.PI * k / denominator);
            ElementConvert.SetDouble(y, k, v);
        }
        outputs[0] = y;
    }
}

/// <summary>
/// MelWeightMatrix: a [dft_length/2 + 1, num_mel_bins] matrix of triangular filters, computed as the ONNX reference
/// does: num_mel_bins + 2 points evenly spaced in mel (mel = 2595·log10(1 + hz/700)) from lower_edge_hertz to
/// upper_edge_hertz with step (high - low) / (num_mel_bins + 2), each mapped back to hertz and to the spectrogram bin
/// floor((dft_length + 1)·hz / sample_rate); filter i rises linearly from bin[i] to 1 at bin[i+1] and falls to 0 at
/// bin[i+2] (a filter whose rising edge is empty is 1 at its centre). Computed in double; element type from
/// 'output_datatype' (default float).
/// </summary>
internal sealed class MelWeightMatrixKernel(ElementType outType) : IKernel
{
    private const string Op = "MelWeightMatrix";

    public static IKernel? Create(KernelNode n, out string? reason) =>
        SignalHelpers.OutputType(n, out reason) is { } t ? new MelWeightMatrixKernel(t) : null;

    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        long bins = ReadScalarInt(Required(inputs, 0, Op, "num_mel_bins"), Op, "num_mel_bins");
        long dftLength = ReadScalarInt(Required(inputs, 1, Op, "dft_length"), Op, "dft_length");
        long sampleRate = ReadScalarInt(Required(inputs, 2, Op, "sample_rate"), Op, "sample_rate");
        double lower = SignalHelpers.ReadScalarFloat(Required(inputs, 3, Op, "lower_edge_hertz"), Op, "lower_edge_hertz");
        double upper = SignalHelpers.ReadScalarFloat(Required(inputs, 4, Op, "upper_edge_hertz"), Op, "upper_edge_hertz");
        if (bins <= 0) throw new KernelException($"{Op}: input 'num_mel_bins' is {bins}, expected a positive count");
        if (dftLength <= 0) throw new KernelException($"{Op}: input 'dft_length' is {dftLength}, expected a positive length");
        if (sampleRate <= 0) throw new KernelException($"{Op}: input 'sample_rate' is {sampleRate}, expected a positive rate");
        if (!(lower >= 0) || !(upper >= lower))
            throw new KernelException($"{Op}: the edges must satisfy 0 <= lower_edge_hertz <= upper_edge_hertz, got {lower} and {upper}");
        long spectrogramBins = dftLength / 2 + 1;

        double lowMel = 2595 * Math.Log10(1 + lower / 700);
        double highMel = 2595 * Math.Log10(1 + upper / 700);
        double step = (highMel - lowMel) / (bins + 2);
        var points = new long[bins + 2];
        for (long i = 0; i < bins + 2; i++)
        {
            double hz = 700 * (Math.Pow(10, (i * step + lowMel) / 2595) - 1);
            points[i] = (long)Math.Floor((dftLength + 1) * hz / sampleRate);
            if (points[i] < 0 || points[i] >= spectrogramBins)
                throw new KernelException($"{Op}: mel point {i} ({hz} Hz) falls on spectrogram bin {points[i]}, outside [0, {spectrogramBins - 1}] " +
                    "(upper_edge_hertz must not exceed sample_rate / 2)");
        }

        var w = new double[spectrogramBins * bins];
        for (long i = 0; i < bins; i++)
        {
            long left = points[i], centre = points[i + 1], right = points[i + 2];
            if (centre == left) w[centre * bins + i] = 1;
            else
                for (long j = left; j <= centre; j++) w[j * bins + i] = (double)(j - left) / (centre - left);
            if (right > centre)
                for (long j = centre; j < right; j++) w[j * bins + i] = (double)(right - j) / (right - centre);
        }
        outputs[0] = ElementConvert.FromDoubles(outType, [spectrogramBins, bins], w);
    }
}
