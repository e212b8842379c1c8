using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// Depthwise 2-D convolution (one input channel per group, any channel multiplier, kernel size, pads, strides and
/// dilations) on float32 output planes. Each input plane is written once, zero-padded and split into SW column phases
/// (<see cref="DepthwiseLayout"/>; only the padding is cleared, stride-2 float32 rows are split with a vector permute), so
/// every tap of a row of outputs is one contiguous vector load. Each output is the float32 sum of its taps (kernel
/// row, then column, one fused multiply-add each, from zero; taps in the padding add zero), then the bias, then the
/// fused Relu / Clip, stored once; the row's last partial vector is a masked store. 3×3 kernels keep their nine
/// weights in registers. Planes are split across threads.
/// </summary>
internal static unsafe class DepthwiseConvolution
{
    /// <summary>
    /// Output channel o of image i (plane i·M + o of <paramref name="y"/>) from input channel o / (M / C) of
    /// <paramref name="x"/> (f32 / bf16 / f16, widened while padding), float32 taps <paramref name="weights"/>
    /// [M, KH·KW], optional bias [M] (null: none).
    /// </summary>
    public static void Run(ManagedIsa isa, int threads, Tensor x, float[] weights, float* bias, ActivationClamp clamp,
        long n, long c, long m, ConvGeometry g, float* y)
    {
        long mg = m / c, taps = g.KH * g.KW, outSize = g.OH * g.OW, inSize = g.H * g.W;
        var type = x.Type;
        int elementSize = type == ElementType.Float ? 4 : 2;
        nint xData = (nint)x.Pointer, yData = (nint)y, biasData = (nint)bias;
        var layout = DepthwiseLayout.Of(g);
        long planes = n * m;
        // Enough planes per task to amortize the scheduling, at most 4 tasks per thread.
        long perTask = Math.Max(1, Math.Max(planes / (4L * Math.Max(1, threads)), (1L << 14) / Math.Max(1, outSize * taps)));
        long tasks = (planes + perTask - 1) / perTask;
        int workers = planes * outSize * taps < (1L << 16) ? 1 : threads;
        Sgemm.ParallelFor(workers, tasks, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (long task) =>
        {
            var block = ScratchPool.Rent(layout.Floats * sizeof(float));
            long* tapOffset = stackalloc long[(int)taps];
            TapOffsets(layout, g, tapOffset);
            try
            {
                fixed (float* wp = weights)
                {
                    float* phases = (float*)block.Pointer;
                    long lastInput = -1;
                    for (long p = task * perTask, end = Math.Min(planes, (task + 1) * perTask); p < end; p++)
                    {
                        long img = p / m, oc = p - img * m, input = img * c + oc / mg;
                        // A channel multiplier above 1: consecutive planes read the same input plane.
                        if (input != lastInput)
                            Fill(isa, (byte*)xData + input * inSize * elementSize, type, g, layout, phases);
                        lastInput = input;
                        var epilogue = new PlaneEpilogue(biasData != 0, biasData != 0 ? ((float*)biasData)[oc] : 0f, clamp);
                        float* output = (float*)yData + p * outSize;
                        float* wk = wp + oc * taps;
                        if (isa == ManagedIsa.Vector512) Plane512(phases, layout, tapOffset, (int)taps, wk, epilogue, output, g);
                        else if (isa == ManagedIsa.Vector256) Plane256(phases, layout, tapOffset, (int)taps, wk, epilogue, output, g);
                        else PlaneScalar(phases, layout, tapOffset, (int)taps, wk, epilogue, output, g);
                    }
                }
            }
            finally
            {
                ScratchPool.Return(block);
            }
        });
    }

    /// <summary>What follows the taps: the bias (when there is one), then the clamp (when fused).</summary>
    private readonly record struct PlaneEpilogue(bool HasBias, float Bias, ActivationClamp Clamp)
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public float Apply(float acc) => Clamp.Apply(HasBias ? acc + Bias : acc);
    }

    /// <summary>Tap (kh, kw) reads phase (kw·DW) mod SW at row kh·DH, column (kw·DW) div SW, relative to the output.</summary>
    private static void TapOffsets(DepthwiseLayout l, ConvGeometry g, long* tapOffset)
    {
        for (long i = 0; i < g.KH; i++)
            for (long j = 0; j < g.KW; j++)
            {
                long col = j * g.DW;
                tapOffset[i * g.KW + j] = col % g.SW * l.PhaseFloats + i * g.DH * l.Width + col / g.SW;
            }
    }

    /// <summary>
    /// Writes the phases of one input plane (f32 / bf16 / f16, widened): phase p, row r, column t holds input
    /// (r − PH, t·SW + p − PW), zero outside the input. Only the columns an output reads are written; the slack
    /// beyond them feeds vector lanes that are never stored.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Fill(ManagedIsa isa, void* plane, ElementType type, ConvGeometry g, DepthwiseLayout l, float* phases)
    {
        long needed = l.Needed;
        for (long r = 0; r < l.Rows; r++)
        {
            long ih = r - g.PH;
            for (long p = 0; p < g.SW; p++)
            {
                float* row = phases + p * l.PhaseFloats + r * l.Width;
                long first = (g.PW - p + g.SW - 1) / g.SW; // numerator >= 0: PW >= 0, p < SW
                long last = Math.Min(needed - 1, (g.W - 1 + g.PW - p) / g.SW);
                if (ih < 0 || ih >= g.H || g.W - 1 + g.PW - p < 0 || last < first)
                {
                    new Span<float>(row, (int)needed).Clear();
                    continue;
                }
                for (long t = 0; t < first; t++) row[t] = 0f;
                for (long t = last + 1; t < needed; t++) row[t] = 0f;
                long iw = first * g.SW + p - g.PW;
                int count = (int)(last - first + 1);
                if (type == ElementType.Float && isa == ManagedIsa.Vector512 && g.SW <= 2)
                {
                    if (g.SW == 1) Copy512((float*)plane + ih * g.W + iw, row + first, count);
                    else EveryOther512((float*)plane + ih * g.W, iw, g.W, row + first, count);
                }
                else
                    ManagedConvert.Copy(isa, type, plane, ih * g.W + iw, g.SW, row + first, count);
            }
        }
    }

    /// <summary>dst[j] = src[j] for j &lt; count.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Copy512(float* src, float* dst, int count)
    {
        int j = 0;
        for (; j + 16 <= count; j += 16) Vector512.Load(src + j).Store(dst + j);
        if (j < count)
        {
            var mask = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count - j)).AsSingle();
            Avx512F.MaskStore(dst + j, mask, Avx512F.MaskLoad(src + j, mask, Vector512<float>.Zero));
        }
    }

    /// <summary>dst[j] = row[start + 2j] for j &lt; count, reading only row[0 .. width).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void EveryOther512(float* row, long start, long width, float* dst, int count)
    {
        var even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        float* s = row + start;
        int j = 0;
        // A vector step reads s[2j .. 2j + 31], which must lie inside the row.
        for (; j + 16 <= count && start + 2L * j + 32 <= width; j += 16)
            Avx512F.PermuteVar16x32x2(Vector512.Load(s + 2 * j), even, Vector512.Load(s + 2 * j + 16)).Store(dst + j);
        // The rest (at most 16 outputs a step) with masked loads of the 2·n − 1 source elements and a masked store.
        var lanes = Vector512<int>.Indices;
        for (; j < count; j += 16)
        {
            int n = Math.Min(16, count - j), sources = 2 * n - 1;
            var lo = Avx512F.MaskLoad(s + 2 * j, Vector512.LessThan(lanes, Vector512.Create(sources)).AsSingle(), Vector512<float>.Zero);
            var hi = Avx512F.MaskLoad(s + 2 * j + 16, Vector512.LessThan(lanes, Vector512.Create(sources - 16)).AsSingle(), Vector512<float>.Zero);
            Avx512F.MaskStore(dst + j, Vector512.LessThan(lanes, Vector512.Create(n)).AsSingle(), Avx512F.PermuteVar16x32x2(lo, even, hi));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Plane512(float* phases, DepthwiseLayout l, long* tapOffset, int taps, float* wk, PlaneEpilogue e, float* y, ConvGeometry g)
    {
        long ow16 = g.OW & ~15L;
        var tail = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create((int)(g.OW - ow16))).AsSingle();
        var bias = Vector512.Create(e.Bias);
        var lo = Vector512.Create(e.Clamp.Lo);
        var hi = Vector512.Create(e.Clamp.Hi);
        bool hasBias = e.HasBias, clamp = e.Clamp.Enabled;
        if (taps == 9 && g.DW == 1 && g.SW <= 2)
        {
            var w0 = Vector512.Create(wk[0]); var w1 = Vector512.Create(wk[1]); var w2 = Vector512.Create(wk[2]);
            var w3 = Vector512.Create(wk[3]); var w4 = Vector512.Create(wk[4]); var w5 = Vector512.Create(wk[5]);
            var w6 = Vector512.Create(wk[6]); var w7 = Vector512.Create(wk[7]); var w8 = Vector512.Create(wk[8]);
            long rowStep = g.DH * l.Width;
            // Stride 1: the three taps of a kernel row read columns ow, ow + 1, ow + 2 of one phase row: one pair of
            // aligned loads and two lane shifts. Stride 2: phase 0 at ow and ow + 1, phase 1 at ow.
            long odd = g.SW == 2 ? l.PhaseFloats : 0;
            for (long oh = 0; oh < g.OH; oh++)
            {
                float* r0 = phases + oh * g.SH * l.Width, r1 = r0 + rowStep, r2 = r1 + rowStep;
                float* dst = y + oh * g.OW;
                for (long ow = 0; ow < g.OW; ow += 16)
                {
                    Vector512<float> acc;
                    if (odd == 0)
                    {
                        acc = Row3(r0 + ow, w0, w1, w2, Vector512<float>.Zero);
                        acc = Row3(r1 + ow, w3, w4, w5, acc);
                        acc = Row3(r2 + ow, w6, w7, w8, acc);
                    }
                    else
                    {
                        acc = Row3Stride2(r0 + ow, odd, w0, w1, w2, Vector512<float>.Zero);
                        acc = Row3Stride2(r1 + ow, odd, w3, w4, w5, acc);
                        acc = Row3Stride2(r2 + ow, odd, w6, w7, w8, acc);
                    }
                    if (hasBias) acc += bias;
                    if (clamp) acc = Vector512.Min(Vector512.Max(acc, lo), hi);
                    if (ow < ow16) acc.Store(dst + ow);
                    else Avx512F.MaskStore(dst + ow, tail, acc);
                }
            }
            return;
        }
        if (taps == 9)
        {
            var w0 = Vector512.Create(wk[0]); var w1 = Vector512.Create(wk[1]); var w2 = Vector512.Create(wk[2]);
            var w3 = Vector512.Create(wk[3]); var w4 = Vector512.Create(wk[4]); var w5 = Vector512.Create(wk[5]);
            var w6 = Vector512.Create(wk[6]); var w7 = Vector512.Create(wk[7]); var w8 = Vector512.Create(wk[8]);
            long o0 = tapOffset[0], o1 = tapOffset[1], o2 = tapOffset[2], o3 = tapOffset[3], o4 = tapOffset[4];
            long o5 = tapOffset[5], o6 = tapOffset[6], o7 = tapOffset[7], o8 = tapOffset[8];
            for (long oh = 0; oh < g.OH; oh++)
            {
                float* src = phases + oh * g.SH * l.Width;
                float* dst = y + oh * g.OW;
                for (long ow = 0; ow < g.OW; ow += 16)
                {
                    float* s = src + ow;
                    var acc = Avx512F.FusedMultiplyAdd(w0, Vector512.Load(s + o0), Vector512<float>.Zero);
                    acc = Avx512F.FusedMultiplyAdd(w1, Vector512.Load(s + o1), acc);
                    acc = Avx512F.FusedMultiplyAdd(w2, Vector512.Load(s + o2), acc);
                    acc = Avx512F.FusedMultiplyAdd(w3, Vector512.Load(s + o3), acc);
                    acc = Avx512F.FusedMultiplyAdd(w4, Vector512.Load(s + o4), acc);
                    acc = Avx512F.FusedMultiplyAdd(w5, Vector512.Load(s + o5), acc);
                    acc = Avx512F.FusedMultiplyAdd(w6, Vector512.Load(s + o6), acc);
                    acc = Avx512F.FusedMultiplyAdd(w7, Vector512.Load(s + o7), acc);
                    acc = Avx512F.FusedMultiplyAdd(w8, Vector512.Load(s + o8), acc);
                    if (hasBias) acc += bias;
                    if (clamp) acc = Vector512.Min(Vector512.Max(acc, lo), hi);
                    if (ow < ow16) acc.Store(dst + ow);
                    else Avx512F.MaskStore(dst + ow, tail, acc);
                }
            }
            return;
        }
        for (long oh = 0; oh < g.OH; oh++)
        {
            float* src = phases + oh * g.SH * l.Width;
            float* dst = y + oh * g.OW;
            for (long ow = 0; ow < g.OW; ow += 16)
            {
                var acc = Vector512<float>.Zero;
                for (int t = 0; t < taps; t++)
                    acc = Avx512F.FusedMultiplyAdd(Vector512.Create(wk[t]), Vector512.Load(src + tapOffset[t] + ow), acc);
                if (hasBias) acc += bias;
                if (clamp) acc = Vector512.Min(Vector512.Max(acc, lo), hi);
                if (ow < ow16) acc.Store(dst + ow);
                else Avx512F.MaskStore(dst + ow, tail, acc);
            }
        }
    }

    /// <summary>acc + a·s[0..16) + b·s[1..17) + c·s[2..18), in that order; s 64-byte aligned.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Row3(float* s, Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> acc)
    {
        var lo = Vector512.LoadAligned(s);
        var hi = Vector512.LoadAligned(s + 16);
        acc = Avx512F.FusedMultiplyAdd(a, lo, acc);
        acc = Avx512F.FusedMultiplyAdd(b, Avx512F.AlignRight32(hi.AsInt32(), lo.AsInt32(), 1).AsSingle(), acc);
        return Avx512F.FusedMultiplyAdd(c, Avx512F.AlignRight32(hi.AsInt32(), lo.AsInt32(), 2).AsSingle(), acc);
    }

    /// <summary>acc + a·even[0..16) + b·odd[0..16) + c·even[1..17), in that order (the phases of a stride-2 row).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Row3Stride2(float* even, long odd, Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> acc)
    {
        var lo = Vector512.LoadAligned(even);
        var hi = Vector512.LoadAligned(even + 16);
        acc = Avx512F.FusedMultiplyAdd(a, lo, acc);
        acc = Avx512F.FusedMultiplyAdd(b, Vector512.LoadAligned(even + odd), acc);
        return Avx512F.FusedMultiplyAdd(c, Avx512F.AlignRight32(hi.AsInt32(), lo.AsInt32(), 1).AsSingle(), acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Plane256(float* phases, DepthwiseLayout l, long* tapOffset, int taps, float* wk, PlaneEpilogue e, float* y, ConvGeometry g)
    {
        long ow8 = g.OW & ~7L;
        var tail = Vector256.LessThan(Vector256<int>.Indices, Vector256.Create((int)(g.OW - ow8))).AsSingle();
        var bias = Vector256.Create(e.Bias);
        var lo = Vector256.Create(e.Clamp.Lo);
        var hi = Vector256.Create(e.Clamp.Hi);
        bool hasBias = e.HasBias, clamp = e.Clamp.Enabled;
        if (taps == 9)
        {
            var w0 = Vector256.Create(wk[0]); var w1 = Vector256.Create(wk[1]); var w2 = Vector256.Create(wk[2]);
            var w3 = Vector256.Create(wk[3]); var w4 = Vector256.Create(wk[4]); var w5 = Vector256.Create(wk[5]);
            var w6 = Vector256.Create(wk[6]); var w7 = Vector256.Create(wk[7]); var w8 = Vector256.Create(wk[8]);
            long o0 = tapOffset[0], o1 = tapOffset[1], o2 = tapOffset[2], o3 = tapOffset[3], o4 = tapOffset[4];
            long o5 = tapOffset[5], o6 = tapOffset[6], o7 = tapOffset[7], o8 = tapOffset[8];
            for (long oh = 0; oh < g.OH; oh++)
            {
                float* src = phases + oh * g.SH * l.Width;
                float* dst = y + oh * g.OW;
                for (long ow = 0; ow < g.OW; ow += 8)
                {
                    float* s = src + ow;
                    var acc = Fma.MultiplyAdd(w0, Vector256.Load(s + o0), Vector256<float>.Zero);
                    acc = Fma.MultiplyAdd(w1, Vector256.Load(s + o1), acc);
                    acc = Fma.MultiplyAdd(w2, Vector256.Load(s + o2), acc);
                    acc = Fma.MultiplyAdd(w3, Vector256.Load(s + o3), acc);
                    acc = Fma.MultiplyAdd(w4, Vector256.Load(s + o4), acc);
                    acc = Fma.MultiplyAdd(w5, Vector256.Load(s + o5), acc);
                    acc = Fma.MultiplyAdd(w6, Vector256.Load(s + o6), acc);
                    acc = Fma.MultiplyAdd(w7, Vector256.Load(s + o7), acc);
                    acc = Fma.MultiplyAdd(w8, Vector256.Load(s + o8), acc);
                    if (hasBias) acc += bias;
                    if (clamp) acc = Vector256.Min(Vector256.Max(acc, lo), hi);
                    if (ow < ow8) acc.Store(dst + ow);
                    else Avx.MaskStore(dst + ow, tail, acc);
                }
            }
            return;
        }
        for (long oh = 0; oh < g.OH; oh++)
        {
            float* src = phases + oh * g.SH * l.Width;
            float* dst = y + oh * g.OW;
            for (long ow = 0; ow < g.OW; ow += 8)
            {
                var acc = Vector256<float>.Zero;
                for (int t = 0; t < taps; t++)
                    acc = Fma.MultiplyAdd(Vector256.Create(wk[t]), Vector256.Load(src + tapOffset[t] + ow), acc);
                if (hasBias) acc += bias;
                if (clamp) acc = Vector256.Min(Vector256.Max(acc, lo), hi);
                if (ow < ow8) acc.Store(dst + ow);
                else Avx.MaskStore(dst + ow, tail, acc);
            }
        }
    }

    private static void PlaneScalar(float* phases, DepthwiseLayout l, long* tapOffset, int taps, float* wk, PlaneEpilogue e, float* y, ConvGeometry g)
    {
        for (long oh = 0; oh < g.OH; oh++)
        {
            float* src = phases + oh * g.SH * l.Width;
            float* dst = y + oh * g.OW;
            for (long ow = 0; ow < g.OW; ow++)
            {
                float acc = 0;
                for (int t = 0; t < taps; t++) acc = MathF.FusedMultiplyAdd(wk[t], src[tapOffset[t] + ow], acc);
                dst[ow] = e.Apply(acc);
            }
        }
    }
}

/// <summary>
/// The zero-padded input plane of a depthwise convolution split into SW column phases (phase p holds padded columns
/// p, p + SW, …), each <see cref="Rows"/> × <see cref="Width"/> floats. <see cref="Needed"/> columns of a row are
/// read by outputs; the width is a multiple of 16 with at least 16 columns of slack beyond the last vector of
/// outputs, so every vector load (and the next vector, for lane shifts) stays inside the row and rows start 64-byte
/// aligned in an aligned block.
/// </summary>
internal readonly record struct DepthwiseLayout(long Rows, long Width, long Needed, long PhaseFloats, long Floats)
{
    public static DepthwiseLayout Of(ConvGeometry g)
    {
        long rows = (g.OH - 1) * g.SH + (g.KH - 1) * g.DH + 1;
        long reach = (g.KW - 1) * g.DW / g.SW;
        long vectors = (g.OW + 15) / 16 * 16;
        long width = (vectors + Math.Max(16, reach + 1) + 15) / 16 * 16;
        long phase = rows * width;
        return new DepthwiseLayout(rows, width, g.OW + reach, phase, phase * g.SW);
    }
}
