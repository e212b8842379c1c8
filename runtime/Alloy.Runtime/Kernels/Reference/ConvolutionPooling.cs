using Alloy.Runtime.Numerics;
using static Alloy.Runtime.Kernels.Reference.LinearAlgebraHelpers;

namespace Alloy.Runtime.Kernels.Reference;

internal static partial class ReferenceKernels
{
    private static void RegisterConvolutionPooling(KernelRegistry r)
    {
        r.Register("MaxPool", (KernelNode n, out string? reason) => CreateSlidingPool(n, PoolKind.Max, out reason));
        r.Register("AveragePool", (KernelNode n, out string? reason) => CreateSlidingPool(n, PoolKind.Average, out reason));
        r.Register("LpPool", (KernelNode n, out string? reason) => CreateSlidingPool(n, PoolKind.Lp, out reason));
        r.Register("GlobalMaxPool", (KernelNode n, out string? reason) => CreateGlobalPooling(n, PoolKind.Max, out reason));
        r.Register("GlobalAveragePool", (KernelNode n, out string? reason) => CreateGlobalPooling(n, PoolKind.Average, out reason));
        r.Register("GlobalLpPool", (KernelNode n, out string? reason) => CreateGlobalPooling(n, PoolKind.Lp, out reason));
    }

    private static string? SlidingPoolTypeReason(KernelNode n, PoolKind kind)
    {
        if (n.InputTypes.Count > 0 && n.InputTypes[0] is { } t && !t.IsFloat() && !(kind == PoolKind.Max && t is ElementType.Int8 or ElementType.UInt8))
            return $"{n.OpType}: input 'X' of type {t.Name()} is not supported";
        return null;
    }

    /// <summary>LpPool's p: an int (opset 2+) or a float (opset 1); default 2.</summary>
    private static double LpPoolExponent(KernelNode n)
    {
        if (!n.Attributes.Has("p")) return 2;
        try
        {
            return n.Attributes.GetInt("p");
        }
        catch (KernelException)
        {
            return n.Attributes.GetFloat("p", 2f);
        }
    }

    private static IKernel? CreateSlidingPool(KernelNode n, PoolKind kind, out string? reason)
    {
        reason = SlidingPoolTypeReason(n, kind);
        if (reason is not null) return null;
        var a = SpatialAttributes.Read(n, out reason);
        if (a is null) return null;
        if (a.KernelShape is null)
        {
            reason = $"{n.OpType}: required attribute 'kernel_shape' is missing";
            return null;
        }
        long storageOrder = n.Attributes.GetInt("storage_order", 0);
        if (storageOrder is not (0 or 1))
        {
            reason = $"{n.OpType}: storage_order {storageOrder} is not 0 or 1";
            return null;
        }
        double p = LpPoolExponent(n);
        if (kind == PoolKind.Lp && !(p > 0))
        {
            reason = $"{n.OpType}: p = {p} must be positive";
            return null;
        }
        return new PoolingKernel(n.OpType, kind, a, n.Attributes.GetInt("count_include_pad", 0) != 0, storageOrder == 1, p);
    }

    private static IKernel? CreateGlobalPooling(KernelNode n, PoolKind kind, out string? reason)
    {
        reason = SlidingPoolTypeReason(n, kind);
        if (reason is not null) return null;
        double p = LpPoolExponent(n);
        if (kind == PoolKind.Lp && !(p > 0))
        {
            reason = $"{n.OpType}: p = {p} must be positive";
            return null;
        }
        return new GlobalPoolingKernel(n.OpType, kind, p);
    }
}

internal enum PoolKind { Max, Average, Lp }

/// <summary>
/// MaxPool (opset 1-12), AveragePool (opset 1-19) and LpPool (opset 1-18) over any number of spatial dims:
/// kernel_shape, strides, pads / auto_pad, dilations, ceil_mode (the last window must start inside the input
/// or its leading padding). Padding never takes part in a max; AveragePool divides by the taps inside the input,
/// or with count_include_pad by the taps inside the input and its explicit padding; LpPool computes
/// (sum |x|^p)^(1/p) over the taps inside the input. MaxPool's optional Indices output holds flat indices into X
/// (row-major, or column-major over the spatial dims with storage_order = 1). Max propagates NaN.
/// </summary>
internal sealed class PoolingKernel(string op, PoolKind kind, SpatialAttributes attrs, bool countIncludePad, bool columnMajor, double p) : IKernel
{
    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = Required(inputs, 0, op, "X");
        if (!x.Type.IsFloat() && !(kind == PoolKind.Max && x.Type is ElementType.Int8 or ElementType.UInt8))
            throw new KernelException($"{op}: input 'X' of type {x.Type.Name()} is not supported");
        if (x.Rank < 3) throw new KernelException($"{op}: X must have rank >= 3 ([N, C, spatial...]), got {x.ShapeText}");
        var kernel = attrs.KernelShape!;
        if (kernel.Length != x.Rank - 2)
            throw new KernelException($"{op}: kernel_shape has {kernel.Length} values but X {x.ShapeText} has {x.Rank - 2} spatial dims");
        var win = SpatialWindow.Forward(op, attrs, x.Shape[2..], kernel, attrs.CeilMode);
        long planes = x.Shape[0] * x.Shape[1], inSize = win.InSize, outSize = win.OutSize;
        long[] outShape = [x.Shape[0], x.Shape[1], .. win.Out];
        var xv = ElementConvert.ToDoubles(x);
        var y = new double[planes * outSize];
        bool wantIndices = kind == PoolKind.Max && outputs.Length > 1;
        var indices = wantIndices ? new long[planes * outSize] : null;

        // Column-major spatial strides for storage_order = 1.
        var colStride = new long[win.Rank];
        for (int d = 0, s = 1; d < win.Rank; d++)
        {
            colStride[d] = s;
            s *= (int)win.In[d];
        }

        var taps = new List<(long Kernel, long Input)>();
        var o = new long[win.Rank];
        for (long of = 0; of < outSize; of++)
        {
            win.Taps(o, taps, out long padded);
            for (long pl = 0; pl < planes; pl++)
            {
                long xBase = pl * inSize;
                double v;
                if (kind == PoolKind.Max)
                {
                    v = double.NegativeInfinity;
                    long best = -1;
                    foreach (var (_, i) in taps)
                    {
                        double xi = xv[xBase + i];
                        if (double.IsNaN(xi))
                        {
                            v = xi;
                            best = i;
                            break;
                        }
                        if (best < 0 || xi > v)
                        {
                            v = xi;
                            best = i;
                        }
                    }
                    if (indices is not null)
                    {
                        long spatial = best;
                        if (columnMajor && best >= 0)
                        {
                            var coords = win.InputCoordinates(best);
                            spatial = 0;
                            for (int d = 0; d < win.Rank; d++) spatial += coords[d] * colStride[d];
                        }
                        indices[pl * outSize + of] = best < 0 ? -1 : xBase + spatial;
                    }
                }
                else if (kind == PoolKind.Average)
                {
                    double sum = 0;
                    foreach (var (_, i) in taps) sum += xv[xBase + i];
                    long count = countIncludePad ? padded : taps.Count;
                    v = count == 0 ? double.NaN : sum / count;
                }
                else
                {
                    double sum = 0;
                    foreach (var (_, i) in taps) sum += Math.Pow(Math.Abs(xv[xBase + i]), p);
                    v = Math.Pow(sum, 1 / p);
                }
                y[pl * outSize + of] = v;
            }
            Next(o, win.Out);
        }
        outputs[0] = ElementConvert.FromDoubles(x.Type, outShape, y);
        if (indices is not null) outputs[1] = ElementConvert.FromLongs(ElementType.Int64, outShape, indices);
    }
}

/// <summary>GlobalMaxPool, GlobalAveragePool, GlobalLpPool (opset 1, 2): one value per (n, c) over all spatial dims.</summary>
internal sealed class GlobalPoolingKernel(string op, PoolKind kind, double p) : IKernel
{
    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = Required(inputs, 0, op, "X");
        if (!x.Type.IsFloat() && !(kind == PoolKind.Max && x.Type is ElementType.Int8 or ElementType.UInt8))
            throw new KernelException($"{op}: input 'X' of type {x.Type.Name()} is not supported");
        if (x.Rank < 2) throw new KernelException($"{op}: X must have rank >= 2 ([N, C, spatial...]), got {x.ShapeText}");
        long planes = x.Shape[0] * x.Shape[1], size = Product(x.Shape[2..]);
        var outShape = x.Shape.Select((d, i) => i < 2 ? d : 1).ToArray();
        var xv = ElementConvert.ToDoubles(x);
        var y = new double[planes];
        for (long pl = 0; pl < planes; pl++)
        {
            double acc = kind == PoolKind.Max ? double.NegativeInfinity : 0;
            for (long i = 0; i < size; i++)
            {
                double v = xv[pl * size + i];
                acc = kind switch
                {
                    PoolKind.Max => double.IsNaN(v) || double.IsNaN(acc) ? double.NaN : Math.Max(acc, v),
                    PoolKind.Average => acc + v,
                    _ => acc + Math.Pow(Math.Abs(v), p),
                };
            }
            y[pl] = kind switch
            {
                PoolKind.Max => acc,
                PoolKind.Average => size == 0 ? double.NaN : acc / size,
                _ => Math.Pow(acc, 1 / p),
            };
        }
        outputs[0] = ElementConvert.FromDoubles(x.Type, outShape, y);
    }
}
