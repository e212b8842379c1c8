using Alloy.Runtime.Kernels;
using Alloy.Runtime.Numerics;
using Xunit;
using static Alloy.Runtime.Tests.Kernels.ShapeTestKit;

namespace Alloy.Runtime.Tests.Kernels;

public sealed class QuantizationTests
{
    [Fact]
    public void QuantizeRoundsHalfToEvenAndSaturates()
    {
        var x = F32([7], 0, 1, 2.5f, 3.5f, -2.5f, 1000, -1000);
        var y = Run("QuantizeLinear", 13, null, x, F32([], 1), U8([], 128));
        Assert.Equal(ElementType.UInt8, y.Type);
        Assert.Equal([128L, 129, 130, 132, 126, 255, 0], L(y));
        y = Run("QuantizeLinear", 13, null, x, F32([], 1), I8([], -1));
        Assert.Equal([-1L, 0, 1, 3, -3, 127, -128], L(y));
        y = Run("QuantizeLinear", 10, null, F32([3], -1, 0.25f, 300), F32([], 0.5f));
        Assert.Equal(ElementType.UInt8, y.Type);
        Assert.Equal([0L, 0, 255], L(y)); // -2 saturates; 0.5 → 0 (half to even); 600 saturates
    }

    [Theory]
    [InlineData(ElementType.Int4, -8, 7)]
    [InlineData(ElementType.UInt4, 0, 15)]
    [InlineData(ElementType.Int16, short.MinValue, short.MaxValue)]
    [InlineData(ElementType.UInt16, 0, ushort.MaxValue)]
    public void QuantizeToOtherIntegerTypes(ElementType type, long lo, long hi)
    {
        var values = new double[] { -1e6, -9, -7.5, -0.5, 0.5, 1.5, 6.5, 7.5, 14.5, 15.5, 1e6 };
        var x = F64([values.Length], values);
        var y = Run("QuantizeLinear", 21, null, x, F64([], 1), Tensor.Create(type, []));
        Assert.Equal(type, y.Type);
        Assert.Equal(values.Select(v => Math.Clamp((long)Math.Round(v, MidpointRounding.ToEven), lo, hi)), L(y));
        var z = Run("QuantizeLinear", 21, A(("output_dtype", (long)type)), x, F64([], 1));
        Assert.Equal(type, z.Type);
        Assert.Equal(L(y), L(z));
    }

    [Fact]
    public void QuantizePerAxisAndBlocked()
    {
        var x = F32([2, 3], 1, 2, 3, 4, 5, 6);
        var y = Run("QuantizeLinear", 13, A(("axis", 1L)), x, F32([3], 1, 2, 4), U8([3], 0, 10, 20));
        Assert.Equal([1L, 11, 21, 4, 12, 22], L(y)); // 3/4 = 0.75 → 1; 6/4 = 1.5 → 2
        y = Run("QuantizeLinear", 13, A(("axis", 0L)), x, F32([2], 1, 0.5f));
        Assert.Equal([1L, 2, 3, 8, 10, 12], L(y));
        // Blocks of 2 along axis 1 of a [2, 5] tensor: scale [2, 3].
        var b = F32([2, 5], 1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
        y = Run("QuantizeLinear", 21, A(("axis", 1L), ("block_size", 2L)), b, F32([2, 3], 1, 2, 4, 0.5f, 1, 2), I8([2, 3], 0, 0, 0, 0, 0, 1));
        Assert.Equal([1L, 2, 2, 2, 1, 12, 14, 8, 9, 6], L(y));
        Fails("QuantizeLinear", 13, A(("axis", 1L)), x, F32([2], 1, 1));
        Fails("QuantizeLinear", 21, A(("axis", 1L), ("block_size", 2L)), b, F32([2, 2], 1, 1, 1, 1));
    }

    [Fact]
    public void QuantizeToFloat8()
    {
        var x = F32([5], 1, 0.3f, 500, -500, float.NaN);
        var y = Run("QuantizeLinear", 19, null, x, F32([], 1), Tensor.Create(ElementType.Float8E4M3FN, [1]));
        Assert.Equal(new byte[] { 0x38, 0x2A, 0x7E, 0xFE }, y.Bytes[..4].ToArray());
        Assert.Equal(0x7F, y.Bytes[4] & 0x7F); // NaN (either sign)
        y = Run("QuantizeLinear", 19, A(("saturate", 0L)), x, F32([], 1), Tensor.Create(ElementType.Float8E4M3FN, [1]));
        Assert.Equal(new byte[] { 0x38, 0x2A, 0x7F, 0xFF }, y.Bytes[..4].ToArray());
        y = Run("QuantizeLinear", 19, A(("saturate", 0L)), F32([2], 1, 1e6f), F32([], 1), Tensor.Create(ElementType.Float8E5M2, []));
        Assert.Equal(new byte[] { 0x3C, 0x7C }, y.Bytes.ToArray());
    }

    [Fact]
    public void QuantizeLowPrecisionInputs()
    {
        var x = Of(ElementType.Float16, [3], 0.5, 1.5, -3);
        var y = Run("QuantizeLinear", 19, null, x, Of(ElementType.Float16, [], 0.5), U8([], 10));
        Assert.Equal([11L, 13, 4], L(y));
        var b = Of(ElementType.BFloat16, [2], 2.5, -2.5);
        Assert.Equal([2L, -2], L(Run("QuantizeLinear", 19, null, b, Of(ElementType.BFloat16, [], 1), I8([], 0))));
    }

    [Fact]
    public void DequantizeVariants()
    {
        Assert.Equal([-256.0, 254], D(Run("DequantizeLinear", 13, null, I8([2], -128, 127), F32([], 2), I8([], 0))));
        Assert.Equal([-2.0, 0, 3], D(Run("DequantizeLinear", 10, null, U8([3], 126, 128, 131), F32([], 1), U8([], 128))));
        var y = Run("DequantizeLinear", 13, A(("axis", 0L)), U8([2, 2], 10, 20, 30, 40), F32([2], 0.5f, 2), U8([2], 10, 0));
        Assert.Equal([0.0, 5, 60, 80], D(y));
        y = Run("DequantizeLinear", 21, A(("axis", 1L), ("block_size", 2L)), I8([1, 3], 1, 2, 3), F32([1, 2], 1, 10));
        Assert.Equal([1.0, 2, 30], D(y));
        y = Run("DequantizeLinear", 21, null, Of(ElementType.Int4, [3], -8, 7, 1), F32([], 0.5f), Of(ElementType.Int4, [], -1));
        Assert.Equal([-3.5, 4, 1], D(y));
        Assert.Equal([-6.0], D(Run("DequantizeLinear", 13, null, I32([1], -3), F32([], 2))));
        y = Run("DequantizeLinear", 19, null, Of(ElementType.Float8E4M3FN, [2], 1.5, -448), F32([], 2));
        Assert.Equal([3.0, -896], D(y));
        Fails("DequantizeLinear", 13, null, I8([1], 1), F32([], 1), U8([], 0));
    }

    [Fact]
    public void DequantizeRoundsOnceToTheScaleType()
    {
        var rng = new Random(5);
        var q = Enumerable.Range(0, 17).Select(_ => (byte)rng.Next(256)).ToArray();
        double s = 0.0123456789;
        var scale16 = Of(ElementType.Float16, [], RoundToF16(s));
        var y = Run("DequantizeLinear", 19, null, U8([17], q), scale16, U8([], 77));
        Assert.Equal(ElementType.Float16, y.Type);
        Assert.Equal(q.Select(v => RoundToF16((v - 77) * RoundToF16(s))), D(y));
        var scaleBf = Of(ElementType.BFloat16, [], RoundToBf16(s));
        y = Run("DequantizeLinear", 19, null, U8([17], q), scaleBf, U8([], 77));
        Assert.Equal(ElementType.BFloat16, y.Type);
        Assert.Equal(q.Select(v => RoundToBf16((v - 77) * RoundToBf16(s))), D(y));
    }

    [Fact]
    public void DynamicQuantizeSpecExample()
    {
        var r = RunAll("DynamicQuantizeLinear", 11, null, 3, F32([6], 0, 2, -3, -2.5f, 1.34f, 0.5f));
        Assert.Equal([153L, 255, 0, 26, 221, 179], L(r[0]!));
        Assert.Equal((double)(5f / 255f), D(r[1]!)[0]);
        Assert.Equal([153L], L(r[2]!));
        r = RunAll("DynamicQuantizeLinear", 11, null, 3, F32([3], 1, 2.5f, 4));
        Assert.Equal([0L], L(r[2]!));
        Assert.Equal([64L, 159, 255], L(r[0]!));
        r = RunAll("DynamicQuantizeLinear", 11, null, 3, F32([2], 0, 0));
        Assert.Equal([0L, 0], L(r[0]!));
    }

    [Fact]
    public void QLinearMatMulOnnxExample()
    {
        var a = U8([2, 4], 208, 236, 0, 238, 3, 214, 255, 29);
        var b = U8([4, 3], 152, 51, 244, 60, 26, 255, 0, 127, 246, 127, 254, 247);
        var y = Run("QLinearMatMul", 10, null, a, F32([], 0.0066f), U8([], 113), b, F32([], 0.00705f), U8([], 114), F32([], 0.0107f), U8([], 118));
        Assert.Equal([168L, 115, 255, 1, 66, 151], L(y));
    }

    /// <summary>Dequantize, multiply exactly (power-of-two scales), requantise: the expected values.</summary>
    [Fact]
    public void QLinearMatMulBatchedPerColumnInt8()
    {
        var rng = new Random(11);
        var av = Enumerable.Range(0, 2 * 3 * 5).Select(_ => (sbyte)rng.Next(-128, 128)).ToArray();
        var bv = Enumerable.Range(0, 5 * 7).Select(_ => (sbyte)rng.Next(-128, 128)).ToArray();
        double[] bScale = [0.25, 0.5, 0.125, 1, 0.25, 2, 0.0625];
        sbyte[] bZp = [0, 1, -1, 3, 0, 0, 5];
        var y = Run("QLinearMatMul", 10, null, I8([2, 3, 5], av), F32([], 0.5f), I8([], -3), I8([5, 7], bv),
            F32([7], bScale.Select(v => (float)v).ToArray()), I8([7], bZp), F32([], 4), I8([], 2));
        AssertShape([2, 3, 7], y);
        var got = L(y);
        for (int bi = 0; bi < 2; bi++)
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 7; j++)
                {
                    double real = 0;
                    for (int k = 0; k < 5; k++) real += (av[(bi * 3 + i) * 5 + k] + 3) * 0.5 * (bv[k * 7 + j] - bZp[j]) * bScale[j];
                    long q = Math.Clamp((long)Math.Round(real / 4, MidpointRounding.ToEven) + 2, -128, 127);
                    Assert.Equal(q, got[(bi * 3 + i) * 7 + j]);
                }
    }

    [Theory]
    [InlineData(1L, "NOTSET")]
    [InlineData(2L, "NOTSET")]
    [InlineData(2L, "SAME_UPPER")]
    [InlineData(1L, "SAME_LOWER")]
    [InlineData(1L, "VALID")]
    public void QLinearConvMatchesDequantizedConvolution(long group, string autoPad)
    {
        long N = 1, C = 4, H = 7, W = 5, M = 6, KH = 3, KW = 2;
        long[] strides = [2, 1], dil = [1, 2], pads = [1, 0, 1, 2];
        var rng = new Random(13);
        var xv = Enumerable.Range(0, (int)(N * C * H * W)).Select(_ => (byte)rng.Next(256)).ToArray();
        var wv = Enumerable.Range(0, (int)(M * C / group * KH * KW)).Select(_ => (sbyte)rng.Next(-128, 128)).ToArray();
        var bias = Enumerable.Range(0, (int)M).Select(_ => rng.Next(-500, 500)).ToArray();
        double xs = 0.5, ys = 8;
        double[] ws = [0.25, 0.5, 1, 0.125, 2, 0.25];
        sbyte[] wz = [0, 1, -2, 0, 3, 0];
        byte xz = 100, yz = 120;
        var attrs = A(("group", group), ("strides", strides), ("dilations", dil), ("auto_pad", autoPad));
        if (autoPad == "NOTSET") attrs["pads"] = pads;
        var y = Run("QLinearConv", 10, attrs, U8([N, C, H, W], xv), F32([], (float)xs), U8([], xz),
            I8([M, C / group, KH, KW], wv), F32([M], ws.Select(v => (float)v).ToArray()), I8([M], wz), F32([], (float)ys), U8([], yz), I32([M], bias));

        // Geometry written out from the spec.
        long[] inSz = [H, W], k = [KH, KW], padB = new long[2], outSz = new long[2];
        for (int d = 0; d < 2; d++)
        {
            long eff = dil[d] * (k[d] - 1) + 1;
            if (autoPad.StartsWith("SAME"))
            {
                outSz[d] = (long)Math.Ceiling(inSz[d] / (double)strides[d]);
                long total = Math.Max(0, (outSz[d] - 1) * strides[d] + eff - inSz[d]);
                padB[d] = autoPad == "SAME_UPPER" ? total / 2 : (total + 1) / 2;
            }
            else
            {
                long pb = autoPad == "VALID" ? 0 : pads[d], pe = autoPad == "VALID" ? 0 : pads[d + 2];
                padB[d] = pb;
                outSz[d] = (inSz[d] + pb + pe - eff) / strides[d] + 1;
            }
        }
        AssertShape([N, M, outSz[0], outSz[1]], y);
        var got = L(y);
        long cg = C / group, mg = M / group;
        for (long m = 0; m < M; m++)
            for (long oh = 0; oh < outSz[0]; oh++)
                for (long ow = 0; ow < outSz[1]; ow++)
                {
                    double real = bias[m] * xs * ws[m];
                    for (long c = 0; c < cg; c++)
                        for (long kh = 0; kh < KH; kh++)
                            for (long kw = 0; kw < KW; kw++)
                            {
                                long ih = oh * strides[0] - padB[0] + kh * dil[0], iw = ow * strides[1] - padB[1] + kw * dil[1];
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                long xc = m / mg * cg + c;
                                double xr = (xv[(xc * H + ih) * W + iw] - xz) * xs;
                                double wr = (wv[((m * cg + c) * KH + kh) * KW + kw] - wz[m]) * ws[m];
                                real += xr * wr;
                            }
                    long q = Math.Clamp((long)Math.Round(real / ys, MidpointRounding.ToEven) + yz, 0, 255);
                    Assert.Equal(q, got[(m * outSz[0] + oh) * outSz[1] + ow]);
                }
    }

    [Fact]
    public void QLinearConvOneDimensional()
    {
        // x = [1, 2, 3] (zero point 0, scale 1), w = [1, 1] (scale 1): sums of neighbours; y scale 1, zero point 0.
        var y = Run("QLinearConv", 10, A(("pads", new long[] { 1, 1 })), U8([1, 1, 3], 1, 2, 3), F32([], 1), U8([], 0),
            U8([1, 1, 2], 1, 1), F32([], 1), U8([], 0), F32([], 1), U8([], 0));
        Assert.Equal([1L, 3, 5, 3], L(y));
        Assert.Null(Create("QLinearConv", 10, null, 1, out var reason, F32([1, 1, 3], 1, 2, 3), F32([], 1), U8([], 0),
            U8([1, 1, 2], 1, 1), F32([], 1), U8([], 0), F32([], 1), U8([], 0)));
        Assert.Contains("f32", reason);
        // Types unknown before running: the kernel checks them when it runs.
        var kernel = Create("QLinearConv", 10, null, 1, out _)!;
        Assert.Throws<KernelException>(() => kernel.Run(new KernelContext(new Alloy.Runtime.Execution.PlanExecutor(1), 1),
            new Tensor?[] { F32([1, 1, 3], 1, 2, 3), F32([], 1), U8([], 0), U8([1, 1, 2], 1, 1), F32([], 1), U8([], 0), F32([], 1), U8([], 0) }, new Tensor?[1]));
    }
}
