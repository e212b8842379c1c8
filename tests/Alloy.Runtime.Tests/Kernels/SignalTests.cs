using System.Numerics;
using Xunit;
using static Alloy.Runtime.Tests.Kernels.LossSignalVisionTextKit;

namespace Alloy.Runtime.Tests.Kernels;

public sealed class SignalTests
{
    // ---- windows ----

    private static double Window(string op, long k, long size, bool periodic)
    {
        double n = periodic ? size : size - 1;
        if (n == 0) return 1;
        double t = 2 * Math.PI * k / n;
        return op switch
        {
            "HannWindow" => Math.Sin(Math.PI * k / n) * Math.Sin(Math.PI * k / n), // 0.5 - 0.5 cos t
            "HammingWindow" => 0.54347826086956519 - 0.45652173913043481 * Math.Cos(t),
            _ => 0.42 - 0.5 * Math.Cos(t) + 0.08 * Math.Cos(2 * t),
        };
    }

    public static TheoryData<string, long, bool> WindowCases()
    {
        var d = new TheoryData<string, long, bool>();
        foreach (var op in new[] { "HannWindow", "HammingWindow", "BlackmanWindow" })
            foreach (var size in new long[] { 1, 3, 10, 17 })
                foreach (var periodic in new[] { true, false })
                    d.Add(op, size, periodic);
        return d;
    }

    [Theory]
    [MemberData(nameof(WindowCases))]
    public void WindowsFollowTheirFormulas(string op, long size, bool periodic)
    {
        var y = Run(op, 17, A(("periodic", periodic ? 1L : 0L), ("output_datatype", 11L)), I32([], (int)size));
        Assert.Equal(ElementType.Double, y.Type);
        Assert.Equal([size], y.Shape);
        Close(Enumerable.Range(0, (int)size).Select(k => Window(op, k, size, periodic)).ToArray(), y, 1e-15);
    }

    [Fact]
    public void WindowsDefaultToPeriodicFloatAndRoundOnceToOtherTypes()
    {
        var y = Run("HannWindow", 17, null, I64([], 10));
        Assert.Equal(ElementType.Float, y.Type);
        RoundedOnce(Enumerable.Range(0, 10).Select(k => Window("HannWindow", k, 10, true)).ToArray(), y);
        var h = Run("BlackmanWindow", 17, A(("output_datatype", 10L)), I64([], 17));
        Assert.Equal(ElementType.Float16, h.Type);
        RoundedOnce(Enumerable.Range(0, 17).Select(k => Window("BlackmanWindow", k, 17, true)).ToArray(), h);
        var b = Run("HammingWindow", 17, A(("output_datatype", 16L), ("periodic", 0L)), I64([], 3));
        RoundedOnce(Enumerable.Range(0, 3).Select(k => Window("HammingWindow", k, 3, false)).ToArray(), b);
        Assert.Empty(D(Run("HannWindow", 17, null, I64([], 0))));
    }

    [Fact]
    public void WindowsRejectBadSizesAndTypes()
    {
        Assert.Contains("non-negative", Fails("HannWindow", 17, null, I64([], -1)).Message);
        Assert.Contains("scalar", Fails("HannWindow", 17, null, I64([2], 3, 4)).Message);
        Assert.Contains("int64 or int32", Fails("HannWindow", 17, null, F32([], 3)).Message);
        Assert.Contains("output_datatype", Declines("HammingWindow", 17, A(("output_datatype", 8L)), I64([], 3)));
        Assert.Contains("output_datatype", Declines("BlackmanWindow", 17, A(("output_datatype", 99L)), I64([], 3)));
    }

    // ---- DFT ----

    /// <summary>The DFT by its definition with System.Numerics.Complex (zero-padded / truncated to n).</summary>
    private static Complex[] Dft(Complex[] x, int n, bool inverse)
    {
        var r = new Complex[n];
        for (int m = 0; m < n; m++)
        {
            Complex s = 0;
            for (int k = 0; k < Math.Min(n, x.Length); k++)
                s += x[k] * Complex.FromPolarCoordinates(1, (inverse ? 2 : -2) * Math.PI * k * m / n);
            r[m] = inverse ? s / n : s;
        }
        return r;
    }

    private static double[] Interleave(IEnumerable<Complex> c) => c.SelectMany(v => new[] { v.Real, v.Imaginary }).ToArray();

    [Theory]
    [InlineData(17, 0, false, false)]
    [InlineData(17, 0, true, false)]
    [InlineData(17, 0, false, true)]
    [InlineData(1, 0, false, false)]
    [InlineData(17, 24, false, false)]
    [InlineData(17, 5, false, true)]
    [InlineData(3, 3, true, false)]
    public void DftOfOneRealOrComplexSignal(int length, int dftLength, bool complex, bool onesided)
    {
        var values = Random(length * (complex ? 2 : 1), length + dftLength, type: ElementType.Double);
        var signal = complex ? Enumerable.Range(0, length).Select(i => new Complex(values[2 * i], values[2 * i + 1])).ToArray()
                             : values.Select(v => new Complex(v, 0)).ToArray();
        int n = dftLength == 0 ? length : dftLength;
        var expected = Dft(signal, n, inverse: false).Take(onesided ? n / 2 + 1 : n).ToArray();
        var inputs = new List<Tensor?> { F64([1, length, complex ? 2 : 1], values) };
        if (dftLength != 0) inputs.Add(I64([], dftLength));
        var y = Run("DFT", 17, A(("onesided", onesided ? 1L : 0L)), inputs.ToArray());
        Assert.Equal([1L, expected.Length, 2], y.Shape);
        Close(Interleave(expected), y, 1e-12);
    }

    [Fact]
    public void DftInverseUndoesTheForwardTransform()
    {
        var values = Random(2 * 3 * 11 * 2, 20, type: ElementType.Double);
        var x = F64([2, 3, 11, 2], values);
        var forward = Run("DFT", 17, A(("axis", 2L)), x);
        var back = Run("DFT", 17, A(("axis", 2L), ("inverse", 1L)), forward);
        Close(values, back, 1e-13);
        // The inverse transform by its definition.
        var line = Enumerable.Range(0, 11).Select(i => new Complex(values[i * 2], values[i * 2 + 1])).ToArray();
        var inv = Run("DFT", 17, A(("axis", 2L), ("inverse", 1L)), x);
        var expected = Interleave(Dft(line, 11, inverse: true));
        Close(expected, Tensor.FromArray(ElementType.Double, [22], D(inv).Take(22).ToArray()), 1e-13);
    }

    [Fact]
    public void DftAlongAnInnerAxisLeavesTheOthersApart()
    {
        // [batch 2, 3, 5, 1]: transform axis 1 (length 3) for each of the 2 × 5 lines.
        long[] shape = [2, 3, 5, 1];
        var values = Random(30, 21, type: ElementType.Double);
        var y = Run("DFT", 17, A(("axis", 1L)), F64(shape, values));
        Assert.Equal([2L, 3, 5, 2], y.Shape);
        var actual = D(y);
        for (int b = 0; b < 2; b++)
            for (int j = 0; j < 5; j++)
            {
                var line = Enumerable.Range(0, 3).Select(k => new Complex(values[(b * 3 + k) * 5 + j], 0)).ToArray();
                var e = Dft(line, 3, false);
                for (int m = 0; m < 3; m++)
                {
                    Assert.Equal(e[m].Real, actual[((b * 3 + m) * 5 + j) * 2], 12);
                    Assert.Equal(e[m].Imaginary, actual[((b * 3 + m) * 5 + j) * 2 + 1], 12);
                }
            }
        // Negative axes count from the back (-3 is axis 1 here), as does opset 20's axis input (default -2).
        Close(actual, Run("DFT", 17, A(("axis", -3L)), F64(shape, values)), 0);
        Close(actual, Run("DFT", 20, null, F64(shape, values), null, I64([], -3)), 0);
        var lastSignalAxis = Run("DFT", 20, null, F64(shape, values));
        Close(D(Run("DFT", 17, A(("axis", 2L)), F64(shape, values))), lastSignalAxis, 0);
    }

    [Fact]
    public void DftRoundsOnceForF16AndRejectsBadInputs()
    {
        var values = Random(7, 22, type: ElementType.Float16);
        var y = Run("DFT", 17, null, Of(ElementType.Float16, [1, 7, 1], values));
        Assert.Equal(ElementType.Float16, y.Type);
        RoundedOnce(Interleave(Dft(values.Select(v => new Complex(v, 0)).ToArray(), 7, false)), y);

        Assert.Contains("last dimension", Fails("DFT", 17, A(("axis", 2L)), F32([1, 4, 1], 1, 2, 3, 4)).Message);
        Assert.Contains("1 or 2", Fails("DFT", 17, null, F32([1, 2, 3], 1, 2, 3, 4, 5, 6)).Message);
        Assert.Contains("dft_length", Fails("DFT", 17, null, F32([1, 2, 1], 1, 2), I64([], 0)).Message);
        Assert.Contains("onesided", Fails("DFT", 17, A(("onesided", 1L)), F32([1, 2, 2], 1, 2, 3, 4)).Message);
        Assert.Contains("onesided", Declines("DFT", 17, A(("onesided", 1L), ("inverse", 1L)), F32([1, 2, 1], 1, 2)));
        Assert.Contains("third input", Declines("DFT", 20, A(("axis", 1L)), F32([1, 2, 1], 1, 2)));
    }

    // ---- STFT ----

    [Theory]
    [InlineData(true, true, false)]
    [InlineData(false, true, false)]
    [InlineData(true, false, false)]
    [InlineData(false, false, true)]
    public void StftTransformsWindowedFrames(bool onesided, bool withWindow, bool complex)
    {
        const int batch = 2, length = 37, frame = 8, step = 5;
        int parts = complex ? 2 : 1;
        var values = Random(batch * length * parts, 30, type: ElementType.Double);
        var window = Enumerable.Range(0, frame).Select(k => 0.5 - 0.5 * Math.Cos(2 * Math.PI * k / frame)).ToArray();
        var inputs = new Tensor?[] { F64([batch, length, parts], values), I64([], step), withWindow ? F64([frame], window) : null, withWindow ? null : I64([], frame) };
        var y = Run("STFT", 17, A(("onesided", onesided ? 1L : 0L)), inputs);
        int frames = 1 + (length - frame) / step, bins = onesided ? frame / 2 + 1 : frame;
        Assert.Equal([batch, frames, bins, 2L], y.Shape);
        var expected = new List<double>();
        for (int b = 0; b < batch; b++)
            for (int f = 0; f < frames; f++)
            {
                var x = Enumerable.Range(0, frame).Select(k =>
                {
                    int at = (b * length + f * step + k) * parts;
                    var v = new Complex(values[at], complex ? values[at + 1] : 0);
                    return withWindow ? v * window[k] : v;
                }).ToArray();
                expected.AddRange(Interleave(Dft(x, frame, false).Take(bins)));
            }
        Close(expected, y, 1e-12);
    }

    [Fact]
    public void StftRejectsInconsistentInputs()
    {
        var x = F32([1, 8, 1], 1, 2, 3, 4, 5, 6, 7, 8);
        Assert.Contains("window", Fails("STFT", 17, null, x, I64([], 2), F32([3], 1, 1, 1), I64([], 4)).Message);
        Assert.Contains("either", Fails("STFT", 17, null, x, I64([], 2)).Message);
        Assert.Contains("frame_step", Fails("STFT", 17, null, x, I64([], 0), null, I64([], 4)).Message);
        Assert.Contains("frame_length", Fails("STFT", 17, null, x, I64([], 1), null, I64([], 9)).Message);
        Assert.Contains("onesided", Fails("STFT", 17, null, F32([1, 2, 2], 1, 2, 3, 4), I64([], 1), null, I64([], 2)).Message);
    }

    // ---- MelWeightMatrix ----

    [Fact]
    public void MelWeightMatrixMatchesTheOnnxExample()
    {
        var y = Run("MelWeightMatrix", 17, null, I32([], 8), I32([], 16), I32([], 8192), ScalarF32(0), ScalarF32(4096));
        Assert.Equal([9L, 8], y.Shape);
        Assert.Equal(ElementType.Float, y.Type);
        // From the ONNX operator documentation's example (rows: spectrogram bins, columns: mel bins).
        double[] expected =
        [
            1, 1, 0, 0, 0, 0, 0, 0,
            0, 0, 1, 1, 0, 0, 0, 0,
            0, 0, 0, 0, 1, 0, 0, 0,
            0, 0, 0, 0, 0, 1, 0, 0,
            0, 0, 0, 0, 0, 0, 1, 0,
            0, 0, 0, 0, 0, 0, 0, 1,
            0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 0,
        ];
        Assert.Equal(expected, D(y));
    }

    [Fact]
    public void MelWeightMatrixBuildsTriangles()
    {
        // 3 mel bins over 0..8000 Hz of a 64-point DFT at 16 kHz: points at floor(65 · hz / 16000) of the mel grid.
        var y = Run("MelWeightMatrix", 17, A(("output_datatype", 11L)), I64([], 3), I64([], 64), I64([], 16000), F64([], 0), F64([], 8000));
        Assert.Equal([33L, 3], y.Shape);
        double hi = 2595 * Math.Log10(1 + 8000 / 700.0);
        var points = Enumerable.Range(0, 5).Select(i =>
        {
            double hz = 700 * (Math.Pow(10, i * hi / 5 / 2595) - 1);
            return (long)Math.Floor(65 * hz / 16000);
        }).ToArray();
        var w = D(y);
        for (int i = 0; i < 3; i++)
            for (long j = 0; j < 33; j++)
            {
                long left = points[i], centre = points[i + 1], right = points[i + 2];
                double e = 0;
                if (j == centre) e = 1;
                else if (j > left && j < centre) e = (double)(j - left) / (centre - left);
                else if (j > centre && j < right) e = (double)(right - j) / (right - centre);
                Assert.Equal(e, w[j * 3 + i], 12);
            }
        Assert.Contains("sample_rate / 2", Fails("MelWeightMatrix", 17, null, I64([], 3), I64([], 16), I64([], 1000), ScalarF32(0), ScalarF32(900)).Message);
        Assert.Contains("num_mel_bins", Fails("MelWeightMatrix", 17, null, I64([], 0), I64([], 16), I64([], 1000), ScalarF32(0), ScalarF32(400)).Message);
    }

    // ---- Det ----

    [Fact]
    public void DetOfSmallMatrices()
    {
        Assert.Equal([-2.0], D(Run("Det", 11, null, F32([2, 2], 1, 2, 3, 4))));
        Assert.Equal([7.0], D(Run("Det", 11, null, F32([1, 1], 7))));
        var batch = Run("Det", 11, null, F64([2, 3, 3], 2, 0, 0, 0, 3, 0, 0, 0, 4, /* */ 0, 1, 0, 1, 0, 0, 0, 0, 1));
        Assert.Equal([2L], batch.Shape);
        Assert.Equal([24.0, -1], D(batch));
        Assert.True(Math.Abs(D(Run("Det", 11, null, F64([3, 3], 1, 2, 3, 4, 5, 6, 7, 8, 9)))[0]) < 1e-12);
        Assert.Equal([1.0, 1], D(Run("Det", 11, null, F32([2, 0, 0]))));
        Assert.Contains("square", Fails("Det", 11, null, F32([2, 3], 1, 2, 3, 4, 5, 6)).Message);
        Assert.NotNull(Declines("Det", 11, null, I64([1, 1], 1)));
    }

    [Fact]
    public void DetOfAPermutedTriangularMatrixIsTheSignedDiagonalProduct()
    {
        const int n = 17;
        var rng = new Random(40);
        var u = new double[n * n];
        double product = 1;
        for (int i = 0; i < n; i++)
        {
            u[i * n + i] = 1 + rng.Next(0, 3) * 0.5;
            product *= u[i * n + i];
            for (int j = i + 1; j < n; j++) u[i * n + j] = rng.Next(-4, 5);
        }
        // Swap rows 0 ↔ 5 and 3 ↔ 16: two transpositions keep the sign.
        var a = (double[])u.Clone();
        foreach (var (p, q) in new[] { (0, 5), (3, 16) })
            for (int j = 0; j < n; j++) (a[p * n + j], a[q * n + j]) = (a[q * n + j], a[p * n + j]);
        Close([product], Run("Det", 11, null, F64([n, n], a)), 1e-12);
        // One more swap flips it.
        for (int j = 0; j < n; j++) (a[j], a[n + j]) = (a[n + j], a[j]);
        Close([-product], Run("Det", 11, null, F64([1, n, n], a)), 1e-12);
    }

    [Fact]
    public void DetRoundsOnceForBf16()
    {
        double[] m = [1.5, -2, 0.25, 3, 1, -1, 0.5, 2, 4];
        var y = Run("Det", 11, null, Of(ElementType.BFloat16, [3, 3], m));
        Assert.Equal(ElementType.BFloat16, y.Type);
        double det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6]);
        RoundedOnce([det], y);
    }
}
