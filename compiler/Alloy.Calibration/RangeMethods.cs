using Alloy.Passes.Precision;

namespace Alloy.Calibration;

/// <summary>Turns a tensor's statistics into its calibrated range, by method.</summary>
public static class RangeMethods
{
    /// <summary>Quantized levels the entropy method compares against (as TensorRT and ONNX Runtime do).</summary>
    public const int EntropyLevels = 128;

    /// <summary>The entropy method tries every this many bins as a threshold.</summary>
    public const int EntropyStride = 4;

    /// <summary>Whether <paramref name="method"/> needs the histogram pass, and of which kind (absolute values or signed).</summary>
    public static bool NeedsHistogram(CalibrationMethod method, out bool absolute)
    {
        absolute = method is CalibrationMethod.Entropy or CalibrationMethod.Mse;
        return method != CalibrationMethod.MinMax;
    }

    public static ValueRange Range(TensorStatistics s, CalibrationOptions options)
    {
        if (s.Count == 0) return new ValueRange(0, 0);
        if (options.Method == CalibrationMethod.MinMax || s.Histogram is not { Width: > 0 } h) return new ValueRange(s.Min, s.Max);
        return options.Method switch
        {
            CalibrationMethod.Percentile => Percentile(h, options.Percentile, s.Min, s.Max),
            CalibrationMethod.Entropy => Clip(s, EntropyThreshold(h)),
            _ => Clip(s, MseThreshold(h, s.Min < 0)),
        };
    }

    /// <summary>The observed range clipped to [−t, t].</summary>
    private static ValueRange Clip(TensorStatistics s, double t) => new(Math.Max(s.Min, -t), Math.Min(s.Max, t));

    /// <summary>
    /// Lower and upper percentile from a signed histogram: the lower edge of the first bin whose cumulative count
    /// exceeds (100 − p)% of the values, the upper edge of the first bin whose cumulative count reaches p%. The exact
    /// percentiles lie within one bin width inside the result.
    /// </summary>
    public static ValueRange Percentile(Histogram h, double p, double min, double max)
    {
        if (h.Absolute) throw new ArgumentException("the percentile method needs a signed histogram");
        double total = h.Total;
        double lowCount = (100 - p) / 100 * total, highCount = p / 100 * total;
        double lo = min, hi = max;
        long cum = 0;
        bool haveLow = false;
        for (int b = 0; b < h.Bins; b++)
        {
            cum += h.Counts[b];
            if (!haveLow && cum > lowCount)
            {
                lo = Math.Max(min, h.LowerEdge(b));
                haveLow = true;
            }
            if (cum >= highCount && cum > 0)
            {
                hi = Math.Min(max, h.UpperEdge(b));
                break;
            }
        }
        return new ValueRange(lo, hi);
    }

    /// <summary>
    /// The threshold t (an upper bin edge of an absolute-value histogram) minimising KL(P‖Q), where P is the
    /// histogram up to t with everything beyond folded into its last bin, and Q is the part up to t merged into
    /// <see cref="EntropyLevels"/> levels and spread back evenly over the bins that were not empty. Exact zeros are
    /// left out: they quantize exactly whatever t is (the spike of a Relu output would otherwise pull t down).
    /// </summary>
    public static double EntropyThreshold(Histogram h)
    {
        if (!h.Absolute) throw new ArgumentException("the entropy method needs an absolute-value histogram");
        int n = h.Bins;
        var counts = WithoutZeros(h);
        var p = new double[n];
        var q = new double[n];
        double bestKl = double.PositiveInfinity;
        int best = n;
        long tail = 0;
        var suffix = new long[n + 1];
        for (int b = n - 1; b >= 0; b--) suffix[b] = suffix[b + 1] + counts[b];
        for (int i = EntropyLevels; i <= n; i = i == n ? n + 1 : Math.Min(n, i + EntropyStride))
        {
            tail = suffix[i];
            double pSum = 0;
            for (int b = 0; b < i; b++) { p[b] = counts[b]; pSum += p[b]; }
            p[i - 1] += tail;
            pSum += tail;
            if (pSum == 0) continue;
            double qSum = 0;
            for (int j = 0; j < EntropyLevels; j++)
            {
                int start = (int)((long)j * i / EntropyLevels), end = (int)((long)(j + 1) * i / EntropyLevels);
                double sum = 0;
                int nonzero = 0;
                for (int b = start; b < end; b++)
                {
                    sum += counts[b];
                    if (counts[b] != 0) nonzero++;
                }
                double each = nonzero == 0 ? 0 : sum / nonzero;
                for (int b = start; b < end; b++)
                {
                    q[b] = counts[b] != 0 ? each : 0;
                    qSum += q[b];
                }
            }
            double kl = 0;
            for (int b = 0; b < i; b++)
            {
                if (p[b] == 0) continue;
                double pv = p[b] / pSum;
                double qv = qSum > 0 && q[b] > 0 ? q[b] / qSum : 1e-12;
                kl += pv * Math.Log(pv / qv);
            }
            if (kl < bestKl)
            {
                bestKl = kl;
                best = i;
            }
        }
        return h.UpperEdge(best - 1);
    }

    /// <summary>
    /// The threshold t (an upper bin edge of an absolute-value histogram) minimising the expected squared error of
    /// 8-bit uniform quantization over [0, t] (or [−t, t] when the tensor has negative values): Δ²/12 per value
    /// inside, (|x| − t)² per value clipped, with Δ = width / 255. Exact zeros are left out (they have no error).
    /// </summary>
    public static double MseThreshold(Histogram h, bool signed)
    {
        if (!h.Absolute) throw new ArgumentException("the MSE method needs an absolute-value histogram");
        int n = h.Bins;
        // Suffix sums of c, c·x and c·x² over bin centers.
        var s0 = new double[n + 1];
        var s1 = new double[n + 1];
        var s2 = new double[n + 1];
        var counts = WithoutZeros(h);
        for (int b = n - 1; b >= 0; b--)
        {
            double c = counts[b], x = h.Center(b);
            s0[b] = s0[b + 1] + c;
            s1[b] = s1[b + 1] + c * x;
            s2[b] = s2[b + 1] + c * x * x;
        }
        double bestErr = double.PositiveInfinity;
        int best = n;
        for (int i = 1; i <= n; i++)
        {
            double t = h.UpperEdge(i - 1);
            double step = (signed ? 2 * t : t) / 255;
            double inside = s0[0] - s0[i];
            double clipped = s2[i] - 2 * t * s1[i] + t * t * s0[i];
            double err = inside * step * step / 12 + clipped;
            if (err < bestErr)
            {
                bestErr = err;
                best = i;
            }
        }
        return h.UpperEdge(best - 1);
    }

    private static long[] WithoutZeros(Histogram h)
    {
        var counts = (long[])h.Counts.Clone();
        counts[0] -= Math.Min(counts[0], h.Zeros);
        return counts;
    }
}
