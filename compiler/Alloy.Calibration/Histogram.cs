namespace Alloy.Calibration;

/// <summary>
/// A fixed-range histogram of a tensor's values: <see cref="Absolute"/> counts |x| over [0, high]; otherwise x over
/// [low, high]. Values outside the range go to the edge bins (the range comes from the first pass, so none do).
/// </summary>
public sealed class Histogram
{
    public Histogram(double low, double high, int bins, bool absolute)
    {
        if (!(high >= low)) throw new ArgumentException($"histogram range [{low}, {high}] is empty");
        Low = low;
        High = high;
        Absolute = absolute;
        Counts = new long[bins];
        Width = high > low ? (high - low) / bins : 0;
    }

    public double Low { get; }
    public double High { get; }
    public bool Absolute { get; }
    public long[] Counts { get; }
    /// <summary>Width of one bin; 0 when every value was the same.</summary>
    public double Width { get; }
    public long Total { get; private set; }

    /// <summary>Elements exactly 0 (counted in their bin too): they quantize exactly whatever the range.</summary>
    public long Zeros { get; private set; }

    public int Bins => Counts.Length;

    public double LowerEdge(int bin) => Low + bin * Width;
    public double UpperEdge(int bin) => bin == Bins - 1 ? High : Low + (bin + 1) * Width;
    public double Center(int bin) => Low + (bin + 0.5) * Width;

    public void Add(ReadOnlySpan<float> values)
    {
        var counts = Counts;
        int last = counts.Length - 1;
        double scale = Width > 0 ? 1 / Width : 0;
        long added = 0, zeros = 0;
        foreach (var f in values)
        {
            if (!float.IsFinite(f)) continue;
            if (f == 0) zeros++;
            double x = Absolute ? Math.Abs(f) : f;
            double pos = (x - Low) * scale;
            int bin = pos <= 0 ? 0 : pos >= last ? (pos >= counts.Length ? last : (int)pos) : (int)pos;
            counts[bin]++;
            added++;
        }
        Total += added;
        Zeros += zeros;
    }
}
