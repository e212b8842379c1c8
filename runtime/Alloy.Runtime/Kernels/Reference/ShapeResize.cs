using Alloy.Runtime.Numerics;
using static Alloy.Runtime.Kernels.Reference.ShapeHelpers;

namespace Alloy.Runtime.Kernels.Reference;

internal static partial class ReferenceKernels
{
    static partial void RegisterResize(KernelRegistry r)
    {
        r.Register("Resize", ResizeKernel.Create);
        r.Register("Upsample", ResizeKernel.CreateUpsample);
    }
}

/// <summary>
/// Resize (opsets 10, 11, 13, 18, 19) and the deprecated Upsample (7, 9), following the ONNX reference
/// implementation: per axis, each output coordinate maps to an input coordinate (coordinate_transformation_mode),
/// whose n nearest input positions (edge-clamped) are weighted by the mode's coefficients (nearest, linear,
/// cubic, their antialiased forms when downsampling); the n-d result is the tensor product of the per-axis
/// weights, computed in double and stored once. Nearest copies elements, so it works for every element type;
/// linear and cubic need a numeric type (integer outputs round half to even and saturate).
/// </summary>
internal sealed class ResizeKernel : IKernel
{
    private string _mode = "nearest";
    private string _transform = "half_pixel";
    private string _nearestMode = "round_prefer_floor";
    private double _cubicA = -0.75;
    private bool _excludeOutside;
    private double _extrapolation;
    private bool _antialias;
    private string _aspectPolicy = "stretch";
    private long[]? _axes;
    private float[]? _scalesAttr;
    private int _scalesInput = 2, _sizesInput = 3, _roiInput = 1;

    private static readonly string[] Transforms =
        ["half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_crop_and_resize", "tf_half_pixel_for_nn"];

    public static IKernel? Create(KernelNode n, out string? reason)
    {
        reason = null;
        var a = n.Attributes;
        var k = new ResizeKernel
        {
            _mode = a.GetString("mode", "nearest"),
            _transform = n.Opset < 11 ? "asymmetric" : a.GetString("coordinate_transformation_mode", "half_pixel"),
            _nearestMode = n.Opset < 11 ? "floor" : a.GetString("nearest_mode", "round_prefer_floor"),
            _cubicA = a.GetFloat("cubic_coeff_a", -0.75f),
            _excludeOutside = a.GetInt("exclude_outside", 0) != 0,
            _extrapolation = a.GetFloat("extrapolation_value", 0f),
            _antialias = a.GetInt("antialias", 0) != 0,
            _aspectPolicy = a.GetString("keep_aspect_ratio_policy", "stretch"),
            _axes = a.GetInts("axes"),
        };
        if (n.Opset < 11)
        {
            k._scalesInput = 1;
            k._sizesInput = -1;
            k._roiInput = -1;
        }
        reason = k.Check();
        return reason is null ? k : null;
    }

    public static IKernel? CreateUpsample(KernelNode n, out string? reason)
    {
        reason = null;
        var k = new ResizeKernel
        {
            _mode = n.Attributes.GetString("mode", "nearest"),
            _transform = "asymmetric",
            _nearestMode = "floor",
            _scalesInput = n.Opset < 9 ? -1 : 1,
            _sizesInput = -1,
            _roiInput = -1,
        };
        if (k._mode == "bilinear") k._mode = "linear";
        if (n.Opset < 9)
            k._scalesAttr = n.Attributes.GetFloats("scales") ?? throw new KernelException("attribute 'scales' is required before opset 9");
        reason = k.Check();
        return reason is null ? k : null;
    }

    private string? Check()
    {
        if (_mode is not ("nearest" or "linear" or "cubic")) return $"mode '{_mode}' is not supported (nearest, linear, cubic)";
        if (!Transforms.Contains(_transform)) return $"coordinate_transformation_mode '{_transform}' is not supported";
        if (_nearestMode is not ("round_prefer_floor" or "round_prefer_ceil" or "floor" or "ceil")) return $"nearest_mode '{_nearestMode}' is not supported";
        if (_aspectPolicy is not ("stretch" or "not_larger" or "not_smaller")) return $"keep_aspect_ratio_policy '{_aspectPolicy}' is not supported";
        return null;
    }

    /// <summary>One input position and its weight; Index = -1 marks "use the extrapolation value".</summary>
    private readonly record struct Term(long Index, double Weight);

    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = In(inputs, 0, "X");
        int rank = x.Rank;
        var axes = _axes is null ? Enumerable.Range(0, rank).ToArray() : Axes(_axes, rank);
        double[]? scalesValues = _scalesAttr?.Select(v => (double)v).ToArray();
        if (_scalesInput >= 0 && Opt(inputs, _scalesInput) is { } st && st.Length > 0)
        {
            if (!st.Type.IsFloat()) throw new KernelException($"scales must be a float tensor, got {st.Type.Name()}");
            scalesValues = ElementConvert.ToDoubles(st);
        }
        long[]? sizesValues = _sizesInput >= 0 && Opt(inputs, _sizesInput) is { } sz && sz.Length > 0 ? Ints1D(sz, "sizes") : null;
        if (scalesValues is not null && sizesValues is not null) throw new KernelException("only one of 'scales' and 'sizes' may be given");
        if (scalesValues is null && sizesValues is null) throw new KernelException("one of 'scales' and 'sizes' is required");

        // Per-axis scale, output size and the "output width" the coordinate formulas use.
        var scale = Enumerable.Repeat(1.0, rank).ToArray();
        var outShape = (long[])x.Shape.Clone();
        var outWidth = x.Shape.Select(d => (double)d).ToArray();
        if (scalesValues is not null)
        {
            if (scalesValues.Length != axes.Length) throw new KernelException($"scales has {scalesValues.Length} entries for {axes.Length} axes");
            for (int i = 0; i < axes.Length; i++)
            {
                int d = axes[i];
                if (!(scalesValues[i] > 0)) throw new KernelException($"scale {scalesValues[i]} for axis {d} must be positive");
                scale[d] = scalesValues[i];
                outWidth[d] = scale[d] * x.Shape[d];
                outShape[d] = (long)Math.Floor(outWidth[d]);
            }
        }
        else
        {
            if (sizesValues!.Length != axes.Length) throw new KernelException($"sizes has {sizesValues.Length} entries for {axes.Length} axes");
            if (sizesValues.Any(v => v < 0)) throw new KernelException($"sizes {Text(sizesValues)} has a negative entry");
            if (_aspectPolicy == "stretch")
                for (int i = 0; i < axes.Length; i++)
                {
                    int d = axes[i];
                    outShape[d] = sizesValues[i];
                    outWidth[d] = sizesValues[i];
                    scale[d] = (double)sizesValues[i] / x.Shape[d];
                }
            else
            {
                var ratios = axes.Select((d, i) => (double)sizesValues[i] / x.Shape[d]).ToArray();
                double s = _aspectPolicy == "not_larger" ? ratios.Min() : ratios.Max();
                foreach (var d in axes)
                {
                    scale[d] = s;
                    outWidth[d] = s * x.Shape[d];
                    outShape[d] = (long)Math.Round(outWidth[d], MidpointRounding.ToEven);
                }
            }
        }

        // Region of interest (tf_crop_and_resize): starts then ends, for all axes or the listed ones.
        var roiStart = new double[rank];
        var roiEnd = Enumerable.Repeat(1.0, rank).ToArray();
        if (_transform == "tf_crop_and_resize")
        {
            var roiTensor = _roiInput >= 0 ? Opt(inputs, _roiInput) : null;
            if (roiTensor is null || roiTensor.Length == 0) throw new KernelException("tf_crop_and_resize needs the 'roi' input");
            var roi = ElementConvert.ToDoubles(roiTensor);
            if (roi.Length == 2 * rank)
                for (int d = 0; d < rank; d++) (roiStart[d], roiEnd[d]) = (roi[d], roi[rank + d]);
            else if (roi.Length == 2 * axes.Length)
                for (int i = 0; i < axes.Length; i++) (roiStart[axes[i]], roiEnd[axes[i]]) = (roi[i], roi[axes.Length + i]);
            else throw new KernelException($"roi has {roi.Length} entries, expected {2 * rank}");
        }

        // Per axis, per output coordinate: the weighted input positions.
        var terms = new Term[rank][][];
        for (int d = 0; d < rank; d++)
        {
            terms[d] = new Term[outShape[d]][];
            for (long o = 0; o < outShape[d]; o++)
                terms[d][o] = AxisTerms(o, x.Shape[d], outShape[d], outWidth[d], scale[d], roiStart[d], roiEnd[d]);
        }

        if (_mode == "nearest")
        {
            var strides = Strides(x.Shape);
            bool extrapolates = false;
            var map = Map(outShape, idx =>
            {
                long src = 0;
                for (int d = 0; d < rank; d++)
                {
                    var t = terms[d][idx[d]][0];
                    if (t.Index < 0)
                    {
                        extrapolates = true;
                        return -1;
                    }
                    src += t.Index * strides[d];
                }
                return src;
            });
            using var fill = extrapolates && x.Type != ElementType.String ? ScalarOf(x.Type, _extrapolation) : null;
            outputs[0] = Take(x, outShape, map, fill);
            return;
        }

        if (x.Type == ElementType.String || x.Type == ElementType.Bool)
            throw new KernelException($"mode '{_mode}' needs a numeric input, got {x.Type.Name()}");
        var data = ElementConvert.ToDoubles(x);
        var inStrides = Strides(x.Shape);
        var y = Tensor.Create(x.Type, outShape);
        ForEachIndex(outShape, (idx, k) =>
        {
            double v = Accumulate(data, terms, idx, inStrides, 0, 0, out bool extrapolate);
            Store(y, k, extrapolate ? _extrapolation : v);
        });
        outputs[0] = y;
    }

    /// <summary>Sum over the tensor product of the per-axis terms from axis <paramref name="d"/> on.</summary>
    private static double Accumulate(double[] data, Term[][][] terms, long[] idx, long[] strides, int d, long offset, out bool extrapolate)
    {
        extrapolate = false;
        if (d == idx.Length) return data[offset];
        double sum = 0;
        foreach (var t in terms[d][idx[d]])
        {
            if (t.Index < 0)
            {
                extrapolate = true;
                return 0;
            }
            sum += t.Weight * Accumulate(data, terms, idx, strides, d + 1, offset + t.Index * strides[d], out extrapolate);
            if (extrapolate) return 0;
        }
        return sum;
    }

    private static void Store(Tensor y, long k, double v)
    {
        if (y.Type.IsFloat())
        {
            ElementConvert.SetDouble(y, k, v);
            return;
        }
        double r = Math.Round(v, MidpointRounding.ToEven);
        var (lo, hi) = QuantRange.Of(y.Type);
        ElementConvert.SetLong(y, k, double.IsNaN(r) ? 0 : r <= lo ? (long)lo : r >= hi ? (long)hi : (long)r);
    }

    /// <summary>The input positions and weights for output coordinate <paramref name="o"/> of one axis.</summary>
    private Term[] AxisTerms(long o, long inSize, long outSize, double outWidth, double scale, double roiStart, double roiEnd)
    {
        double x = o;
        double xo;
        switch (_transform)
        {
            case "align_corners":
                xo = outWidth == 1 ? 0 : x * (inSize - 1) / (outWidth - 1);
                break;
            case "asymmetric":
                xo = x / scale;
                break;
            case "tf_crop_and_resize":
                xo = outWidth == 1 ? (roiEnd - roiStart) * (inSize - 1) / 2 : x * (roiEnd - roiStart) * (inSize - 1) / (outWidth - 1);
                xo += roiStart * (inSize - 1);
                if (xo < 0 || xo > inSize - 1) return [new Term(-1, 1)];
                break;
            case "pytorch_half_pixel":
                xo = outSize == 1 ? -0.5 : (x + 0.5) / scale - 0.5;
                break;
            case "half_pixel_symmetric":
                {
                    double adjustment = outSize / outWidth;
                    double center = inSize / 2.0;
                    xo = center * (1 - adjustment) + (x + 0.5) / scale - 0.5;
                    break;
                }
            case "tf_half_pixel_for_nn":
                xo = (x + 0.5) / scale;
                break;
            default: // half_pixel
                xo = (x + 0.5) / scale - 0.5;
                break;
        }
        if (inSize == 0) throw new KernelException("cannot resize an empty axis to a non-empty one");

        // The base position is the input index left of xo; an integer xo counts as ratio 1 from the one before.
        bool integral = xo == Math.Floor(xo);
        double baseIndex = integral ? xo - 1 : Math.Floor(xo);
        double ratio = xo - baseIndex;
        double[] coeffs = _mode switch
        {
            "nearest" => NearestCoeffs(ratio, integral),
            "linear" => _antialias && scale < 1 ? LinearAntialias(ratio, scale) : [1 - ratio, ratio],
            _ => _antialias && scale < 1 ? CubicAntialias(ratio, scale, _cubicA) : CubicCoeffs(ratio, _cubicA),
        };
        int n = coeffs.Length;

        // The n positions nearest xo in the edge-padded axis (pad n/2 each side), ties to the lower index.
        long pad = (n + 1) / 2;
        long start = (long)baseIndex + pad - (n / 2 - 1);
        start = Math.Clamp(start, 0, inSize + 2 * pad - n);
        var idx = new long[n];
        for (int t = 0; t < n; t++) idx[t] = start - pad + t;

        if (_excludeOutside)
        {
            double sum = 0;
            for (int t = 0; t < n; t++)
                if (idx[t] >= 0 && idx[t] < inSize) sum += coeffs[t];
            if (sum != 0) // every weight outside (nearest picking a padded position): keep the edge value
                for (int t = 0; t < n; t++) coeffs[t] = idx[t] < 0 || idx[t] >= inSize ? 0 : coeffs[t] / sum;
        }
        var result = new List<Term>(n);
        for (int t = 0; t < n; t++)
            if (coeffs[t] != 0) result.Add(new Term(Math.Clamp(idx[t], 0, inSize - 1), coeffs[t]));
        if (result.Count == 0) result.Add(new Term(Math.Clamp(idx[n / 2], 0, inSize - 1), 0));
        return [.. result];
    }

    private double[] NearestCoeffs(double ratio, bool integral)
    {
        if (integral) return [0, 1];
        bool up = _nearestMode switch
        {
            "round_prefer_floor" => ratio > 0.5,
            "round_prefer_ceil" => ratio >= 0.5,
            "floor" => false,
            _ => true,
        };
        return up ? [0, 1] : [1, 0];
    }

    private static double[] CubicCoeffs(double r, double A) =>
    [
        ((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A,
        ((A + 2) * r - (A + 3)) * r * r + 1,
        ((A + 2) * (1 - r) - (A + 3)) * (1 - r) * (1 - r) + 1,
        ((A * ((1 - r) + 1) - 5 * A) * ((1 - r) + 1) + 8 * A) * ((1 - r) + 1) - 4 * A,
    ];

    private static double[] LinearAntialias(double ratio, double scale)
    {
        long start = (long)Math.Floor(-1 / scale) + 1;
        long footprint = 2 - 2 * start;
        var c = new double[footprint];
        for (long i = 0; i < footprint; i++) c[i] = Math.Clamp(1 - Math.Abs((start + i - ratio) * scale), 0, 1);
        return Normalized(c);
    }

    private static double[] CubicAntialias(double ratio, double scale, double A)
    {
        long start = (long)Math.Floor(-2 / scale) + 1;
        long end = 2 - start;
        var c = new double[end - start];
        for (long i = start; i < end; i++)
        {
            double v = Math.Abs(scale * (i - ratio));
            c[i - start] = v <= 1 ? ((A + 2) * v - (A + 3)) * v * v + 1 : v < 2 ? ((A * v - 5 * A) * v + 8 * A) * v - 4 * A : 0;
        }
        return Normalized(c);
    }

    private static double[] Normalized(double[] c)
    {
        double sum = c.Sum();
        for (int i = 0; i < c.Length; i++) c[i] /= sum;
        return c;
    }
}
