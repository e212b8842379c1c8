using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Alloy.Runtime.Numerics;

namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// Float32 fast paths of the element-wise ops that dominate CNN and transformer graphs. They give exactly the
/// reference results (a float32 add / sub / mul / div rounds exactly as the reference's double result rounded once;
/// Relu and Clip select values), so they are bit-exact with the reference kernels. Anything else — other types,
/// broadcasts other than "same shape", "one operand is a scalar", "the smaller operand matches the trailing dims"
/// or "the smaller operand matches the leading dims, 1 after them", legacy (opset &lt; 7) broadcasting — runs the
/// reference kernel. Tensors of at least 2 × <see cref="ParallelRanges.MinElements"/> elements are split into ranges
/// (whole broadcast blocks) over the kernel's threads; every element is computed the same way on any thread count.
/// </summary>
internal static class ManagedElementwise
{
    public enum BinaryOp { Add, Sub, Mul, Div }

    public static void Register(KernelRegistry r, ManagedIsa isa)
    {
        foreach (var (name, op) in new[] { ("Add", BinaryOp.Add), ("Sub", BinaryOp.Sub), ("Mul", BinaryOp.Mul), ("Div", BinaryOp.Div) })
            r.Register(name, (KernelNode n, out string? reason) =>
            {
                var fallback = ManagedKernels.CreateReference(n, out reason);
                if (fallback is null || !AllFloat32OrUnknown(n) || (n.Opset is > 0 and < 7 && n.Attributes.GetInt("broadcast", 0) != 0)) return fallback;
                return new BinaryKernel(isa, op, fallback, default);
            });
        r.Register("Relu", (KernelNode n, out string? reason) =>
        {
            var fallback = ManagedKernels.CreateReference(n, out reason);
            return fallback is null || !AllFloat32OrUnknown(n) ? fallback : new ClipKernel(isa, fallback, relu: true, boundsAsInputs: false, 0, 0);
        });
        r.Register("Clip", (KernelNode n, out string? reason) =>
        {
            var fallback = ManagedKernels.CreateReference(n, out reason);
            if (fallback is null || !AllFloat32OrUnknown(n)) return fallback;
            bool inputs = !(n.Opset is > 0 and < 11);
            return new ClipKernel(isa, fallback, relu: false, inputs, n.Attributes.GetFloat("min", float.MinValue), n.Attributes.GetFloat("max", float.MaxValue));
        });
    }

    private static bool AllFloat32OrUnknown(KernelNode n)
    {
        foreach (var t in n.InputTypes)
            if (t is { } type && type != ElementType.Float) return false;
        return true;
    }

    /// <summary>
    /// Add / Sub / Mul / Div on float32 with the simple broadcasts, optionally followed by a fused Relu / Clip (the
    /// plan compiler merges a Relu or Clip that alone consumes the result, e.g. a residual block's Add + Relu): each
    /// range is clamped right after it is computed, with the Relu / Clip kernel's own operations, so the bits are
    /// those of running the two kernels. A result of the reference kernel (other types or broadcasts) gets the
    /// activation afterwards.
    /// </summary>
    private sealed unsafe class BinaryKernel(ManagedIsa isa, BinaryOp op, IKernel fallback, ActivationClamp clamp) : IKernel, IActivationFusion
    {
        public IKernel? WithActivation(ActivationClamp activation) =>
            clamp.Enabled ? null : new BinaryKernel(isa, op, fallback, activation);

        public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
        {
            if (inputs.Length != 2 || inputs[0] is not { Type: ElementType.Float } a || inputs[1] is not { Type: ElementType.Float } b
                || !Plan(a.Shape, b.Shape, out var shape, out var pattern, out long inner))
            {
                fallback.Run(context, inputs, outputs);
                if (clamp.Enabled && outputs[0] is { } r) outputs[0] = Activate(context, r);
                return;
            }
            var y = Tensor.CreateUninitialized(ElementType.Float, shape);
            nint pa = (nint)a.Pointer, pb = (nint)b.Pointer, py = (nint)y.Pointer;
            long n = y.Length;
            bool flat = pattern is Pattern.Same or Pattern.ScalarA or Pattern.ScalarB;
            // Flat patterns split the elements; the broadcast ones split whole blocks of `inner` elements.
            long items = flat ? n : n / inner, minItems = flat ? ParallelRanges.MinElements : Math.Max(1, ParallelRanges.MinElements / inner);
            var (kernelIsa, kernelOp, activation) = (isa, op, clamp);
            ParallelRanges.For(context.Threads, items, minItems, flat ? 16 : 1, (start, end) =>
            {
                Compute(kernelIsa, kernelOp, pattern, (float*)pa, (float*)pb, (float*)py, inner, start, end);
                if (!activation.Enabled) return;
                long first = flat ? start : start * inner, last = flat ? end : end * inner;
                Clip(kernelIsa, (float*)py + first, (float*)py + first, last - first, activation.Lo, activation.Hi);
            });
            outputs[0] = y;
        }

        /// <summary>
        /// The fused activation on a result of the reference kernel: float32 in place, any other type (operand types
        /// unknown when the plan was compiled) through the reference Relu / Clip, as the activation's own step would.
        /// </summary>
        private Tensor Activate(KernelContext context, Tensor r)
        {
            if (r.Type == ElementType.Float)
            {
                Clip(isa, (float*)r.Pointer, (float*)r.Pointer, r.Length, clamp.Lo, clamp.Hi);
                return r;
            }
            bool relu = clamp.Lo == 0 && float.IsPositiveInfinity(clamp.Hi);
            var bounds = relu ? [] : new[]
            {
                float.IsNegativeInfinity(clamp.Lo) ? null : ElementConvert.FromDoubles(r.Type, [], [clamp.Lo]),
                float.IsPositiveInfinity(clamp.Hi) ? null : ElementConvert.FromDoubles(r.Type, [], [clamp.Hi]),
            };
            try
            {
                var node = new KernelNode(relu ? "Relu" : "Clip", "", 14, new AttributeMap(new Dictionary<string, object>()),
                    [r.Type, .. bounds.Select(b => b?.Type)], 1, $"{op} + fused activation");
                var kernel = ManagedKernels.CreateReference(node, out var reason)
                    ?? throw new KernelException($"{op} with a fused activation: {r.Type.Name()} result: {reason}");
                var result = new Tensor?[1];
                kernel.Run(context, [r, .. bounds], result);
                r.Dispose();
                return result[0]!;
            }
            finally
            {
                foreach (var b in bounds) b?.Dispose();
            }
        }

        /// <summary>Elements [start, end) of a flat pattern, or blocks [start, end) of a broadcast one.</summary>
        private static void Compute(ManagedIsa isa, BinaryOp op, Pattern pattern, float* pa, float* pb, float* py, long inner, long start, long end)
        {
            switch (pattern)
            {
                case Pattern.Same:
                    Apply(isa, op, pa + start, pb + start, py + start, end - start, 1, 1);
                    break;
                case Pattern.ScalarB:
                    ApplyScalar(isa, op, pa + start, pb[0], py + start, end - start, scalarFirst: false);
                    break;
                case Pattern.ScalarA:
                    ApplyScalar(isa, op, pb + start, pa[0], py + start, end - start, scalarFirst: true);
                    break;
                case Pattern.SuffixB:
                    for (long i = start, o = start * inner; i < end; i++, o += inner) Apply(isa, op, pa + o, pb, py + o, inner, 1, 1);
                    break;
                case Pattern.SuffixA:
                    for (long i = start, o = start * inner; i < end; i++, o += inner) Apply(isa, op, pa, pb + o, py + o, inner, 1, 1);
                    break;
                case Pattern.PrefixB:
                    for (long i = start, o = start * inner; i < end; i++, o += inner) ApplyScalar(isa, op, pa + o, pb[i], py + o, inner, scalarFirst: false);
                    break;
                case Pattern.PrefixA:
                    for (long i = start, o = start * inner; i < end; i++, o += inner) ApplyScalar(isa, op, pb + o, pa[i], py + o, inner, scalarFirst: true);
                    break;
            }
        }

        private enum Pattern { Same, ScalarA, ScalarB, SuffixA, SuffixB, PrefixA, PrefixB }

        /// <summary>
        /// Which simple broadcast relates the shapes, the output shape, and for the suffix / prefix forms the block
        /// length (the small operand's element count, resp. the element count of the dims after the matching ones).
        /// </summary>
        private static bool Plan(long[] a, long[] b, out long[] shape, out Pattern pattern, out long inner)
        {
            shape = a;
            pattern = Pattern.Same;
            inner = 1;
            long la = Count(a), lb = Count(b);
            if (a.Length == b.Length && a.AsSpan().SequenceEqual(b)) return true;
            if (lb == 1 && b.Length <= a.Length) { pattern = Pattern.ScalarB; return true; }
            if (la == 1 && a.Length <= b.Length) { shape = b; pattern = Pattern.ScalarA; return true; }
            if (Fits(b, a, out bool suffix, out inner)) { pattern = suffix ? Pattern.SuffixB : Pattern.PrefixB; return true; }
            if (Fits(a, b, out suffix, out inner)) { shape = b; pattern = suffix ? Pattern.SuffixA : Pattern.PrefixA; return true; }
            return false;
        }

        /// <summary>
        /// Whether <paramref name="small"/> broadcasts into <paramref name="big"/> (rank not above it) as its trailing
        /// dims (leading 1s aside) or as its leading dims followed by 1s.
        /// </summary>
        private static bool Fits(long[] small, long[] big, out bool suffix, out long inner)
        {
            suffix = false;
            inner = 1;
            if (small.Length > big.Length || Count(big) == 0 || Count(small) == 0) return false;
            // small right-aligned to big's rank, with leading 1s.
            var padded = new long[big.Length];
            Array.Fill(padded, 1L);
            small.CopyTo(padded, big.Length - small.Length);
            // Suffix: 1, ..., 1, then big's dims.
            int first = 0;
            while (first < padded.Length && padded[first] == 1) first++;
            bool match = true;
            for (int i = first; i < padded.Length; i++) match &= padded[i] == big[i];
            if (match)
            {
                suffix = true;
                inner = Count(small);
                return true;
            }
            // Prefix: big's dims, then 1, ..., 1.
            int last = padded.Length;
            while (last > 0 && padded[last - 1] == 1) last--;
            for (int i = 0; i < last; i++)
                if (padded[i] != big[i]) return false;
            for (int i = last; i < big.Length; i++) inner *= big[i];
            return true;
        }

        private static long Count(long[] s)
        {
            long c = 1;
            foreach (var d in s) c *= d;
            return c;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Apply(ManagedIsa isa, BinaryOp op, float* a, float* b, float* y, long n, long sa, long sb)
    {
        long i = 0;
        if (isa == ManagedIsa.Vector512)
            for (; i + 16 <= n; i += 16)
                Op(op, Vector512.Load(a + i), Vector512.Load(b + i)).Store(y + i);
        else if (isa == ManagedIsa.Vector256)
            for (; i + 8 <= n; i += 8)
                Op(op, Vector256.Load(a + i), Vector256.Load(b + i)).Store(y + i);
        for (; i < n; i++) y[i] = Op(op, a[i], b[i]);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ApplyScalar(ManagedIsa isa, BinaryOp op, float* x, float s, float* y, long n, bool scalarFirst)
    {
        long i = 0;
        if (isa == ManagedIsa.Vector512)
        {
            var sv = Vector512.Create(s);
            for (; i + 16 <= n; i += 16)
                (scalarFirst ? Op(op, sv, Vector512.Load(x + i)) : Op(op, Vector512.Load(x + i), sv)).Store(y + i);
        }
        else if (isa == ManagedIsa.Vector256)
        {
            var sv = Vector256.Create(s);
            for (; i + 8 <= n; i += 8)
                (scalarFirst ? Op(op, sv, Vector256.Load(x + i)) : Op(op, Vector256.Load(x + i), sv)).Store(y + i);
        }
        for (; i < n; i++) y[i] = scalarFirst ? Op(op, s, x[i]) : Op(op, x[i], s);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Op(BinaryOp op, Vector512<float> a, Vector512<float> b) => op switch
    {
        BinaryOp.Add => a + b,
        BinaryOp.Sub => a - b,
        BinaryOp.Mul => a * b,
        _ => a / b,
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Op(BinaryOp op, Vector256<float> a, Vector256<float> b) => op switch
    {
        BinaryOp.Add => a + b,
        BinaryOp.Sub => a - b,
        BinaryOp.Mul => a * b,
        _ => a / b,
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Op(BinaryOp op, float a, float b) => op switch
    {
        BinaryOp.Add => a + b,
        BinaryOp.Sub => a - b,
        BinaryOp.Mul => a * b,
        _ => a / b,
    };

    /// <summary>y = min(max(x, lo), hi) over n floats (x and y may be the same): the Relu / Clip kernel's operations.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Clip(ManagedIsa isa, float* x, float* y, long n, float lo, float hi)
    {
        long i = 0;
        if (isa == ManagedIsa.Vector512)
        {
            var l = Vector512.Create(lo);
            var h = Vector512.Create(hi);
            for (; i + 16 <= n; i += 16) Vector512.Min(Vector512.Max(Vector512.Load(x + i), l), h).Store(y + i);
        }
        else if (isa == ManagedIsa.Vector256)
        {
            var l = Vector256.Create(lo);
            var h = Vector256.Create(hi);
            for (; i + 8 <= n; i += 8) Vector256.Min(Vector256.Max(Vector256.Load(x + i), l), h).Store(y + i);
        }
        for (; i < n; i++) y[i] = MathF.Min(MathF.Max(x[i], lo), hi);
    }

    /// <summary>
    /// Relu (max(x, 0)) and Clip (min(max(x, lo), hi)) on float32, with the reference's IEEE maximum / minimum: NaN
    /// stays NaN, +0 is above −0.
    /// </summary>
    private sealed unsafe class ClipKernel(ManagedIsa isa, IKernel fallback, bool relu, bool boundsAsInputs, float minAttribute, float maxAttribute) : IKernel
    {
        public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
        {
            if (inputs.Length < 1 || inputs[0] is not { Type: ElementType.Float } x)
            {
                fallback.Run(context, inputs, outputs);
                return;
            }
            float lo, hi;
            if (relu)
                (lo, hi) = (0f, float.PositiveInfinity);
            else if (!boundsAsInputs)
                (lo, hi) = (minAttribute, maxAttribute);
            else
            {
                var min = inputs.Length > 1 ? inputs[1] : null;
                var max = inputs.Length > 2 ? inputs[2] : null;
                if (min is { Type: not ElementType.Float } or { Length: not 1 } || max is { Type: not ElementType.Float } or { Length: not 1 })
                {
                    fallback.Run(context, inputs, outputs);
                    return;
                }
                lo = min is null ? float.NegativeInfinity : ((float*)min.Pointer)[0];
                hi = max is null ? float.PositiveInfinity : ((float*)max.Pointer)[0];
            }
            var y = Tensor.CreateUninitialized(ElementType.Float, x.Shape);
            nint px = (nint)x.Pointer, py = (nint)y.Pointer;
            var kernelIsa = isa;
            ParallelRanges.For(context.Threads, x.Length, ParallelRanges.MinElements, 16,
                (start, end) => Clip(kernelIsa, (float*)px + start, (float*)py + start, end - start, lo, hi));
            outputs[0] = y;
        }
    }
}
