using Alloy.Runtime;
using Alloy.Runtime.Numerics;

namespace Alloy.Tuning;

/// <summary>
/// Built-in metrics: top-1 accuracy against labels, and fidelity of a candidate's outputs to the FP32 model's
/// over all outputs together: SQNR in dB (capped at <see cref="SqnrCeiling"/>; identical outputs reach it),
/// cosine similarity, largest absolute difference.
/// </summary>
public static class FidelityMetrics
{
    /// <summary>The SQNR of identical outputs, and the most any candidate scores.</summary>
    public const double SqnrCeiling = 100;

    /// <summary>Fraction of rows whose largest logit is at the label's index (logits [N, classes], labels N integers).</summary>
    public static double Top1(Tensor logits, Tensor labels)
    {
        if (logits.Rank != 2) throw new TuningException($"top-1 needs logits of shape [N, classes], the model gives {logits.ShapeText}");
        long n = logits.Shape[0], classes = logits.Shape[1];
        if (labels.Length != n) throw new TuningException($"there are {labels.Length} labels for {n} rows of data");
        if (classes == 0 || n == 0) throw new TuningException($"top-1 needs at least one row and one class, the model gives {logits.ShapeText}");
        var values = ElementConvert.ToDoubles(logits);
        var y = ElementConvert.ToLongs(labels);
        long correct = 0;
        for (long i = 0; i < n; i++)
        {
            long best = 0;
            for (long k = 1; k < classes; k++)
                if (values[i * classes + k] > values[i * classes + best]) best = k;
            if (best == y[i]) correct++;
        }
        return correct / (double)n;
    }

    /// <summary>10·log10(Σ ref² / Σ (ref − out)²), capped at <see cref="SqnrCeiling"/>; NaN outputs give −∞.</summary>
    public static double Sqnr(IReadOnlyList<Tensor> reference, IReadOnlyList<Tensor> actual)
    {
        double signal = 0, noise = 0;
        foreach (var (r, a) in Pairs(reference, actual))
            for (int i = 0; i < r.Length; i++)
            {
                signal += r[i] * r[i];
                double d = r[i] - a[i];
                noise += d * d;
            }
        if (double.IsNaN(noise) || double.IsInfinity(noise)) return double.NegativeInfinity;
        if (noise == 0) return SqnrCeiling;
        if (signal == 0) return double.NegativeInfinity;
        return Math.Min(SqnrCeiling, 10 * Math.Log10(signal / noise));
    }

    /// <summary>Cosine similarity of all outputs flattened together (1 = same direction).</summary>
    public static double Cosine(IReadOnlyList<Tensor> reference, IReadOnlyList<Tensor> actual)
    {
        double dot = 0, rr = 0, aa = 0;
        foreach (var (r, a) in Pairs(reference, actual))
            for (int i = 0; i < r.Length; i++)
            {
                dot += r[i] * a[i];
                rr += r[i] * r[i];
                aa += a[i] * a[i];
            }
        if (double.IsNaN(dot + rr + aa)) return double.NaN;
        if (rr == 0 && aa == 0) return 1;
        if (rr == 0 || aa == 0) return 0;
        return dot / Math.Sqrt(rr * aa);
    }

    /// <summary>The largest |ref − out| over all outputs (NaN when an output is NaN).</summary>
    public static double MaxAbs(IReadOnlyList<Tensor> reference, IReadOnlyList<Tensor> actual)
    {
        double worst = 0;
        foreach (var (r, a) in Pairs(reference, actual))
            for (int i = 0; i < r.Length; i++)
            {
                double d = Math.Abs(r[i] - a[i]);
                if (double.IsNaN(d)) return double.NaN;
                worst = Math.Max(worst, d);
            }
        return worst;
    }

    private static IEnumerable<(double[] Reference, double[] Actual)> Pairs(IReadOnlyList<Tensor> reference, IReadOnlyList<Tensor> actual)
    {
        if (reference.Count != actual.Count) throw new TuningException($"the candidate gives {actual.Count} outputs, the FP32 model {reference.Count}");
        for (int i = 0; i < reference.Count; i++)
        {
            if (!reference[i].Shape.AsSpan().SequenceEqual(actual[i].Shape))
                throw new TuningException($"output {i}: the candidate gives {actual[i].ShapeText}, the FP32 model {reference[i].ShapeText}");
            yield return (ElementConvert.ToDoubles(reference[i]), ElementConvert.ToDoubles(actual[i]));
        }
    }
}
