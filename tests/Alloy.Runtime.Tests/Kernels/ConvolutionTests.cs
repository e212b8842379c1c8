using Xunit;
using Alloy.Runtime.Numerics;
using static Alloy.Runtime.Tests.Kernels.LinAlgHarness;

namespace Alloy.Runtime.Tests.Kernels;

public sealed class ConvolutionTests
{
    /// <summary>Coordinates of flat index <paramref name="f"/> in <paramref name="shape"/>.</summary>
    private static long[] Decode(long f, long[] shape)
    {
        var c = new long[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            c[d] = f % shape[d];
            f /= shape[d];
        }
        return c;
    }

    private static long Encode(long[] c, long[] shape)
    {
        long f = 0;
        for (int d = 0; d < shape.Length; d++) f = f * shape[d] + c[d];
        return f;
    }

    /// <summary>
    /// Convolution by materialising the zero-padded input, then sliding the dilated kernel over it.
    /// x [N, C, in...], w [M, C/group, k...]; pads = [begins..., ends...].
    /// </summary>
    private static double[] NaiveConv(double[] x, long[] xs, double[] w, long[] ws, double[]? b, long[] pads, long[] strides, long[] dil, long group, out long[] ys)
    {
        int r = xs.Length - 2;
        long n = xs[0], c = xs[1], m = ws[0], cg = ws[1];
        var inS = xs[2..];
        var kS = ws[2..];
        var padded = inS.Select((v, d) => v + pads[d] + pads[r + d]).ToArray();
        var xp = new double[n * c * Count(padded)];
        for (long i = 0; i < x.Length; i++)
        {
            var full = Decode(i, xs);
            var pc = full[2..].Select((v, d) => v + pads[d]).ToArray();
            xp[(full[0] * c + full[1]) * Count(padded) + Encode(pc, padded)] = x[i];
        }
        var outS = padded.Select((p, d) => (p - ((kS[d] - 1) * dil[d] + 1)) / strides[d] + 1).ToArray();
        ys = [n, m, .. outS];
        var y = new double[Count(ys)];
        for (long f = 0; f < y.Length; f++)
        {
            var yc = Decode(f, ys);
            long bi = yc[0], oc = yc[1], g = oc / (m / group);
            double s = b?[oc] ?? 0;
            for (long ic = 0; ic < cg; ic++)
                for (long kf = 0; kf < Count(kS); kf++)
                {
                    var kc = Decode(kf, kS);
                    var pc = kc.Select((k, d) => yc[2 + d] * strides[d] + k * dil[d]).ToArray();
                    s += xp[(bi * c + g * cg + ic) * Count(padded) + Encode(pc, padded)] * w[(oc * cg + ic) * Count(kS) + kf];
                }
            y[f] = s;
        }
        return y;
    }

    public static TheoryData<long[], long[], long[], long[], long[], long, bool> ConvCases() => new()
    {
        // x shape, w shape, pads, strides, dilations, group, bias
        { [2, 4, 7, 6], [6, 2, 3, 2], [1, 0, 2, 1], [2, 1], [1, 2], 2, true },
        { [1, 3, 17], [5, 3, 4], [2, 1], [3], [1], 1, false },
        { [1, 2, 5, 4, 3], [3, 2, 2, 3, 2], [1, 1, 1, 1, 1, 1], [1, 2, 1], [1, 1, 2], 1, true },
        { [1, 3, 5, 5], [6, 1, 3, 3], [1, 1, 1, 1], [1, 1], [1, 1], 3, true },   // depthwise, multiplier 2
        { [1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0], [1, 1], [1, 1], 1, false },
        { [3, 1, 17, 3], [1, 1, 5, 3], [0, 0, 0, 0], [4, 1], [1, 1], 1, true },
    };

    [Theory]
    [MemberData(nameof(ConvCases))]
    public void ConvMatchesPaddedSlidingWindow(long[] xs, long[] ws, long[] pads, long[] strides, long[] dil, long group, bool bias)
    {
        var x = Random(Count(xs), 1);
        var w = Random(Count(ws), 2);
        var b = bias ? Random(ws[0], 3) : null;
        var expected = NaiveConv(x, xs, w, ws, b, pads, strides, dil, group, out var ys);
        var y = Run1("Conv", A(("pads", pads), ("strides", strides), ("dilations", dil), ("group", group)),
            F32(xs, x), F32(ws, w), b is null ? null : F32([ws[0]], b));
        AssertRounded(expected, y, ElementType.Float, ys);
    }

    [Theory]
    [InlineData("SAME_UPPER", new long[] { 0, 1, 1, 1, 2, 1 })]
    [InlineData("SAME_LOWER", new long[] { 1, 2, 1, 0, 1, 1 })]
    [InlineData("VALID", new long[] { 0, 0, 0, 0, 0, 0 })]
    public void ConvAutoPadPutsTheOddPaddingAtTheRightEnd(string autoPad, long[] pads)
    {
        // in [5, 6, 4], kernel [2, 4, 3], strides [2, 1, 1]: SAME output [3, 6, 4]; totals [1, 3, 2].
        long[] xs = [1, 2, 5, 6, 4], ws = [3, 2, 2, 4, 3];
        var x = Random(Count(xs), 4);
        var w = Random(Count(ws), 5);
        var expected = NaiveConv(x, xs, w, ws, null, pads, [2, 1, 1], [1, 1, 1], 1, out var ys);
        var y = Run1("Conv", A(("auto_pad", autoPad), ("strides", new long[] { 2, 1, 1 })), F32(xs, x), F32(ws, w));
        AssertRounded(expected, y, ElementType.Float, ys);
        if (autoPad != "VALID") Assert.Equal([1, 3, 3, 6, 4], ys);
    }

    [Theory]
    [InlineData(ElementType.BFloat16)]
    [InlineData(ElementType.Float16)]
    public void ConvRoundsOnceToTheInputType(ElementType type)
    {
        long[] xs = [1, 3, 6, 5], ws = [2, 3, 3, 3];
        var x = RandomOf(type, Count(xs), 6);
        var w = RandomOf(type, Count(ws), 7);
        var b = RandomOf(type, 2, 8);
        var expected = NaiveConv(x, xs, w, ws, b, [1, 1, 1, 1], [1, 1], [1, 1], 1, out var ys);
        var y = Run1("Conv", A(("pads", new long[] { 1, 1, 1, 1 })), T(type, xs, x), T(type, ws, w), T(type, [2], b));
        AssertRounded(expected, y, type, ys);
    }

    [Fact]
    public void ConvRejectsInconsistentOperands()
    {
        Throws("kernel_shape", "Conv", A(("kernel_shape", new long[] { 2, 2 })), F32([1, 1, 4, 4], Random(16, 1)), F32([1, 1, 3, 3], Random(9, 1)));
        Throws("channels", "Conv", null, F32([1, 2, 4, 4], Random(32, 1)), F32([1, 3, 3, 3], Random(27, 1)));
        Throws("larger than the padded input", "Conv", null, F32([1, 1, 2, 2], Random(4, 1)), F32([1, 1, 3, 3], Random(9, 1)));
        Throws("'pads'", "Conv", A(("pads", new long[] { 1, 1 })), F32([1, 1, 4, 4], Random(16, 1)), F32([1, 1, 3, 3], Random(9, 1)));
        Assert.Null(Create("Conv", A(("auto_pad", "SAME")), out var reason, types: [ElementType.Float, ElementType.Float]));
        Assert.Contains("auto_pad", reason);
        Assert.Null(Create("Conv", null, out reason, types: [ElementType.Int32, ElementType.Int32]));
    }

    [Fact]
    public void ConvIntegerSubtractsZeroPointsExactly()
    {
        long[] xs = [1, 2, 4, 4], ws = [3, 2, 2, 2];
        var x = Enumerable.Range(0, 32).Select(i => (long)(i * 37 % 256)).ToArray();
        var w = Enumerable.Range(0, 24).Select(i => (long)(i * 101 % 256)).ToArray();
        long xz = 3;
        long[] wz = [1, 200, 3];
        var xd = x.Select(v => (double)(v - xz)).ToArray();
        var wd = w.Select((v, i) => (double)(v - wz[i / 8])).ToArray();
        var expected = NaiveConv(xd, xs, wd, ws, null, [1, 1, 1, 1], [1, 1], [1, 1], 1, out var ys);
        var y = Run1("ConvInteger", A(("pads", new long[] { 1, 1, 1, 1 })),
            ElementConvert.FromLongs(ElementType.UInt8, xs, x), ElementConvert.FromLongs(ElementType.UInt8, ws, w),
            ElementConvert.FromLongs(ElementType.UInt8, [], [xz]), ElementConvert.FromLongs(ElementType.UInt8, [3], wz));
        AssertLongs(expected.Select(v => (long)v).ToArray(), y, ElementType.Int32, ys);
    }

    // ---- ConvTranspose ----

    /// <summary>
    /// Transposed convolution by gathering: y[n, oc, o] = b[oc] + sum over (ic in the group, k) with
    /// o + pad_begin - k * dilation = i * stride for an input position i.
    /// </summary>
    private static double[] NaiveConvTranspose(double[] x, long[] xs, double[] w, long[] ws, double[]? b, long[] padBegin, long[] outS,
        long[] strides, long[] dil, long group)
    {
        long n = xs[0], c = xs[1], mg = ws[1], m = mg * group, cg = c / group;
        var inS = xs[2..];
        var kS = ws[2..];
        long[] ys = [n, m, .. outS];
        var y = new double[Count(ys)];
        for (long f = 0; f < y.Length; f++)
        {
            var yc = Decode(f, ys);
            long bi = yc[0], oc = yc[1], g = oc / mg;
            double s = b?[oc] ?? 0;
            for (long icg = 0; icg < cg; icg++)
            {
                long ic = g * cg + icg;
                for (long kf = 0; kf < Count(kS); kf++)
                {
                    var kc = Decode(kf, kS);
                    var ic2 = new long[kc.Length];
                    bool ok = true;
                    for (int d = 0; d < kc.Length && ok; d++)
                    {
                        long num = yc[2 + d] + padBegin[d] - kc[d] * dil[d];
                        ok = num >= 0 && num % strides[d] == 0 && num / strides[d] < inS[d];
                        if (ok) ic2[d] = num / strides[d];
                    }
                    if (!ok) continue;
                    s += x[(bi * c + ic) * Count(inS) + Encode(ic2, inS)] * w[(ic * mg + oc % mg) * Count(kS) + kf];
                }
            }
            y[f] = s;
        }
        return y;
    }

    [Fact]
    public void ConvTransposeWithStridesPadsOutputPaddingDilationsAndGroups()
    {
        long[] xs = [2, 4, 3, 5], ws = [4, 3, 3, 2];
        long[] strides = [2, 3], pads = [1, 0, 1, 2], opad = [1, 0], dil = [1, 2];
        var x = Random(Count(xs), 10);
        var w = Random(Count(ws), 11);
        var b = Random(6, 12);
        // out = s * (in - 1) + opad + (k - 1) * d + 1 - pb - pe
        long[] outS = [2 * 2 + 1 + 3 - 2, 3 * 4 + 0 + 3 - 2];
        var expected = NaiveConvTranspose(x, xs, w, ws, b, [1, 0], outS, strides, dil, 2);
        var y = Run1("ConvTranspose", A(("strides", strides), ("pads", pads), ("output_padding", opad), ("dilations", dil), ("group", 2L)),
            F32(xs, x), F32(ws, w), F32([6], b));
        AssertRounded(expected, y, ElementType.Float, [2, 6, .. outS]);
    }

    [Theory]
    [InlineData("NOTSET", 1L)]       // total padding 1: the larger half at the beginning
    [InlineData("SAME_UPPER", 0L)]   // the smaller half at the beginning
    [InlineData("SAME_LOWER", 1L)]
    public void ConvTransposeOutputShapeDerivesThePads(string autoPad, long padBegin)
    {
        long[] xs = [1, 2, 4, 4], ws = [2, 1, 3, 3];
        var x = Random(Count(xs), 13);
        var w = Random(Count(ws), 14);
        // full size 2 * 3 + 3 = 9, requested 8: total padding 1.
        var expected = NaiveConvTranspose(x, xs, w, ws, null, [padBegin, padBegin], [8, 8], [2, 2], [1, 1], 1);
        var y = Run1("ConvTranspose", A(("strides", new long[] { 2, 2 }), ("output_shape", new long[] { 8, 8 }), ("auto_pad", autoPad)), F32(xs, x), F32(ws, w));
        AssertRounded(expected, y, ElementType.Float, [1, 1, 8, 8]);
    }

    [Fact]
    public void ConvTransposeAutoPadSameGivesInputTimesStride()
    {
        long[] xs = [1, 1, 5], ws = [1, 2, 4];
        var x = Random(Count(xs), 15);
        var w = Random(Count(ws), 16);
        // full = 3 * 4 + 4 = 16, output 15: total 1; SAME_LOWER puts it at the beginning.
        var expected = NaiveConvTranspose(x, xs, w, ws, null, [1], [15], [3], [1], 1);
        var y = Run1("ConvTranspose", A(("strides", new long[] { 3 }), ("auto_pad", "SAME_LOWER")), F32(xs, x), F32(ws, w));
        AssertRounded(expected, y, ElementType.Float, [1, 2, 15]);
    }

    [Fact]
    public void ConvTransposeFloat16RoundsOnce()
    {
        long[] xs = [1, 3, 3, 3], ws = [3, 2, 2, 2];
        var x = RandomOf(ElementType.Float16, Count(xs), 17);
        var w = RandomOf(ElementType.Float16, Count(ws), 18);
        var expected = NaiveConvTranspose(x, xs, w, ws, null, [0, 0], [6, 6], [2, 2], [1, 1], 1);
        var y = Run1("ConvTranspose", A(("strides", new long[] { 2, 2 })), T(ElementType.Float16, xs, x), T(ElementType.Float16, ws, w));
        AssertRounded(expected, y, ElementType.Float16, [1, 2, 6, 6]);
    }

    // ---- Pooling ----

    /// <summary>Per output position, the input values (null = padding) and whether each tap lies in the explicit padding range.</summary>
    private static double[] NaivePool(double[] x, long[] xs, long[] k, long[] pads, long[] strides, long[] dil, long[] outS,
        Func<List<double>, int, double> reduce)
    {
        int r = k.Length;
        var inS = xs[2..];
        long planes = xs[0] * xs[1];
        var y = new double[planes * Count(outS)];
        for (long p = 0; p < planes; p++)
            for (long o = 0; o < Count(outS); o++)
            {
                var oc = Decode(o, outS);
                var vals = new List<double>();
                int inPadded = 0;
                for (long kf = 0; kf < Count(k); kf++)
                {
                    var kc = Decode(kf, k);
                    var pos = kc.Select((kk, d) => oc[d] * strides[d] - pads[d] + kk * dil[d]).ToArray();
                    if (pos.Select((v, d) => v >= -pads[d] && v < inS[d] + pads[r + d]).All(t => t)) inPadded++;
                    if (pos.Select((v, d) => v >= 0 && v < inS[d]).All(t => t)) vals.Add(x[p * Count(inS) + Encode(pos, inS)]);
                }
                y[p * Count(outS) + o] = reduce(vals, inPadded);
            }
        return y;
    }

    [Fact]
    public void MaxPoolWithPadsStridesDilationsCeilModeAndIndices()
    {
        long[] xs = [2, 2, 6, 7], k = [3, 2], pads = [1, 0, 1, 1], strides = [2, 2], dil = [1, 2];
        var x = Random(Count(xs), 20);
        // H: span 6+2-3 = 5 -> ceil(5/2)+1 = 4; W: span 7+1-3 = 5 -> 4.
        long[] outS = [4, 4];
        var expected = NaivePool(x, xs, k, pads, strides, dil, outS, (v, _) => v.Max());
        var attrs = A(("kernel_shape", k), ("pads", pads), ("strides", strides), ("dilations", dil), ("ceil_mode", 1L));
        var r = RunN("MaxPool", attrs, 2, 12, F32(xs, x));
        AssertRounded(expected, r[0], ElementType.Float, [2, 2, .. outS]);
        // Indices: flat positions into X of the maxima (values are distinct).
        var idx = ElementConvert.ToLongs(r[1]!);
        for (int i = 0; i < idx.Length; i++) Assert.Equal(expected[i], x[idx[i]]);
        Assert.Equal(ElementType.Int64, r[1]!.Type);

        // storage_order = 1: the spatial part of each index is column-major.
        attrs["storage_order"] = 1L;
        var rc = RunN("MaxPool", attrs, 2, 12, F32(xs, x));
        var idxc = ElementConvert.ToLongs(rc[1]!);
        for (int i = 0; i < idx.Length; i++)
        {
            long plane = idx[i] / 42, h = idx[i] % 42 / 7, w = idx[i] % 7;
            Assert.Equal(plane * 42 + w * 6 + h, idxc[i]);
        }
    }

    [Fact]
    public void CeilModeDropsAWindowThatStartsInTheEndPadding()
    {
        // in 5, k 2, s 3, pads [1,1]: ceil(5/3)+1 = 3 windows, but the third would start at 5 (end padding): 2.
        var x = Random(5, 21);
        var y = Run1("MaxPool", A(("kernel_shape", new long[] { 2 }), ("strides", new long[] { 3 }), ("pads", new long[] { 1, 1 }), ("ceil_mode", 1L)), F32([1, 1, 5], x));
        AssertRounded([x[0], Math.Max(x[2], x[3])], y, ElementType.Float, [1, 1, 2]);
    }

    [Fact]
    public void MaxPoolInt8Float16AndNaN()
    {
        var v = new long[] { -128, 5, 127, -3, 0, 9, -7, 1, 2 };
        var y = Run1("MaxPool", A(("kernel_shape", new long[] { 2, 2 })), ElementConvert.FromLongs(ElementType.Int8, [1, 1, 3, 3], v));
        AssertLongs([5, 127, 1, 9], y, ElementType.Int8, [1, 1, 2, 2]);
        var h = RandomOf(ElementType.Float16, 17, 22);
        var yh = Run1("MaxPool", A(("kernel_shape", new long[] { 3 }), ("strides", new long[] { 2 })), T(ElementType.Float16, [1, 1, 17], h));
        AssertRounded([.. Enumerable.Range(0, 8).Select(i => h.Skip(2 * i).Take(3).Max())], yh, ElementType.Float16, [1, 1, 8]);
        var yn = Run1("MaxPool", A(("kernel_shape", new long[] { 2 })), F32([1, 1, 3], [1, double.NaN, 0]));
        Assert.True(ElementConvert.ToDoubles(yn).All(double.IsNaN));
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(1L)]
    public void AveragePoolCountsPaddingOnlyWhenAsked(long countIncludePad)
    {
        long[] xs = [1, 3, 5, 6], k = [3, 2], pads = [1, 1, 1, 0], strides = [2, 2], dil = [1, 1];
        var x = Random(Count(xs), 23);
        // H: span 5+2-3 = 4 -> ceil: 3; W: span 6+1-2 = 5 -> ceil(5/2)+1 = 4, last window [5, 6]: 6 lies beyond the padding.
        long[] outS = [3, 4];
        var expected = NaivePool(x, xs, k, pads, strides, dil, outS, (v, padded) => v.Sum() / (countIncludePad == 1 ? padded : v.Count));
        var y = Run1("AveragePool", A(("kernel_shape", k), ("pads", pads), ("strides", strides), ("ceil_mode", 1L), ("count_include_pad", countIncludePad)), F32(xs, x));
        AssertRounded(expected, y, ElementType.Float, [1, 3, .. outS]);
    }

    [Theory]
    [InlineData("SAME_UPPER", new long[] { 0, 1, 1, 1 })]
    [InlineData("SAME_LOWER", new long[] { 1, 1, 0, 1 })]
    public void AveragePoolSameExcludesThePadding(string autoPad, long[] pads)
    {
        // in [5, 4], kernel [2, 3], strides [1, 1]: totals [1, 2].
        long[] xs = [2, 1, 5, 4], k = [2, 3];
        var x = Random(Count(xs), 24);
        var expected = NaivePool(x, xs, k, pads, [1, 1], [1, 1], [5, 4], (v, _) => v.Average());
        var y = Run1("AveragePool", A(("kernel_shape", k), ("auto_pad", autoPad)), F32(xs, x));
        AssertRounded(expected, y, ElementType.Float, [2, 1, 5, 4]);
    }

    [Fact]
    public void AveragePool3DWithDilationsInBFloat16()
    {
        long[] xs = [1, 2, 5, 4, 6], k = [2, 2, 3], pads = [0, 1, 1, 1, 0, 1], strides = [1, 2, 2], dil = [2, 1, 1];
        var x = RandomOf(ElementType.BFloat16, Count(xs), 25);
        // D: 5+1-3 = 3 -> 4; H: 4+1-2 = 3 -> 2; W: 6+2-3 = 5 -> 3.
        long[] outS = [4, 2, 3];
        var expected = NaivePool(x, xs, k, pads, strides, dil, outS, (v, _) => v.Average());
        var y = Run1("AveragePool", A(("kernel_shape", k), ("pads", pads), ("strides", strides), ("dilations", dil)), T(ElementType.BFloat16, xs, x));
        AssertRounded(expected, y, ElementType.BFloat16, [1, 2, .. outS]);
    }

    [Theory]
    [InlineData(1L)]
    [InlineData(2L)]
    [InlineData(3L)]
    public void LpPoolAndGlobalLpPool(long p)
    {
        long[] xs = [1, 2, 5, 3], k = [2, 2], pads = [1, 0, 0, 1];
        var x = Random(Count(xs), 26);
        double Lp(IEnumerable<double> v) => Math.Pow(v.Sum(e => Math.Pow(Math.Abs(e), p)), 1.0 / p);
        var expected = NaivePool(x, xs, k, pads, [1, 1], [1, 1], [5, 3], (v, _) => Lp(v));
        var y = Run1("LpPool", A(("kernel_shape", k), ("pads", pads), ("p", p)), F32(xs, x));
        AssertRounded(expected, y, ElementType.Float, [1, 2, 5, 3]);
        var g = Run1("GlobalLpPool", A(("p", p)), F32(xs, x));
        AssertRounded([Lp(x.Take(15)), Lp(x.Skip(15))], g, ElementType.Float, [1, 2, 1, 1]);
    }

    [Fact]
    public void GlobalAverageAndMaxPoolOverAllSpatialDims()
    {
        long[] xs = [2, 3, 3, 1, 17];
        var x = RandomOf(ElementType.Float16, Count(xs), 27);
        var planes = Enumerable.Range(0, 6).Select(pl => x.Skip(pl * 51).Take(51).ToArray()).ToArray();
        AssertRounded([.. planes.Select(v => v.Average())], Run1("GlobalAveragePool", null, T(ElementType.Float16, xs, x)), ElementType.Float16, [2, 3, 1, 1, 1]);
        AssertRounded([.. planes.Select(v => v.Max())], Run1("GlobalMaxPool", null, T(ElementType.Float16, xs, x)), ElementType.Float16, [2, 3, 1, 1, 1]);
    }

    [Fact]
    public void PoolRejectsMissingKernelShapeAndBadTypes()
    {
        Assert.Null(Create("MaxPool", null, out var reason, types: [ElementType.Float]));
        Assert.Contains("kernel_shape", reason);
        Assert.Null(Create("AveragePool", A(("kernel_shape", new long[] { 2 })), out reason, types: [ElementType.Int8]));
        Throws("kernel_shape has 1 values", "MaxPool", A(("kernel_shape", new long[] { 2 })), F32([1, 1, 3, 3], Random(9, 1)));
    }
}
