using Alloy.Runtime.Numerics;
using Xunit;
using static Alloy.Runtime.Tests.Kernels.ShapeTestKit;

namespace Alloy.Runtime.Tests.Kernels;

public sealed class ShapeResizeTests
{
    private static Tensor Scales(params float[] s) => F32([s.Length], s);

    [Fact]
    public void LinearHalfPixelUpsample()
    {
        var y = Run("Resize", 13, A(("mode", "linear")), F32([1, 4], 1, 2, 3, 4), null, Scales(1, 2));
        AssertShape([1, 8], y);
        Close([1, 1.25, 1.75, 2.25, 2.75, 3.25, 3.75, 4], D(y));
    }

    [Fact]
    public void BilinearAlignCornersMatchesTheFormula()
    {
        double F(long i, long j) => i * i + 3 * j;
        var data = new float[9];
        for (int i = 0; i < 3; i++) for (int j = 0; j < 3; j++) data[i * 3 + j] = (float)F(i, j);
        var y = Run("Resize", 13, A(("mode", "linear"), ("coordinate_transformation_mode", "align_corners")),
            F32([1, 1, 3, 3], data), null, null, I64(1, 1, 5, 5));
        var expected = new double[25];
        for (int o = 0; o < 5; o++)
            for (int p = 0; p < 5; p++)
            {
                double xi = o * 2 / 4.0, xj = p * 2 / 4.0;
                long i0 = (long)Math.Floor(xi), j0 = (long)Math.Floor(xj);
                long i1 = Math.Min(i0 + 1, 2), j1 = Math.Min(j0 + 1, 2);
                double fi = xi - i0, fj = xj - j0;
                expected[o * 5 + p] = (1 - fi) * ((1 - fj) * F(i0, j0) + fj * F(i0, j1)) + fi * ((1 - fj) * F(i1, j0) + fj * F(i1, j1));
            }
        Close(expected, D(y), 1e-6);
    }

    private static double Keys(double t, double a)
    {
        t = Math.Abs(t);
        return t <= 1 ? (a + 2) * t * t * t - (a + 3) * t * t + 1 : t < 2 ? a * t * t * t - 5 * a * t * t + 8 * a * t - 4 * a : 0;
    }

    [Theory]
    [InlineData(-0.75)]
    [InlineData(-0.5)]
    public void CubicAsymmetricMatchesTheKeysKernel(double a)
    {
        var rng = new Random(3);
        var data = Enumerable.Range(0, 17).Select(_ => (float)Math.Round(rng.NextDouble() * 10, 2)).ToArray();
        var y = Run("Resize", 13, A(("mode", "cubic"), ("coordinate_transformation_mode", "asymmetric"), ("cubic_coeff_a", (float)a)),
            F32([17], data), null, Scales(2));
        var expected = new double[34];
        for (int o = 0; o < 34; o++)
        {
            double x = o / 2.0;
            long f = (long)Math.Floor(x);
            double v = 0;
            for (long i = f - 1; i <= f + 2; i++) v += Keys(x - i, (float)a) * data[Math.Clamp(i, 0, 16)];
            expected[o] = v;
        }
        Close(expected, D(y), 1e-5);
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.375)]
    public void AntialiasedLinearDownsampleIsATriangleFilter(double scale)
    {
        var data = Enumerable.Range(0, 16).Select(i => (float)(i * i % 7)).ToArray();
        var y = Run("Resize", 18, A(("mode", "linear"), ("antialias", 1L)), F32([16], data), null, Scales((float)scale));
        long outSize = (long)Math.Floor(16 * (double)(float)scale);
        AssertShape([outSize], y);
        var expected = new double[outSize];
        for (int o = 0; o < outSize; o++)
        {
            double x = (o + 0.5) / (float)scale - 0.5, sum = 0, v = 0;
            for (long i = (long)Math.Floor(x) - 10; i <= (long)Math.Floor(x) + 10; i++)
            {
                double w = Math.Max(0, 1 - Math.Abs(i - x) * (float)scale);
                sum += w;
                v += w * data[Math.Clamp(i, 0, 15)];
            }
            expected[o] = v / sum;
        }
        Close(expected, D(y), 1e-6);
    }

    [Fact]
    public void CropAndResizeExtrapolates()
    {
        var y = Run("Resize", 13, A(("mode", "linear"), ("coordinate_transformation_mode", "tf_crop_and_resize"), ("extrapolation_value", 10f)),
            F32([1, 5], 1, 2, 3, 4, 5), F32([4], 0, -0.25f, 1, 1.25f), null, I64(1, 4));
        Close([10, 2, 4, 10], D(y));
        y = Run("Resize", 13, A(("mode", "nearest"), ("coordinate_transformation_mode", "tf_crop_and_resize"), ("extrapolation_value", 10f)),
            F32([1, 5], 1, 2, 3, 4, 5), F32([4], 0, -0.25f, 1, 1.25f), null, I64(1, 4));
        Close([10, 2, 4, 10], D(y));
    }

    [Fact]
    public void KeepAspectRatioWithAxes()
    {
        var x = Iota(ElementType.Float, 1, 1, 2, 4);
        var same = Run("Resize", 18, A(("axes", new long[] { 2, 3 }), ("keep_aspect_ratio_policy", "not_larger")), x, null, null, I64(4, 4));
        Assert.Equal(D(x), D(same));
        var big = Run("Resize", 18, A(("axes", new long[] { 2, 3 }), ("keep_aspect_ratio_policy", "not_smaller")), x, null, null, I64(4, 4));
        AssertShape([1, 1, 4, 8], big);
        var map = new long[32];
        for (long k = 0; k < 32; k++) { var o = Unflatten(k, [4, 8]); map[k] = o[0] / 2 * 4 + o[1] / 2; }
        AssertTaken(x, big, [1, 1, 4, 8], map);
    }

    [Fact]
    public void LowPrecisionAndIntegerInputs()
    {
        // bf16: the double result rounded once (values chosen so the result is exact or a clear tie-free rounding).
        var x = Of(ElementType.BFloat16, [3], 1, 2, 3.5);
        var y = Run("Resize", 13, A(("mode", "linear")), x, null, Scales(2));
        Assert.Equal(ElementType.BFloat16, y.Type);
        var expected = new[] { 1, 1.25, 1.75, 2.375, 3.125, 3.5 }.Select(v => (double)BFloat16.Round((float)v)).ToArray();
        Close(expected, D(y), 0);
        // uint8: round half to even, saturate.
        var u = Run("Resize", 13, A(("mode", "linear")), U8([2], 0, 3), null, Scales(4));
        Assert.Equal([0L, 0, 0, 1, 2, 3, 3, 3], L(u));
        var c = Run("Resize", 13, A(("mode", "cubic")), U8([4], 0, 255, 255, 0), null, Scales(2));
        Assert.All(L(c), v => Assert.InRange(v, 0, 255));
        // Nearest copies elements: strings work.
        var s = Run("Resize", 13, null, Str([2], "a", "b"), null, Scales(2));
        Assert.Equal(["a", "a", "b", "b"], s.Strings);
        Assert.Throws<Alloy.Runtime.Kernels.KernelException>(() => Run("Resize", 13, A(("mode", "linear")), Str([2], "a", "b"), null, Scales(2)));
    }

    [Theory]
    [InlineData("round_prefer_floor", new long[] { 0, 0, 1, 1, 2, 2 })]
    [InlineData("round_prefer_ceil", new long[] { 0, 1, 1, 2, 2, 2 })]
    [InlineData("floor", new long[] { 0, 0, 1, 1, 2, 2 })]
    [InlineData("ceil", new long[] { 0, 1, 1, 2, 2, 2 })]
    public void NearestModesOnAsymmetricCoordinates(string mode, long[] expected)
    {
        // x_original = o / 2.0 for 6 outputs of 3 inputs (ties at .5).
        var y = Run("Resize", 13, A(("mode", "nearest"), ("coordinate_transformation_mode", "asymmetric"), ("nearest_mode", mode)),
            I64([3], 0, 1, 2), null, Scales(2));
        Assert.Equal(expected, L(y));
    }

    [Fact]
    public void OlderOpsetsAndUpsample()
    {
        var x = F32([1, 4], 1, 2, 3, 4);
        Assert.Equal([1.0, 3], D(Run("Resize", 10, null, x, Scales(1, 0.5f))));
        Assert.Equal([1.0, 1, 1, 2, 2, 2], D(Run("Upsample", 7, A(("scales", new[] { 1f, 3f })), F32([1, 2], 1, 2))));
        Assert.Equal([1.0, 1.5, 2, 2], D(Run("Upsample", 9, A(("mode", "linear")), F32([1, 2], 1, 2), Scales(1, 2))));
        Assert.Null(Create("Resize", 13, A(("mode", "area")), 1, out var reason, x, null, Scales(1, 2)));
        Assert.Contains("area", reason);
        Assert.Throws<Alloy.Runtime.Kernels.KernelException>(() => Run("Resize", 13, null, x, null, Scales(1, 2), I64(1, 8)));
        Assert.Throws<Alloy.Runtime.Kernels.KernelException>(() => Run("Resize", 13, null, x, null, Scales(2)));
    }
}
