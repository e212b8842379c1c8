using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Alloy.Runtime.Numerics;

namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// Float32 fast paths of ReduceMean and Softmax over the last axis (the LayerNorm statistics and attention weights of
/// transformer exports), each row computed in double as the reference does (sum of the row, then one division; the
/// row maximum, exp of the shifted values and their sum) and rounded once; the sums run in a different order from
/// the reference's, so results agree within a unit in the last place. Other axes and types run the reference kernel.
/// </summary>
internal static class ManagedReductions
{
    public static void Register(KernelRegistry r, ManagedIsa isa)
    {
        r.Register("ReduceMean", (KernelNode n, out string? reason) =>
        {
            var fallback = ManagedKernels.CreateReference(n, out reason);
            if (fallback is null || n.InputTypes.Count < 1 || n.InputTypes[0] is { } t && t != ElementType.Float) return fallback;
            bool axesInput = n.Opset >= 18;
            return new ReduceMeanLastKernel(isa, fallback, axesInput ? null : n.Attributes.GetInts("axes"), axesInput, n.Attributes.GetInt("keepdims", 1) != 0);
        });
        r.Register("Softmax", (KernelNode n, out string? reason) =>
        {
            var fallback = ManagedKernels.CreateReference(n, out reason);
            if (fallback is null || n.InputTypes.Count < 1 || n.InputTypes[0] is { } t && t != ElementType.Float) return fallback;
            long axis = n.Attributes.GetInt("axis", n.Opset is > 0 and < 13 ? 1 : -1);
            return new SoftmaxLastKernel(isa, fallback, axis);
        });
    }

    private sealed unsafe class ReduceMeanLastKernel(ManagedIsa isa, IKernel fallback, long[]? axes, bool axesInput, bool keepDims) : IKernel
    {
        public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
        {
            var a = axesInput ? inputs.Length > 1 && inputs[1] is { } t && t.Type is ElementType.Int64 or ElementType.Int32 ? ElementConvert.ToLongs(t) : null : axes;
            if (inputs.Length < 1 || inputs[0] is not { Type: ElementType.Float, Rank: > 0 } x || a is not [var axis]
                || (axis != -1 && axis != x.Rank - 1) || x.Shape[^1] == 0)
            {
                fallback.Run(context, inputs, outputs);
                return;
            }
            long n = x.Shape[^1], rows = x.Length / n;
            var shape = keepDims ? x.Shape[..^1].Append(1L).ToArray() : x.Shape[..^1];
            var y = Tensor.CreateUninitialized(ElementType.Float, shape);
            float* s = (float*)x.Pointer, d = (float*)y.Pointer;
            for (long row = 0; row < rows; row++) d[row] = (float)(SumDouble(isa, s + row * n, n) / n);
            outputs[0] = y;
        }
    }

    /// <summary>The sum of <paramref name="n"/> floats in double (eight partial sums on AVX-512).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe double SumDouble(ManagedIsa isa, float* s, long n)
    {
        long i = 0;
        double sum = 0;
        if (isa == ManagedIsa.Vector512 && n >= 16)
        {
            var acc = Vector512<double>.Zero;
            for (; i + 16 <= n; i += 16)
            {
                var (lo, hi) = Vector512.Widen(Vector512.Load(s + i));
                acc += lo + hi;
            }
            sum = Vector512.Sum(acc);
        }
        for (; i < n; i++) sum += s[i];
        return sum;
    }

    private sealed unsafe class SoftmaxLastKernel(ManagedIsa isa, IKernel fallback, long axis) : IKernel
    {
        public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
        {
            if (inputs.Length != 1 || inputs[0] is not { Type: ElementType.Float, Rank: > 0 } x || (axis != -1 && axis != x.Rank - 1) || x.Shape[^1] == 0)
            {
                fallback.Run(context, inputs, outputs);
                return;
            }
            long n = x.Shape[^1], rows = x.Length / n;
            var y = Tensor.CreateUninitialized(ElementType.Float, x.Shape);
            var buffer = n <= 4096 ? stackalloc double[(int)n] : new double[n];
            fixed (double* e = buffer)
                for (long row = 0; row < rows; row++) Row(isa, (float*)x.Pointer + row * n, (float*)y.Pointer + row * n, e, n);
            outputs[0] = y;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void Row(ManagedIsa isa, float* s, float* d, double* e, long n)
        {
            double max = double.NegativeInfinity;
            for (long i = 0; i < n; i++) max = Math.Max(max, s[i]);
            long j = 0;
            double sum = 0;
            if (isa == ManagedIsa.Vector512)
            {
                var m = Vector512.Create(max);
                var acc = Vector512<double>.Zero;
                for (; j + 8 <= n; j += 8)
                {
                    var v = Vector512.Exp(Vector512.WidenLower(Vector256.Load(s + j).ToVector512()) - m);
                    v.Store(e + j);
                    acc += v;
                }
                sum = Vector512.Sum(acc);
            }
            for (; j < n; j++)
            {
                e[j] = Math.Exp(s[j] - max);
                sum += e[j];
            }
            for (long i = 0; i < n; i++) d[i] = (float)(e[i] / sum);
        }
    }
}
