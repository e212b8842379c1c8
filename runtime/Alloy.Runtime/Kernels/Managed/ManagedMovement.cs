using Alloy.Runtime.Numerics;

namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// Transpose and Slice (opset 10 and later, integer starts / ends / axes / steps inputs) of any fixed-size element
/// type as one strided copy: output element (i₀, …, iᵣ₋₁) = input[base + Σ iₐ·strideₐ], the innermost run copied
/// as a block when its stride is 1. Copies are exact. Configurations with anything to report (bad perm, zero step,
/// repeated or out-of-range axes) and strings run the reference kernel, which names the problem.
/// </summary>
internal static class ManagedMovement
{
    public static void Register(KernelRegistry r)
    {
        r.Register("Transpose", (KernelNode n, out string? reason) =>
        {
            var fallback = ManagedKernels.CreateReference(n, out reason);
            return fallback is null ? null : new TransposeKernel(fallback, n.Attributes.GetInts("perm"));
        });
        r.Register("Slice", (KernelNode n, out string? reason) =>
        {
            var fallback = ManagedKernels.CreateReference(n, out reason);
            return fallback is null || n.Opset is > 0 and < 10 ? fallback : new SliceKernel(fallback);
        });
    }

    private static bool Copyable(Tensor t) => t.Type != ElementType.String && t.Type.Bits() % 8 == 0 && t.Type.Bits() > 0;

    private sealed class TransposeKernel(IKernel fallback, long[]? perm) : IKernel
    {
        public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
        {
            if (inputs.Length != 1 || inputs[0] is not { } x || !Copyable(x) || !ValidPerm(perm, x.Rank))
            {
                fallback.Run(context, inputs, outputs);
                return;
            }
            int rank = x.Rank;
            var inStrides = RowMajorStrides(x.Shape);
            var shape = new long[rank];
            var strides = new long[rank];
            for (int i = 0; i < rank; i++)
            {
                int p = perm is null ? rank - 1 - i : (int)perm[i];
                shape[i] = x.Shape[p];
                strides[i] = inStrides[p];
            }
            outputs[0] = StridedCopy(x, 0, shape, strides);
        }

        private static bool ValidPerm(long[]? perm, int rank)
        {
            if (perm is null) return true;
            if (perm.Length != rank) return false;
            var seen = new bool[rank];
            foreach (var p in perm)
            {
                if (p < 0 || p >= rank || seen[p]) return false;
                seen[p] = true;
            }
            return true;
        }
    }

    private sealed class SliceKernel(IKernel fallback) : IKernel
    {
        public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
        {
            if (inputs.Length < 3 || inputs[0] is not { } x || !Copyable(x) || !TryPlan(x, inputs, out var start, out var shape, out var step))
            {
                fallback.Run(context, inputs, outputs);
                return;
            }
            var inStrides = RowMajorStrides(x.Shape);
            long offset = 0;
            var strides = new long[x.Rank];
            for (int d = 0; d < x.Rank; d++)
            {
                offset += start[d] * inStrides[d];
                strides[d] = step[d] * inStrides[d];
            }
            outputs[0] = StridedCopy(x, offset, shape, strides);
        }

        /// <summary>ONNX Slice: per sliced axis the clamped start, the element count and the step; false when the inputs need the reference's errors.</summary>
        private static bool TryPlan(Tensor x, ReadOnlySpan<Tensor?> inputs, out long[] start, out long[] shape, out long[] step)
        {
            int rank = x.Rank;
            start = new long[rank];
            shape = (long[])x.Shape.Clone();
            step = new long[rank];
            Array.Fill(step, 1L);
            static long[]? Ints(Tensor? t) => t is { Type: ElementType.Int64 or ElementType.Int32, Rank: 1 } ? ElementConvert.ToLongs(t) : null;
            var starts = Ints(inputs[1]);
            var ends = Ints(inputs[2]);
            var axes = inputs.Length > 3 && inputs[3] is not null ? Ints(inputs[3]) : null;
            var steps = inputs.Length > 4 && inputs[4] is not null ? Ints(inputs[4]) : null;
            if (starts is null || ends is null || starts.Length != ends.Length) return false;
            if (inputs.Length > 3 && inputs[3] is not null && (axes is null || axes.Length != starts.Length)) return false;
            if (inputs.Length > 4 && inputs[4] is not null && (steps is null || steps.Length != starts.Length)) return false;
            var seen = new bool[rank];
            for (int i = 0; i < starts.Length; i++)
            {
                long axis = axes is null ? i : axes[i];
                if (axis < 0) axis += rank;
                if (axis < 0 || axis >= rank || seen[axis]) return false;
                seen[axis] = true;
                long dim = x.Shape[axis], s = starts[i], e = ends[i], k = steps is null ? 1 : steps[i];
                if (k == 0) return false;
                if (dim == 0)
                {
                    shape[axis] = 0;
                    continue;
                }
                if (s < 0) s += dim;
                if (e < 0) e += dim;
                long count;
                if (k > 0)
                {
                    s = Math.Clamp(s, 0, dim);
                    e = Math.Clamp(e, 0, dim);
                    count = e > s ? (e - s + k - 1) / k : 0;
                }
                else
                {
                    s = Math.Clamp(s, 0, dim - 1);
                    e = Math.Clamp(e, -1, dim - 1);
                    count = s > e ? (s - e + (-k) - 1) / (-k) : 0;
                }
                start[axis] = count > 0 ? s : 0;
                shape[axis] = count;
                step[axis] = k;
            }
            return true;
        }
    }

    private static long[] RowMajorStrides(long[] shape)
    {
        var strides = new long[shape.Length];
        long s = 1;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            strides[d] = s;
            s *= shape[d];
        }
        return strides;
    }

    /// <summary>A new tensor of <paramref name="shape"/> whose element i is x[offset + Σ iₐ·strides[a]].</summary>
    private static unsafe Tensor StridedCopy(Tensor x, long offset, long[] shape, long[] strides)
    {
        var y = Tensor.CreateUninitialized(x.Type, shape);
        if (y.Length == 0) return y;
        int size = x.Type.Bits() / 8, rank = shape.Length;
        byte* src = (byte*)x.Pointer, dst = (byte*)y.Pointer;
        if (rank == 0)
        {
            Buffer.MemoryCopy(src + offset * size, dst, size, size);
            return y;
        }
        long inner = shape[rank - 1], innerStride = strides[rank - 1];
        var index = new long[rank];
        long at = offset;
        for (long o = 0; o < y.Length; o += inner)
        {
            if (innerStride == 1) Buffer.MemoryCopy(src + at * size, dst + o * size, inner * size, inner * size);
            else
                switch (size)
                {
                    case 4:
                        for (long i = 0; i < inner; i++) ((int*)dst)[o + i] = ((int*)src)[at + i * innerStride];
                        break;
                    case 2:
                        for (long i = 0; i < inner; i++) ((short*)dst)[o + i] = ((short*)src)[at + i * innerStride];
                        break;
                    case 8:
                        for (long i = 0; i < inner; i++) ((long*)dst)[o + i] = ((long*)src)[at + i * innerStride];
                        break;
                    default:
                        for (long i = 0; i < inner; i++) Buffer.MemoryCopy(src + (at + i * innerStride) * size, dst + (o + i) * size, size, size);
                        break;
                }
            // Advance the outer index (odometer over dims 0 .. rank-2).
            for (int d = rank - 2; d >= 0; d--)
            {
                at += strides[d];
                if (++index[d] < shape[d]) break;
                at -= strides[d] * shape[d];
                index[d] = 0;
            }
        }
        return y;
    }
}
