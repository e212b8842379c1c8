using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Alloy.Runtime.Kernels.Reference;

namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// Float32 fast paths of MaxPool (2-D, without the Indices output) and GlobalAveragePool, bit-exact with the
/// reference kernels. MaxPool works on the input plane padded with −∞ and split into column phases (as the depthwise
/// convolution does): each output takes its first tap, then every later tap that is greater, so padding never wins
/// and ties keep the first; an output whose window holds a NaN is recomputed the reference's way (the first NaN).
/// GlobalAveragePool sums each plane in double, in order, and divides once, as the reference does. Both split their
/// planes over the kernel's threads above a size threshold (<see cref="ParallelRanges"/>). Everything else runs the
/// reference kernel.
/// </summary>
internal static class ManagedPooling
{
    public static void Register(KernelRegistry r, ManagedIsa isa)
    {
        r.Register("MaxPool", (KernelNode n, out string? reason) =>
        {
            var fallback = ManagedKernels.CreateReference(n, out reason);
            if (fallback is null || n.OutputCount > 1 || n.InputTypes.Count < 1 || n.InputTypes[0] is { } t && t != ElementType.Float) return fallback;
            var attrs = SpatialAttributes.Read(n, out _);
            return attrs?.KernelShape is { Length: 2 } ? new MaxPoolKernel(isa, fallback, attrs) : fallback;
        });
        r.Register("GlobalAveragePool", (KernelNode n, out string? reason) =>
        {
            var fallback = ManagedKernels.CreateReference(n, out reason);
            if (fallback is null || n.InputTypes.Count < 1 || n.InputTypes[0] is { } t && t != ElementType.Float) return fallback;
            return new GlobalAveragePoolKernel(fallback);
        });
    }

    private sealed unsafe class MaxPoolKernel(ManagedIsa isa, IKernel fallback, SpatialAttributes attrs) : IKernel
    {
        public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
        {
            if (outputs.Length > 1 || inputs.Length < 1 || inputs[0] is not { Type: ElementType.Float, Rank: 4 } x)
            {
                fallback.Run(context, inputs, outputs);
                return;
            }
            var win = SpatialWindow.Forward("MaxPool", attrs, x.Shape[2..], attrs.KernelShape!, attrs.CeilMode);
            var g = new ConvGeometry(x.Shape[2], x.Shape[3], win.Kernel[0], win.Kernel[1], win.Stride[0], win.Stride[1],
                win.Dilation[0], win.Dilation[1], win.PadBegin[0], win.PadBegin[1], win.Out[0], win.Out[1]);
            long planes = x.Shape[0] * x.Shape[1], inSize = g.H * g.W, outSize = g.OH * g.OW;
            var y = Tensor.CreateUninitialized(ElementType.Float, [x.Shape[0], x.Shape[1], g.OH, g.OW]);
            var layout = PhaseLayout.Of(g);
            nint xData = (nint)x.Pointer, yData = (nint)y.Pointer;
            int workers = planes * outSize * g.KH * g.KW < (1L << 16) ? 1 : context.Threads;
            var mode = isa;
            if (isa == ManagedIsa.Vector512 && g.SW is 1 or 2 && g.W < int.MaxValue / 4)
            {
                Sgemm.ParallelFor(workers, planes, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (long p) =>
                    PlaneDirect((float*)xData + p * inSize, (float*)yData + p * outSize, g));
                outputs[0] = y;
                return;
            }
            Sgemm.ParallelFor(workers, planes, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (long p) =>
            {
                var block = ScratchPool.Rent(layout.Floats * sizeof(float));
                try
                {
                    float* phases = (float*)block.Pointer;
                    float* plane = (float*)xData + p * inSize;
                    layout.Fill(mode, plane, ElementType.Float, g, phases, float.NegativeInfinity);
                    Plane(mode, phases, layout, plane, (float*)yData + p * outSize, g);
                }
                finally
                {
                    ScratchPool.Return(block);
                }
            });
            outputs[0] = y;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void Plane(ManagedIsa isa, float* phases, PhaseLayout l, float* x, float* y, ConvGeometry g)
        {
            int taps = (int)(g.KH * g.KW);
            long* tapOffset = stackalloc long[taps];
            for (int i = 0; i < g.KH; i++)
                for (int j = 0; j < g.KW; j++)
                {
                    long col = j * g.DW;
                    tapOffset[i * g.KW + j] = col % g.SW * l.PhaseFloats + i * g.DH * l.Width + col / g.SW;
                }
            for (long oh = 0; oh < g.OH; oh++)
            {
                float* src = phases + oh * g.SH * l.Width;
                float* dst = y + oh * g.OW;
                long ow = 0;
                if (isa == ManagedIsa.Vector512)
                {
                    for (; ow + 16 <= g.OW; ow += 16)
                    {
                        var v = Vector512.Load(src + tapOffset[0] + ow);
                        var nan = ~Vector512.Equals(v, v);
                        for (int t = 1; t < taps; t++)
                        {
                            var xt = Vector512.Load(src + tapOffset[t] + ow);
                            v = Vector512.ConditionalSelect(Vector512.GreaterThan(xt, v), xt, v);
                            nan |= ~Vector512.Equals(xt, xt);
                        }
                        v.Store(dst + ow);
                        if (nan != Vector512<float>.Zero)
                            for (int q = 0; q < 16; q++) dst[ow + q] = Reference(x, g, oh, ow + q);
                    }
                }
                else if (isa == ManagedIsa.Vector256)
                {
                    for (; ow + 8 <= g.OW; ow += 8)
                    {
                        var v = Vector256.Load(src + tapOffset[0] + ow);
                        var nan = ~Vector256.Equals(v, v);
                        for (int t = 1; t < taps; t++)
                        {
                            var xt = Vector256.Load(src + tapOffset[t] + ow);
                            v = Vector256.ConditionalSelect(Vector256.GreaterThan(xt, v), xt, v);
                            nan |= ~Vector256.Equals(xt, xt);
                        }
                        v.Store(dst + ow);
                        if (nan != Vector256<float>.Zero)
                            for (int q = 0; q < 8; q++) dst[ow + q] = Reference(x, g, oh, ow + q);
                    }
                }
                for (; ow < g.OW; ow++)
                {
                    float v = src[tapOffset[0] + ow];
                    bool nan = float.IsNaN(v);
                    for (int t = 1; t < taps; t++)
                    {
                        float xt = src[tapOffset[t] + ow];
                        if (xt > v) v = xt;
                        nan |= float.IsNaN(xt);
                    }
                    dst[ow] = nan ? Reference(x, g, oh, ow) : v;
                }
            }
        }

        /// <summary>
        /// One plane on AVX-512 straight from the input, column stride 1 or 2, 16 outputs at a time: the running
        /// maximum starts at −∞ (what a padded first tap holds) and takes every tap inside the input that is greater
        /// (masked loads at the row edges read −∞), so it equals the padded-phase computation; windows holding a NaN
        /// are recomputed the reference's way.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void PlaneDirect(float* x, float* y, ConvGeometry g)
        {
            var iota = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            var minusInf = Vector512.Create(float.NegativeInfinity);
            var bound = Vector512.Create((uint)g.W);
            var even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            bool stride2 = g.SW == 2;
            for (long oh = 0; oh < g.OH; oh++)
            {
                float* dst = y + oh * g.OW;
                for (long ow = 0; ow < g.OW; ow += 16)
                {
                    var v = minusInf;
                    var nan = Vector512<float>.Zero;
                    for (long i = 0; i < g.KH; i++)
                    {
                        long ih = oh * g.SH - g.PH + i * g.DH;
                        if ((ulong)ih >= (ulong)g.H) continue;
                        float* row = x + ih * g.W;
                        for (long j = 0; j < g.KW; j++)
                        {
                            long start = ow * g.SW - g.PW + j * g.DW;
                            Vector512<float> t;
                            if (stride2)
                            {
                                if (start >= 0 && start + 32 <= g.W)
                                    t = Avx512F.PermuteVar16x32x2(Vector512.Load(row + start), even, Vector512.Load(row + start + 16));
                                else
                                {
                                    var m0 = Vector512.LessThan((iota + Vector512.Create((int)start)).AsUInt32(), bound).AsSingle();
                                    var m1 = Vector512.LessThan((iota + Vector512.Create((int)start + 16)).AsUInt32(), bound).AsSingle();
                                    t = Avx512F.PermuteVar16x32x2(Avx512F.MaskLoad(row + start, m0, minusInf), even, Avx512F.MaskLoad(row + start + 16, m1, minusInf));
                                }
                            }
                            else if (start >= 0 && start + 16 <= g.W)
                                t = Vector512.Load(row + start);
                            else
                                t = Avx512F.MaskLoad(row + start, Vector512.LessThan((iota + Vector512.Create((int)start)).AsUInt32(), bound).AsSingle(), minusInf);
                            v = Vector512.ConditionalSelect(Vector512.GreaterThan(t, v), t, v);
                            nan |= ~Vector512.Equals(t, t);
                        }
                    }
                    int valid = (int)Math.Min(16, g.OW - ow);
                    if (valid == 16) v.Store(dst + ow);
                    else Avx512F.MaskStore(dst + ow, Vector512.LessThan(iota, Vector512.Create(valid)).AsSingle(), v);
                    if (nan != Vector512<float>.Zero)
                        for (int q = 0; q < valid; q++)
                            if (nan.AsInt32()[q] != 0) dst[ow + q] = Reference(x, g, oh, ow + q);
                }
            }
        }

        /// <summary>The reference's maximum over the taps inside the input: the first NaN wins, else the first largest.</summary>
        private static float Reference(float* x, ConvGeometry g, long oh, long ow)
        {
            float v = float.NegativeInfinity;
            bool any = false;
            for (long i = 0; i < g.KH; i++)
            {
                long ih = oh * g.SH - g.PH + i * g.DH;
                if (ih < 0 || ih >= g.H) continue;
                for (long j = 0; j < g.KW; j++)
                {
                    long iw = ow * g.SW - g.PW + j * g.DW;
                    if (iw < 0 || iw >= g.W) continue;
                    float xt = x[ih * g.W + iw];
                    if (float.IsNaN(xt)) return xt;
                    if (!any || xt > v) v = xt;
                    any = true;
                }
            }
            return v;
        }
    }

    private sealed unsafe class GlobalAveragePoolKernel(IKernel fallback) : IKernel
    {
        public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
        {
            if (inputs.Length < 1 || inputs[0] is not { Type: ElementType.Float } x || x.Rank < 3)
            {
                fallback.Run(context, inputs, outputs);
                return;
            }
            long planes = x.Shape[0] * x.Shape[1], size = x.Length / Math.Max(1, planes);
            var y = Tensor.CreateUninitialized(ElementType.Float, x.Shape.Select((d, i) => i < 2 ? d : 1).ToArray());
            nint src = (nint)x.Pointer, dst = (nint)y.Pointer;
            ParallelRanges.For(context.Threads, planes, Math.Max(1, ParallelRanges.MinElements / Math.Max(1, size)), 1,
                (start, end) => Planes((float*)src, (float*)dst, size, start, end));
            outputs[0] = y;
        }

        /// <summary>Planes [start, end): each summed in double, in order, and divided once.</summary>
        private static void Planes(float* src, float* dst, long size, long start, long end)
        {
            for (long p = start; p < end; p++)
            {
                double sum = 0;
                float* s = src + p * size;
                for (long i = 0; i < size; i++) sum += s[i];
                dst[p] = (float)(size == 0 ? double.NaN : sum / size);
            }
        }
    }
}
