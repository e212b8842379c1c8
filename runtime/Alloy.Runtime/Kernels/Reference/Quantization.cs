using Alloy.Runtime.Numerics;
using static Alloy.Runtime.Kernels.Reference.ShapeHelpers;

namespace Alloy.Runtime.Kernels.Reference;

/// <summary>
/// Quantization family: QuantizeLinear, DequantizeLinear (per-tensor, per-axis, blocked), DynamicQuantizeLinear,
/// QLinearConv, QLinearMatMul. Quantization is y = saturate(round_half_even(x / scale) + zero_point), the division
/// in float32 as ONNX Runtime and the ONNX reference compute it (double when x or scale is double); float8/float4
/// outputs are x / scale + zero_point rounded to nearest even, saturating unless saturate = 0. Dequantization is
/// (x - zero_point) * scale, exact in double and rounded once to the output type. The integer ops accumulate in
/// int32 (wrapping like C) and requantise with the float32 multiplier x_scale * w_scale / y_scale applied in
/// double.
/// </summary>
internal static partial class ReferenceKernels
{
    static partial void RegisterQuantization(KernelRegistry r)
    {
        r.Register("QuantizeLinear", QuantizationOps.QuantizeLinear);
        r.Register("DequantizeLinear", QuantizationOps.DequantizeLinear);
        r.Register("DynamicQuantizeLinear", _ => QuantizationOps.DynamicQuantizeLinear());
        r.Register("QLinearMatMul", (KernelNode n, out string? reason) =>
        {
            reason = QuantizationOps.CheckInteger8Inputs(n, 0, 3);
            return reason is null ? QuantizationOps.QLinearMatMul() : null;
        });
        r.Register("QLinearConv", QuantizationOps.QLinearConv);
    }
}

/// <summary>Ranges of the integer quantized types.</summary>
internal static class QuantRange
{
    public static (double Lo, double Hi) Of(ElementType t) => t switch
    {
        ElementType.Int8 => (sbyte.MinValue, sbyte.MaxValue),
        ElementType.UInt8 => (0, byte.MaxValue),
        ElementType.Int16 => (short.MinValue, short.MaxValue),
        ElementType.UInt16 => (0, ushort.MaxValue),
        ElementType.Int32 => (int.MinValue, int.MaxValue),
        ElementType.UInt32 => (0, uint.MaxValue),
        ElementType.Int64 => (long.MinValue, long.MaxValue),
        ElementType.UInt64 => (0, ulong.MaxValue),
        ElementType.Int4 => (-8, 7),
        ElementType.UInt4 => (0, 15),
        ElementType.Bool => (0, 1),
        _ => throw new KernelTypeException(t),
    };

    /// <summary>Rounds half to even and saturates to the integer type's range.</summary>
    public static long Saturate(double v, ElementType t)
    {
        var (lo, hi) = Of(t);
        double r = Math.Round(v, MidpointRounding.ToEven);
        if (double.IsNaN(r)) return 0;
        return r <= lo ? (long)lo : r >= hi ? (long)hi : (long)r;
    }
}

internal static class QuantizationOps
{
    private static bool IsMiniFloat(ElementType t) => t is ElementType.Float8E4M3FN or ElementType.Float8E4M3FNUZ
        or ElementType.Float8E5M2 or ElementType.Float8E5M2FNUZ or ElementType.Float4E2M1;

    private static bool IsQuantizedType(ElementType t) => IsMiniFloat(t) || t is ElementType.Int8 or ElementType.UInt8
        or ElementType.Int16 or ElementType.UInt16 or ElementType.Int4 or ElementType.UInt4;

    /// <summary>
    /// For element i of <paramref name="x"/>, the index of its scale (and zero point): one scale (per-tensor),
    /// a 1-D scale along <paramref name="axis"/> (per-axis), or a scale of x's rank whose axis dimension counts
    /// blocks of <paramref name="blockSize"/> (blocked).
    /// </summary>
    public static Func<long, long> ScaleIndex(Tensor x, Tensor scale, long axis, long blockSize)
    {
        if (blockSize < 0) throw new KernelException($"block_size {blockSize} must not be negative");
        if (blockSize == 0 && scale.Length == 1 && scale.Rank <= 1) return _ => 0;
        int a = Axis(axis, x.Rank);
        long dim = x.Shape[a];
        long inner = Count(x.Shape.AsSpan(a + 1));
        if (blockSize == 0)
        {
            if (scale.Rank != 1 || scale.Length != dim)
                throw new KernelException($"per-axis scale {scale.ShapeText} must be 1-D with the {dim} entries of axis {a} of {x.ShapeText}");
            return i => i / inner % dim;
        }
        long blocks = (dim + blockSize - 1) / blockSize;
        bool ok = scale.Rank == x.Rank;
        for (int d = 0; ok && d < x.Rank; d++) ok = scale.Shape[d] == (d == a ? blocks : x.Shape[d]);
        if (!ok)
            throw new KernelException($"blocked scale {scale.ShapeText} must match {x.ShapeText} with {blocks} blocks of {blockSize} on axis {a}");
        return i =>
        {
            long o = i / (dim * inner), j = i / inner % dim, r = i % inner;
            return (o * blocks + j / blockSize) * inner + r;
        };
    }

    private static void CheckZeroPoint(Tensor? zp, Tensor scale)
    {
        if (zp is not null && !zp.Shape.SequenceEqual(scale.Shape) && !(zp.Length == 1 && scale.Length == 1))
            throw new KernelException($"zero point {zp.ShapeText} must have the shape of the scale {scale.ShapeText}");
    }

    public static IKernel? QuantizeLinear(KernelNode n, out string? reason)
    {
        reason = null;
        long axis = n.Attributes.GetInt("axis", 1);
        long blockSize = n.Attributes.GetInt("block_size", 0);
        bool saturate = n.Attributes.GetInt("saturate", 1) != 0;
        long outputDtype = n.Attributes.GetInt("output_dtype", 0);
        if (n.Attributes.Has("precision") && n.Attributes.GetInt("precision") != 0)
        {
            reason = "QuantizeLinear 'precision' attribute is not supported";
            return null;
        }
        if (outputDtype != 0 && !IsQuantizedType((ElementType)outputDtype))
        {
            reason = $"QuantizeLinear output_dtype {outputDtype} is not a quantized type";
            return null;
        }
        return new MovementKernel((inputs, outputs) =>
        {
            var x = In(inputs, 0, "x");
            var scale = In(inputs, 1, "y_scale");
            var zp = Opt(inputs, 2);
            if (!x.Type.IsFloat() && x.Type != ElementType.Int32) throw new KernelException($"x must be float or int32, got {x.Type.Name()}");
            if (!scale.Type.IsFloat()) throw new KernelException($"y_scale must be float, got {scale.Type.Name()}");
            var outType = zp?.Type ?? (outputDtype != 0 ? (ElementType)outputDtype : ElementType.UInt8);
            if (outputDtype != 0 && outType != (ElementType)outputDtype)
                throw new KernelException($"y_zero_point is {outType.Name()} but output_dtype is {((ElementType)outputDtype).Name()}");
            if (!IsQuantizedType(outType)) throw new KernelException($"cannot quantize to {outType.Name()}");
            CheckZeroPoint(zp, scale);
            var index = ScaleIndex(x, scale, axis, blockSize);
            bool wide = x.Type == ElementType.Double || scale.Type == ElementType.Double;
            var y = Tensor.Create(outType, x.Shape);
            outputs[0] = y;
            for (long i = 0; i < x.Length; i++)
            {
                long s = index(i);
                double xv = ElementConvert.GetDouble(x, i), sv = ElementConvert.GetDouble(scale, s);
                double q = wide ? xv / sv : (float)xv / (float)sv;
                if (IsMiniFloat(outType))
                {
                    float v = (float)(q + (zp is null ? 0 : ElementConvert.GetDouble(zp, s)));
                    int code = MiniFloat.Encode(v, outType, saturate);
                    if (outType == ElementType.Float4E2M1) SetNibble(y.Bytes, (int)i, code);
                    else y.Bytes[(int)i] = (byte)code;
                }
                else
                {
                    double r = Math.Round(q, MidpointRounding.ToEven) + (zp is null ? 0 : ElementConvert.GetLong(zp, s));
                    ElementConvert.SetLong(y, i, QuantRange.Saturate(r, outType));
                }
            }
        });
    }

    public static IKernel? DequantizeLinear(KernelNode n, out string? reason)
    {
        reason = null;
        long axis = n.Attributes.GetInt("axis", 1);
        long blockSize = n.Attributes.GetInt("block_size", 0);
        long outputDtype = n.Attributes.GetInt("output_dtype", 0);
        if (outputDtype != 0 && !((ElementType)outputDtype).IsFloat())
        {
            reason = $"DequantizeLinear output_dtype {outputDtype} is not a float type";
            return null;
        }
        return new MovementKernel((inputs, outputs) =>
        {
            var x = In(inputs, 0, "x");
            var scale = In(inputs, 1, "x_scale");
            var zp = Opt(inputs, 2);
            if (!IsQuantizedType(x.Type) && x.Type != ElementType.Int32) throw new KernelException($"cannot dequantize {x.Type.Name()}");
            if (!scale.Type.IsFloat()) throw new KernelException($"x_scale must be float, got {scale.Type.Name()}");
            if (zp is not null && zp.Type != x.Type) throw new KernelException($"x_zero_point is {zp.Type.Name()}, x is {x.Type.Name()}");
            CheckZeroPoint(zp, scale);
            var index = ScaleIndex(x, scale, axis, blockSize);
            var y = Tensor.Create(outputDtype != 0 ? (ElementType)outputDtype : scale.Type, x.Shape);
            outputs[0] = y;
            bool floatData = x.Type.IsFloat();
            for (long i = 0; i < x.Length; i++)
            {
                long s = index(i);
                double d = floatData
                    ? ElementConvert.GetDouble(x, i) - (zp is null ? 0 : ElementConvert.GetDouble(zp, s))
                    : ElementConvert.GetLong(x, i) - (zp is null ? 0 : ElementConvert.GetLong(zp, s));
                ElementConvert.SetDouble(y, i, d * ElementConvert.GetDouble(scale, s));
            }
        });
    }

    /// <summary>uint8 quantization with scale and zero point from the data range (extended to include 0), in float32.</summary>
    public static IKernel DynamicQuantizeLinear() => new MovementKernel((inputs, outputs) =>
    {
        var x = In(inputs, 0, "x");
        if (!x.Type.IsFloat()) throw new KernelException($"x must be float, got {x.Type.Name()}");
        var v = ElementConvert.ToFloats(x);
        float min = 0, max = 0;
        foreach (var f in v)
        {
            if (float.IsNaN(f)) throw new KernelException("x contains NaN");
            min = Math.Min(min, f);
            max = Math.Max(max, f);
        }
        float scale = (max - min) / 255f;
        float zpReal = scale == 0 ? 0 : 0f - min / scale;
        long zp = QuantRange.Saturate(zpReal, ElementType.UInt8);
        var y = Tensor.Create(ElementType.UInt8, x.Shape);
        var ys = y.Span<byte>();
        for (int i = 0; i < v.Length; i++)
            ys[i] = scale == 0 ? (byte)zp : (byte)QuantRange.Saturate(Math.Round(v[i] / scale, MidpointRounding.ToEven) + zp, ElementType.UInt8);
        outputs[0] = y;
        if (outputs.Length > 1) outputs[1] = Tensor.FromArray(ElementType.Float, [], [scale]);
        if (outputs.Length > 2) outputs[2] = Tensor.FromArray(ElementType.UInt8, [], [(byte)zp]);
    });

    /// <summary>Why the node cannot run when an operand known before running is not int8/uint8 (float8 variants).</summary>
    public static string? CheckInteger8Inputs(KernelNode n, params int[] operands)
    {
        foreach (var i in operands)
            if (i < n.InputTypes.Count && n.InputTypes[i] is { } t && t is not (ElementType.Int8 or ElementType.UInt8))
                return $"{n.OpType} supports int8/uint8 operands, input {i} is {t.Name()}";
        return null;
    }

    private static void CheckInteger8(ElementType t, string name)
    {
        if (t is not (ElementType.Int8 or ElementType.UInt8))
            throw new KernelException($"{name} must be int8 or uint8, got {t.Name()}");
    }

    /// <summary>A per-tensor (one value) or per-channel (<paramref name="count"/> values) parameter.</summary>
    private static Func<long, double> PerChannel(Tensor? t, long count, string name, ElementType? zeroPointOf = null)
    {
        if (t is null) return _ => 0;
        if (zeroPointOf is { } type && t.Type != type) throw new KernelException($"{name} is {t.Type.Name()}, expected {type.Name()}");
        if (t.Length == 1) { double v = ElementConvert.GetDouble(t, 0); return _ => v; }
        if (t.Rank != 1 || t.Length != count) throw new KernelException($"{name} {t.ShapeText} must hold 1 or {count} values");
        var values = ElementConvert.ToDoubles(t);
        return i => values[i];
    }

    private static double Scalar(Tensor? t, string name, double fallback = 0)
    {
        if (t is null) return fallback;
        if (t.Length != 1) throw new KernelException($"{name} must hold one value, got shape {t.ShapeText}");
        return ElementConvert.GetDouble(t, 0);
    }

    public static IKernel QLinearMatMul() => new MovementKernel((inputs, outputs) =>
    {
        var a = In(inputs, 0, "a");
        var b = In(inputs, 3, "b");
        CheckInteger8(a.Type, "a");
        CheckInteger8(b.Type, "b");
        var yzpTensor = Opt(inputs, 7);
        var outType = yzpTensor?.Type ?? a.Type;
        CheckInteger8(outType, "y_zero_point");
        if (a.Rank == 0 || b.Rank == 0) throw new KernelException("QLinearMatMul needs inputs of rank at least 1");
        // numpy matmul shapes: a 1-D a is a row, a 1-D b a column, both dropped from the result.
        long[] aShape = a.Rank == 1 ? [1, a.Shape[0]] : a.Shape;
        long[] bShape = b.Rank == 1 ? [b.Shape[0], 1] : b.Shape;
        long M = aShape[^2], K = aShape[^1], N = bShape[^1];
        if (bShape[^2] != K) throw new KernelException($"cannot multiply {a.ShapeText} by {b.ShapeText}");
        var batch = Broadcast.Shape(aShape[..^2], bShape[..^2]);
        var aBatch = Broadcast.SourceIndices(aShape[..^2], batch);
        var bBatch = Broadcast.SourceIndices(bShape[..^2], batch);
        var aScale = PerChannel(In(inputs, 1, "a_scale"), M, "a_scale");
        var aZp = PerChannel(Opt(inputs, 2), M, "a_zero_point", a.Type);
        var bScale = PerChannel(In(inputs, 4, "b_scale"), N, "b_scale");
        var bZp = PerChannel(Opt(inputs, 5), N, "b_zero_point", b.Type);
        double yScale = Scalar(In(inputs, 6, "y_scale"), "y_scale");
        double yZp = Scalar(yzpTensor, "y_zero_point");
        var av = ElementConvert.ToLongs(a);
        var bv = ElementConvert.ToLongs(b);
        var outShape = batch.Concat(a.Rank == 1 ? [] : new[] { M }).Concat(b.Rank == 1 ? [] : new[] { N }).ToArray();
        var y = Tensor.Create(outType, outShape);
        outputs[0] = y;
        long p = 0;
        for (long bi = 0; bi < aBatch.Length; bi++)
            for (long i = 0; i < M; i++)
                for (long j = 0; j < N; j++)
                {
                    int acc = 0;
                    int za = (int)aZp(i), zb = (int)bZp(j);
                    for (long k = 0; k < K; k++)
                        acc = unchecked(acc + ((int)av[(aBatch[bi] * M + i) * K + k] - za) * ((int)bv[(bBatch[bi] * K + k) * N + j] - zb));
                    float multiplier = (float)aScale(i) * (float)bScale(j) / (float)yScale;
                    ElementConvert.SetLong(y, p++, QuantRange.Saturate(Math.Round(acc * (double)multiplier, MidpointRounding.ToEven) + yZp, outType));
                }
    });

    public static IKernel? QLinearConv(KernelNode n, out string? reason)
    {
        reason = CheckInteger8Inputs(n, 0, 3);
        if (reason is not null) return null;
        var attrs = n.Attributes;
        string autoPad = attrs.GetString("auto_pad", "NOTSET");
        if (autoPad is not ("NOTSET" or "SAME_UPPER" or "SAME_LOWER" or "VALID"))
        {
            reason = $"auto_pad '{autoPad}' is not supported";
            return null;
        }
        long group = attrs.GetInt("group", 1);
        long[]? dilationsAttr = attrs.GetInts("dilations"), stridesAttr = attrs.GetInts("strides"), padsAttr = attrs.GetInts("pads"), kernelAttr = attrs.GetInts("kernel_shape");
        return new MovementKernel((inputs, outputs) =>
        {
            var x = In(inputs, 0, "x");
            var w = In(inputs, 3, "w");
            CheckInteger8(x.Type, "x");
            CheckInteger8(w.Type, "w");
            var yzpTensor = Opt(inputs, 7);
            var outType = yzpTensor?.Type ?? x.Type;
            CheckInteger8(outType, "y_zero_point");
            int spatial = x.Rank - 2;
            if (spatial < 1 || w.Rank != x.Rank) throw new KernelException($"x {x.ShapeText} and w {w.ShapeText} must have the same rank, at least 3");
            long N = x.Shape[0], C = x.Shape[1], M = w.Shape[0];
            if (group < 1 || C % group != 0 || M % group != 0 || w.Shape[1] != C / group)
                throw new KernelException($"group {group} does not fit x {x.ShapeText} and w {w.ShapeText}");
            var kernel = kernelAttr ?? w.Shape[2..];
            if (kernel.Length != spatial || !kernel.SequenceEqual(w.Shape[2..]))
                throw new KernelException($"kernel_shape [{string.Join(",", kernel)}] does not match w {w.ShapeText}");
            var dil = dilationsAttr ?? Enumerable.Repeat(1L, spatial).ToArray();
            var str = stridesAttr ?? Enumerable.Repeat(1L, spatial).ToArray();
            if (dil.Length != spatial || str.Length != spatial || dil.Any(v => v < 1) || str.Any(v => v < 1))
                throw new KernelException("dilations and strides need one positive value per spatial axis");
            var padBegin = new long[spatial];
            var outSpatial = new long[spatial];
            for (int d = 0; d < spatial; d++)
            {
                long inSize = x.Shape[2 + d], eff = dil[d] * (kernel[d] - 1) + 1;
                if (autoPad is "SAME_UPPER" or "SAME_LOWER")
                {
                    outSpatial[d] = (inSize + str[d] - 1) / str[d];
                    long total = Math.Max(0, (outSpatial[d] - 1) * str[d] + eff - inSize);
                    padBegin[d] = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
                }
                else
                {
                    long pb = 0, pe = 0;
                    if (autoPad == "NOTSET" && padsAttr is not null)
                    {
                        if (padsAttr.Length != 2 * spatial) throw new KernelException($"pads has {padsAttr.Length} entries for {spatial} spatial axes");
                        pb = padsAttr[d];
                        pe = padsAttr[spatial + d];
                    }
                    padBegin[d] = pb;
                    outSpatial[d] = (inSize + pb + pe - eff) / str[d] + 1;
                    if (inSize + pb + pe < eff) outSpatial[d] = 0;
                }
            }
            double xScale = Scalar(In(inputs, 1, "x_scale"), "x_scale");
            var xzpTensor = Opt(inputs, 2);
            if (xzpTensor is not null && xzpTensor.Type != x.Type) throw new KernelException($"x_zero_point is {xzpTensor.Type.Name()}, x is {x.Type.Name()}");
            int xZp = (int)Scalar(xzpTensor, "x_zero_point");
            var wScale = PerChannel(In(inputs, 4, "w_scale"), M, "w_scale");
            var wZp = PerChannel(Opt(inputs, 5), M, "w_zero_point", w.Type);
            double yScale = Scalar(In(inputs, 6, "y_scale"), "y_scale");
            double yZp = Scalar(yzpTensor, "y_zero_point");
            var biasTensor = Opt(inputs, 8);
            if (biasTensor is not null && (biasTensor.Type != ElementType.Int32 || biasTensor.Length != M))
                throw new KernelException($"B must be int32 with {M} values, got {biasTensor}");
            var bias = biasTensor is null ? new long[M] : ElementConvert.ToLongs(biasTensor);
            var xv = ElementConvert.ToLongs(x);
            var wv = ElementConvert.ToLongs(w);
            var xStrides = Strides(x.Shape);
            var wStrides = Strides(w.Shape);
            long cPerGroup = C / group, mPerGroup = M / group;
            var outShape = new[] { N, M }.Concat(outSpatial).ToArray();
            var y = Tensor.Create(outType, outShape);
            outputs[0] = y;
            var kernelPositions = new List<long[]>();
            ForEachIndex(kernel, (idx, _) => kernelPositions.Add((long[])idx.Clone()));
            ForEachIndex(outShape, (o, flat) =>
            {
                long nn = o[0], m = o[1], g = m / mPerGroup;
                int acc = (int)bias[m];
                int zw = (int)wZp(m);
                for (long c = 0; c < cPerGroup; c++)
                {
                    long xc = g * cPerGroup + c;
                    foreach (var kp in kernelPositions)
                    {
                        long xi = nn * xStrides[0] + xc * xStrides[1];
                        bool inside = true;
                        for (int d = 0; d < spatial && inside; d++)
                        {
                            long pos = o[2 + d] * str[d] - padBegin[d] + kp[d] * dil[d];
                            inside = pos >= 0 && pos < x.Shape[2 + d];
                            xi += pos * xStrides[2 + d];
                        }
                        if (!inside) continue; // padding holds the zero point: contributes nothing
                        long wi = m * wStrides[0] + c * wStrides[1];
                        for (int d = 0; d < spatial; d++) wi += kp[d] * wStrides[2 + d];
                        acc = unchecked(acc + ((int)xv[xi] - xZp) * ((int)wv[wi] - zw));
                    }
                }
                float multiplier = (float)xScale * (float)wScale(m) / (float)yScale;
                ElementConvert.SetLong(y, flat, QuantRange.Saturate(Math.Round(acc * (double)multiplier, MidpointRounding.ToEven) + yZp, outType));
            });
        });
    }
}
