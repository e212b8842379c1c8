namespace Alloy.Testing;

/// <summary>How close two runs' outputs are: cosine similarity of flattened outputs and top-1 accuracy of logits.</summary>
public static class OutputAgreement
{
    /// <summary>The cosine of the angle between <paramref name="a"/> and <paramref name="b"/>, summed in double.</summary>
    public static double Cosine(float[] a, float[] b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"outputs of {a.Length} and {b.Length} values cannot be compared");
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
            na += (double)a[i] * a[i];
            nb += (double)b[i] * b[i];
        }
        return dot / Math.Sqrt(na * nb);
    }

    /// <summary>The fraction of rows of <paramref name="logits"/> whose largest value (first on ties) is at the label.</summary>
    public static double Top1(float[] logits, long[] labels)
    {
        int classes = logits.Length / labels.Length, hits = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            int best = 0;
            for (int c = 1; c < classes; c++)
                if (logits[i * classes + c] > logits[i * classes + best]) best = c;
            if (best == labels[i]) hits++;
        }
        return hits / (double)labels.Length;
    }
}
