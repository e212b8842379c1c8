namespace Alloy.Calibration;

/// <summary>Running statistics of one tensor over the calibration batches: element count, min, max and non-finite count.</summary>
public sealed class TensorStatistics(string name)
{
    public string Name { get; } = name;
    public long Count { get; private set; }
    public double Min { get; private set; } = double.PositiveInfinity;
    public double Max { get; private set; } = double.NegativeInfinity;
    /// <summary>NaN and ±Inf elements seen (left out of every statistic).</summary>
    public long NonFinite { get; private set; }
    public double MaxAbs => Math.Max(Math.Abs(Min), Math.Abs(Max));

    /// <summary>The histogram of the second pass (null for min-max calibration).</summary>
    public Histogram? Histogram { get; set; }

    public void Observe(ReadOnlySpan<float> values)
    {
        float lo = float.PositiveInfinity, hi = float.NegativeInfinity;
        long bad = 0;
        foreach (var v in values)
        {
            if (!float.IsFinite(v)) { bad++; continue; }
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
        Count += values.Length - bad;
        NonFinite += bad;
        if (lo < Min) Min = lo;
        if (hi > Max) Max = hi;
    }
}
