using Alloy.IR;
using Xunit;
using Alloy.Passes.Precision;

namespace Alloy.Passes.Tests.Precision;

/// <summary>The constant scan of mark-* (largest magnitude, integrality, non-finite values) against an element-by-element reference.</summary>
public class TensorScanTests
{
    private static TensorFacts Reference(float[] values)
    {
        double max = 0;
        bool integral = true;
        foreach (var f in values)
        {
            if (!float.IsFinite(f)) return new TensorFacts(double.PositiveInfinity, false);
            max = Math.Max(max, Math.Abs((double)f));
            integral &= MathF.Floor(f) == f;
        }
        return new TensorFacts(max, integral);
    }

    private static TensorConstant Constant(float[] values)
    {
        var bytes = new byte[values.Length * 4];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        return new TensorConstant(DataType.Float, [values.Length], new ArrayTensorData(bytes));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(64)]
    [InlineData(100)]
    [InlineData(1000)]
    public void MatchesTheElementwiseReference(int length)
    {
        var rng = new Random(length);
        for (int trial = 0; trial < 40; trial++)
        {
            var values = new float[length];
            bool integers = trial % 2 == 0;
            for (int i = 0; i < length; i++)
                values[i] = integers ? rng.Next(-300, 300) : (float)(rng.NextDouble() * 600 - 300);
            if (length > 0)
            {
                int at = rng.Next(length);
                switch (trial % 8)
                {
                    case 1: values[at] = float.NaN; break;
                    case 3: values[at] = float.NegativeInfinity; break;
                    case 5: values[at] = 0.5f; break;
                    case 6: values[at] = -1e30f; break;
                    case 7: values[at] = -0.0f; break;
                }
            }
            Assert.Equal(Reference(values), TensorScan.Scan(Constant(values)));
        }
    }
}
