using Alloy.Runtime.Numerics;
using static Alloy.Runtime.Kernels.Reference.ElementwiseHelpers;

namespace Alloy.Runtime.Kernels.Reference;

/// <summary>
/// LRN: y = x / (bias + alpha/size · Σ x²)^beta, the sum running over the channels
/// [c - floor((size-1)/2), c + ceil((size-1)/2)] clipped to [0, C). Input [N, C, D1, …]; double arithmetic, one
/// rounding on store.
/// </summary>
internal sealed class LrnKernel(double alpha, double beta, double bias, long size) : IKernel
{
    private const string Op = "LRN";

    public static IKernel? Create(KernelNode n, out string? reason)
    {
        reason = null;
        var a = n.Attributes;
        if (!a.Has("size"))
        {
            reason = $"{Op}: the attribute 'size' is required";
            return null;
        }
        long size = a.GetInt("size");
        if (size <= 0)
        {
            reason = $"{Op}: attribute 'size' is {size}, expected a positive channel count";
            return null;
        }
        if (RejectsType(n, 0, ElementTypeSet.Float, "X", out reason)) return null;
        return new LrnKernel(a.GetFloat("alpha", 1e-4f), a.GetFloat("beta", 0.75f), a.GetFloat("bias", 1f), size);
    }

    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = Required(inputs, 0, Op, "X");
        CheckType(x, ElementTypeSet.Float, Op, "X");
        if (x.Rank < 2) throw new KernelException($"{Op}: input 'X' must have shape [N, C, ...], got {x.ShapeText}");
        long n = x.Shape[0], c = x.Shape[1], inner = Product(x.Shape.AsSpan(2));
        long before = (size - 1) / 2, after = size - 1 - before;
        var v = ElementConvert.ToDoubles(x);
        var y = new double[v.Length];
        for (long b = 0; b < n; b++)
            for (long ch = 0; ch < c; ch++)
                for (long i = 0; i < inner; i++)
                {
                    double sum = 0;
                    for (long k = Math.Max(0, ch - before); k <= Math.Min(c - 1, ch + after); k++)
                    {
                        double e = v[(b * c + k) * inner + i];
                        sum += e * e;
                    }
                    long at = (b * c + ch) * inner + i;
                    y[at] = v[at] / Math.Pow(bias + alpha / size * sum, beta);
                }
        outputs[0] = ElementConvert.FromDoubles(x.Type, x.Shape, y);
    }
}

/// <summary>
/// MaxUnpool: scatters X [N, C, D1, …] into a zero tensor at the flat indices I (MaxPool's second output: positions
/// in the whole row-major tensor that was pooled). The output shape is the optional output_shape input, else
/// [N, C, (D_i - 1)·stride_i - pad_begin_i - pad_end_i + kernel_i]. This is the specification's and ONNX Runtime's
/// reading: the indices address the output_shape layout. (The ONNX test test_maxunpool_export_with_output_shape
/// expects indices of the inferred layout padded out to output_shape instead; ONNX Runtime excludes that case too,
/// see onnx/onnx#2398.) An index outside the output is an error.
/// </summary>
internal sealed class MaxUnpoolKernel(long[] kernel, long[] strides, long[] pads) : IKernel
{
    private const string Op = "MaxUnpool";

    public static IKernel? Create(KernelNode n, out string? reason)
    {
        reason = null;
        var a = n.Attributes;
        var kernel = a.GetInts("kernel_shape");
        if (kernel is null || kernel.Length == 0 || kernel.Any(k => k <= 0))
        {
            reason = $"{Op}: attribute 'kernel_shape' must list positive sizes";
            return null;
        }
        var strides = a.GetInts("strides") ?? Enumerable.Repeat(1L, kernel.Length).ToArray();
        var pads = a.GetInts("pads") ?? new long[kernel.Length * 2];
        if (strides.Length != kernel.Length || strides.Any(s => s <= 0) || pads.Length != 2 * kernel.Length || pads.Any(p => p < 0))
        {
            reason = $"{Op}: 'strides' needs {kernel.Length} positive values and 'pads' {2 * kernel.Length} non-negative ones";
            return null;
        }
        if (RejectsType(n, 0, ElementTypeSet.Float, "X", out reason)) return null;
        return new MaxUnpoolKernel(kernel, strides, pads);
    }

    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = Required(inputs, 0, Op, "X");
        var indices = Required(inputs, 1, Op, "I");
        CheckType(x, ElementTypeSet.Float, Op, "X");
        int spatial = kernel.Length;
        if (x.Rank != spatial + 2)
            throw new KernelException($"{Op}: input 'X' has shape {x.ShapeText}, expected rank {spatial + 2} for a {spatial}-D kernel_shape");
        if (indices.Type != ElementType.Int64 || !indices.Shape.AsSpan().SequenceEqual(x.Shape))
            throw new KernelException($"{Op}: input 'I' must be int64 of X's shape {x.ShapeText}, got {indices.Type.Name()}{indices.ShapeText}");
        long[] shape;
        if (Optional(inputs, 2) is { } os)
        {
            shape = ReadInts(os, Op, "output_shape");
            if (os.Rank != 1 || shape.Length != x.Rank || shape[0] != x.Shape[0] || shape[1] != x.Shape[1] || shape.Any(d => d < 0))
                throw new KernelException($"{Op}: input 'output_shape' is [{string.Join(",", shape)}], expected {x.Rank} non-negative dims starting with {x.Shape[0]}, {x.Shape[1]}");
        }
        else
        {
            shape = new long[x.Rank];
            shape[0] = x.Shape[0];
            shape[1] = x.Shape[1];
            for (int i = 0; i < spatial; i++)
            {
                shape[i + 2] = (x.Shape[i + 2] - 1) * strides[i] - pads[i] - pads[i + spatial] + kernel[i];
                if (shape[i + 2] < 0) throw new KernelException($"{Op}: the inferred output dimension {i + 2} is negative ({shape[i + 2]})");
            }
        }
        var y = Tensor.Create(x.Type, shape);
        var at = indices.Span<long>();
        for (long i = 0; i < x.Length; i++)
        {
            long k = at[(int)i];
            if (k < 0 || k >= y.Length)
                throw new KernelException($"{Op}: index {k} (element {i} of 'I') is outside the output of shape {y.ShapeText}");
            ElementConvert.SetDouble(y, k, ElementConvert.GetDouble(x, i));
        }
        outputs[0] = y;
    }
}
