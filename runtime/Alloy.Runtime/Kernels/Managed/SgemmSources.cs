using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// A logical K×N matrix operand of the GEMM that can copy a block of itself, widened to float32, into a packed
/// panel: <c>dst[k·panelWidth + j] = B[k0 + k, j0 + j]</c> for k &lt; kc and j &lt; width, zero for
/// width ≤ j &lt; panelWidth. Implemented by structs so the GEMM driver is specialized for each source.
/// </summary>
internal unsafe interface IPanelSource
{
    void Pack(long k0, int kc, long j0, int width, int panelWidth, float* dst);
}

/// <summary>
/// A strided f32 / bf16 / f16 matrix: element (i, j) at <c>Data[i·RowStride + j·ColStride]</c> (strides in
/// elements; a transposed operand swaps them).
/// </summary>
internal readonly unsafe struct StridedMatrix(ManagedIsa isa, void* data, ElementType type, long rowStride, long colStride) : IPanelSource
{
    public readonly ManagedIsa Isa = isa;
    public readonly void* Data = data;
    public readonly ElementType Type = type;
    public readonly long RowStride = rowStride, ColStride = colStride;

    /// <summary>The same data seen transposed.</summary>
    public StridedMatrix Transposed => new(Isa, Data, Type, ColStride, RowStride);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Pack(long k0, int kc, long j0, int width, int panelWidth, float* dst)
    {
        if (Type == ElementType.Float && ColStride == 1 && width == panelWidth && (panelWidth & 15) == 0 && Isa == ManagedIsa.Vector512)
        {
            // The hot case: full panels of a row-major float32 matrix.
            float* s = (float*)Data + k0 * RowStride + j0;
            for (int k = 0; k < kc; k++, s += RowStride, dst += panelWidth)
                for (int j = 0; j < panelWidth; j += 16) Vector512.Load(s + j).Store(dst + j);
            return;
        }
        if (Type == ElementType.Float && RowStride == 1 && width == panelWidth)
        {
            // Columns contiguous (a transposed operand, or A packed as Aᵀ): walk the columns side by side.
            float* s = (float*)Data + k0 + j0 * ColStride;
            for (int k = 0; k < kc; k++, s++, dst += panelWidth)
                for (int j = 0; j < panelWidth; j++) dst[j] = s[j * ColStride];
            return;
        }
        if (ColStride == 1 || RowStride != 1)
        {
            // Rows are contiguous (or nothing is): copy row by row.
            for (int k = 0; k < kc; k++)
            {
                float* d = dst + (long)k * panelWidth;
                ManagedConvert.Copy(Isa, Type, Data, (k0 + k) * RowStride + j0 * ColStride, ColStride, d, width);
                for (int j = width; j < panelWidth; j++) d[j] = 0;
            }
            return;
        }
        // Columns are contiguous: read each column once, scatter it into the panel.
        float* column = stackalloc float[kc];
        for (int j = 0; j < width; j++)
        {
            ManagedConvert.Copy(Isa, Type, Data, k0 + (j0 + j) * ColStride, 1, column, kc);
            for (int k = 0; k < kc; k++) dst[(long)k * panelWidth + j] = column[k];
        }
        for (int k = 0; k < kc; k++)
            for (int j = width; j < panelWidth; j++) dst[(long)k * panelWidth + j] = 0;
    }
}

/// <summary>
/// The im2col matrix of one image of a 2-D NCHW convolution, never materialized: row k = (c, kh, kw) (channel
/// slowest), column n = (oh, ow); the element is <c>x[c, oh·sh − ph + kh·dh, ow·sw − pw + kw·dw]</c>, zero in the
/// padding. <see cref="Data"/> points at the image's first channel of the group.
/// </summary>
internal readonly unsafe struct Im2ColSource : IPanelSource
{
    public readonly ManagedIsa Isa;
    public readonly void* Data;
    public readonly ElementType Type;
    public readonly long Offset;
    public readonly long H, W, KH, KW, SH, SW, DH, DW, PH, PW, OH, OW;

    public Im2ColSource(ManagedIsa isa, void* data, ElementType type, long offset, long h, long w, long kh, long kw, long sh, long sw, long dh, long dw, long ph, long pw, long oh, long ow)
    {
        Isa = isa;
        Data = data;
        Type = type;
        Offset = offset;
        (H, W, KH, KW, SH, SW, DH, DW, PH, PW, OH, OW) = (h, w, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Pack(long k0, int kc, long j0, int width, int panelWidth, float* dst)
    {
        if ((SW == 1 || SW == 2) && panelWidth == 32 && Type == ElementType.Float && Isa == ManagedIsa.Vector512)
        {
            PackUnitStride32(k0, kc, j0, width, dst);
            return;
        }
        if (panelWidth % 8 == 0 && Type == ElementType.Float && Isa >= ManagedIsa.Vector256 && (long)H * W < int.MaxValue / 2)
        {
            PackGather(k0, kc, j0, width, panelWidth, dst);
            return;
        }
        // Per column: the input row and column of the tap (kh, kw) = (0, 0) and their flat offset; a tap (kh, kw) of
        // channel c reads offset + c·H·W + kh·DH·W + kw·DW when its row and column fall inside the image.
        int* ih0 = stackalloc int[width];
        int* iw0 = stackalloc int[width];
        long* at0 = stackalloc long[width];
        long oh = j0 / OW, ow = j0 - oh * OW;
        for (int j = 0; j < width; j++)
        {
            ih0[j] = (int)(oh * SH - PH);
            iw0[j] = (int)(ow * SW - PW);
            at0[j] = Offset + ih0[j] * W + iw0[j];
            if (++ow == OW)
            {
                ow = 0;
                oh++;
            }
        }
        long taps = KH * KW, plane = H * W;
        long kk = k0, c = kk / taps, r = kk - c * taps, kh = r / KW, kw = r - kh * KW;
        for (int k = 0; k < kc; k++, dst += panelWidth)
        {
            int dh = (int)(kh * DH), dw = (int)(kw * DW);
            long tap = c * plane + dh * W + dw;
            uint h = (uint)H, w = (uint)W;
            if (Type == ElementType.Float)
            {
                float* x = (float*)Data + tap;
                for (int j = 0; j < width; j++)
                    dst[j] = (uint)(ih0[j] + dh) < h && (uint)(iw0[j] + dw) < w ? x[at0[j]] : 0f;
            }
            else
            {
                for (int j = 0; j < width; j++)
                    dst[j] = (uint)(ih0[j] + dh) < h && (uint)(iw0[j] + dw) < w ? ManagedConvert.Load(Type, Data, tap + at0[j]) : 0f;
            }
            for (int j = width; j < panelWidth; j++) dst[j] = 0;
            if (++kw == KW)
            {
                kw = 0;
                if (++kh == KH)
                {
                    kh = 0;
                    c++;
                }
            }
        }
    }

    /// <summary>
    /// Float32, column stride 1 or 2, 32-wide panels: the panel's columns fall into segments of one output row each,
    /// whose taps are consecutive (every other one for stride 2) in the input row; each 16-lane half is assembled from
    /// one masked load per segment (two masked loads and an even-lane permute for stride 2); lanes outside the segment
    /// or the input row are not read and stay zero.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void PackUnitStride32(long k0, int kc, long j0, int width, float* dst)
    {
        const int MaxSegments = 34;
        int* segOh = stackalloc int[MaxSegments];
        int* segIw = stackalloc int[MaxSegments];
        var iwBase = stackalloc Vector512<int>[MaxSegments * 2];
        var laneMask = stackalloc Vector512<int>[MaxSegments * 2];
        int segments = 0;
        long oh = j0 / OW, ow = j0 - oh * OW;
        var lanes = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        for (int j = 0; j < width; segments++)
        {
            int count = (int)Math.Min(OW - ow, width - j);
            segOh[segments] = (int)oh;
            // Lane L of the segment reads input column segIw + L·SW (+ kw·DW).
            segIw[segments] = (int)((ow - j) * SW - PW);
            for (int half = 0; half < 2; half++)
            {
                var lane = lanes + Vector512.Create(16 * half);
                // Input column of each lane for the tap kw = 0, and whether the lane belongs to this segment.
                iwBase[segments * 2 + half] = lane * Vector512.Create((int)SW) + Vector512.Create(segIw[segments]);
                laneMask[segments * 2 + half] = Vector512.GreaterThanOrEqual(lane, Vector512.Create(j)) & Vector512.LessThan(lane, Vector512.Create(j + count));
            }
            j += count;
            oh++;
            ow = 0;
        }
        long taps = KH * KW, plane = H * W;
        long kk = k0, c = kk / taps, r = kk - c * taps, kh = r / KW, kw = r - kh * KW;
        var wBound = Vector512.Create((uint)W);
        bool stride2 = SW == 2;
        for (int k = 0; k < kc; k++, dst += 32)
        {
            int dh = (int)(kh * DH), dw = (int)(kw * DW);
            var dwv = Vector512.Create(dw);
            float* channel = (float*)Data + Offset + c * plane;
            var lo = Vector512<float>.Zero;
            var hi = Vector512<float>.Zero;
            for (int g = 0; g < segments; g++)
            {
                long ih = segOh[g] * SH - PH + dh;
                if ((ulong)ih >= (ulong)H) continue;
                var m0 = laneMask[g * 2] & Vector512.LessThan((iwBase[g * 2] + dwv).AsUInt32(), wBound).AsInt32();
                var m1 = laneMask[g * 2 + 1] & Vector512.LessThan((iwBase[g * 2 + 1] + dwv).AsUInt32(), wBound).AsInt32();
                if (stride2)
                {
                    // Lane L reads row[segIw + 2L + dw]: the even elements of the 64 inputs from there, loaded where
                    // they lie inside the row, then picked by a two-source permute.
                    int start = segIw[g] + dw;
                    float* row = channel + ih * W;
                    lo = Vector512.ConditionalSelect(m0.AsSingle(), Even(row, start, W), lo);
                    hi = Vector512.ConditionalSelect(m1.AsSingle(), Even(row, start + 32, W), hi);
                    continue;
                }
                float* b = channel + ih * W + segIw[g] + dw;
                lo = Avx512F.MaskLoad(b, m0.AsSingle(), lo);
                hi = Avx512F.MaskLoad(b + 16, m1.AsSingle(), hi);
            }
            lo.Store(dst);
            hi.Store(dst + 16);
            if (++kw == KW)
            {
                kw = 0;
                if (++kh == KH)
                {
                    kh = 0;
                    c++;
                }
            }
        }
    }

    private static readonly Vector512<int> EvenLanes = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    private static readonly Vector512<int> Iota = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);

    /// <summary>row[start + 2L] for L = 0..15; elements outside [0, width) are not read (their lanes hold zero).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Even(float* row, int start, long width)
    {
        var bound = Vector512.Create((uint)width);
        var first = Vector512.LessThan((Iota + Vector512.Create(start)).AsUInt32(), bound).AsSingle();
        var second = Vector512.LessThan((Iota + Vector512.Create(start + 16)).AsUInt32(), bound).AsSingle();
        var a = Avx512F.MaskLoad(row + start, first, Vector512<float>.Zero);
        var b = Avx512F.MaskLoad(row + start + 16, second, Vector512<float>.Zero);
        return Avx512F.PermuteVar16x32x2(a, EvenLanes, b);
    }

    /// <summary>
    /// Float32, any stride: like <see cref="PackUnitStride32"/>, but each 8-lane group of a segment is one masked AVX2
    /// gather of <c>row[segIw + L·SW + kw·DW]</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void PackGather(long k0, int kc, long j0, int width, int panelWidth, float* dst)
    {
        int groups = panelWidth / 8;
        const int MaxSegments = 66;
        int* segOh = stackalloc int[MaxSegments];
        var index = stackalloc Vector256<int>[MaxSegments * 8];
        var laneMask = stackalloc Vector256<int>[MaxSegments * 8];
        int segments = 0;
        long oh = j0 / OW, ow = j0 - oh * OW;
        var lanes = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        for (int j = 0; j < width; segments++)
        {
            int count = (int)Math.Min(OW - ow, width - j);
            segOh[segments] = (int)oh;
            for (int q = 0; q < groups; q++)
            {
                var lane = lanes + Vector256.Create(8 * q);
                // Input column of each lane for the tap kw = 0: (ow + L - j)·SW − PW.
                index[segments * 8 + q] = (lane - Vector256.Create(j) + Vector256.Create((int)ow)) * Vector256.Create((int)SW) - Vector256.Create((int)PW);
                laneMask[segments * 8 + q] = Vector256.GreaterThanOrEqual(lane, Vector256.Create(j)) & Vector256.LessThan(lane, Vector256.Create(j + count));
            }
            j += count;
            oh++;
            ow = 0;
        }
        long taps = KH * KW, plane = H * W;
        long kk = k0, c = kk / taps, r = kk - c * taps, kh = r / KW, kw = r - kh * KW;
        var wBound = Vector256.Create((uint)W);
        var acc = stackalloc Vector256<float>[8];
        for (int k = 0; k < kc; k++, dst += panelWidth)
        {
            int dh = (int)(kh * DH), dw = (int)(kw * DW);
            var dwv = Vector256.Create(dw);
            float* channel = (float*)Data + Offset + c * plane;
            for (int q = 0; q < groups; q++) acc[q] = Vector256<float>.Zero;
            for (int g = 0; g < segments; g++)
            {
                long ih = segOh[g] * SH - PH + dh;
                if ((ulong)ih >= (ulong)H) continue;
                float* row = channel + ih * W;
                for (int q = 0; q < groups; q++)
                {
                    var iw = index[g * 8 + q] + dwv;
                    var m = laneMask[g * 8 + q] & Vector256.LessThan(iw.AsUInt32(), wBound).AsInt32();
                    if (m == Vector256<int>.Zero) continue;
                    acc[q] = Avx2.GatherMaskVector256(acc[q], row, iw, m.AsSingle(), 4);
                }
            }
            for (int q = 0; q < groups; q++) acc[q].Store(dst + 8 * q);
            if (++kw == KW)
            {
                kw = 0;
                if (++kh == KH)
                {
                    kh = 0;
                    c++;
                }
            }
        }
    }
}

/// <summary>
/// What happens to each accumulated dot product before it is stored: <c>y = Alpha·acc + Beta·Bias[i·BiasRowStride +
/// j·BiasColStride]</c> (the bias term only when <see cref="Bias"/> is set; strides of 0 broadcast), in float32, then
/// when <see cref="Clamp"/> is set <c>min(max(y, Lo), Hi)</c> with the IEEE maximum / minimum of the Relu / Clip
/// kernels (a NaN stays NaN) — a fused activation.
/// </summary>
internal readonly unsafe struct Epilogue(float alpha, float beta, float* bias, long biasRowStride, long biasColStride, ActivationClamp clamp = default)
{
    public readonly float Alpha = alpha, Beta = beta;
    public readonly float* Bias = bias;
    public readonly long BiasRowStride = biasRowStride, BiasColStride = biasColStride;
    public readonly ActivationClamp Clamp = clamp;

    public static Epilogue None => new(1, 0, null, 0, 0);

    /// <summary>A bias per row (a Conv's per-output-channel bias).</summary>
    public static Epilogue RowBias(float* bias) => new(1, 1, bias, 1, 0);

    /// <summary>The same epilogue followed by <paramref name="clamp"/>.</summary>
    public Epilogue With(ActivationClamp clamp) => new(Alpha, Beta, Bias, BiasRowStride, BiasColStride, clamp);

    public bool IsIdentity => Alpha == 1 && Bias == null && !Clamp.Enabled;

    /// <summary>Applies the epilogue to the block rows [i0, i0+rows) × columns [j0, j0+cols) stored at <paramref name="c"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Apply(float* c, long ldc, long i0, long j0, int rows, int cols)
    {
        if (IsIdentity) return;
        var alpha = Vector512.Create(Alpha);
        var beta = Vector512.Create(Beta);
        var lo = Vector512.Create(Clamp.Lo);
        var hi = Vector512.Create(Clamp.Hi);
        bool vector = Vector512.IsHardwareAccelerated;
        for (int r = 0; r < rows; r++)
        {
            float* row = c + r * ldc;
            float* b = Bias == null ? null : Bias + (i0 + r) * BiasRowStride + j0 * BiasColStride;
            int j = 0;
            if (vector)
            {
                bool broadcast = b != null && BiasColStride == 0, contiguous = b != null && BiasColStride == 1;
                if (b == null || broadcast || contiguous)
                {
                    var bv = broadcast ? Vector512.Create(b[0]) : default;
                    for (; j + 16 <= cols; j += 16)
                    {
                        var v = Vector512.Load(row + j);
                        if (Alpha != 1) v = alpha * v;
                        if (broadcast) v += Beta == 1 ? bv : beta * bv;
                        else if (contiguous) v += Beta == 1 ? Vector512.Load(b + j) : beta * Vector512.Load(b + j);
                        if (Clamp.Enabled) v = Vector512.Min(Vector512.Max(v, lo), hi);
                        v.Store(row + j);
                    }
                }
            }
            for (; j < cols; j++)
            {
                float v = row[j];
                if (Alpha != 1) v = Alpha * v;
                if (b != null) v += Beta == 1 ? b[j * BiasColStride] : Beta * b[j * BiasColStride];
                row[j] = Clamp.Apply(v);
            }
        }
    }
}

/// <summary>
/// A Relu (<c>[0, +∞]</c>) or Clip (<c>[Lo, Hi]</c>) fused into the kernel before it: <c>min(max(y, Lo), Hi)</c> as
/// the Relu / Clip kernels compute it. Rounding is monotonic and the bounds of a 16-bit result are that type's
/// values, so clamping the float32 result before its one rounding gives the same bits as clamping after.
/// </summary>
public readonly record struct ActivationClamp(bool Enabled, float Lo, float Hi)
{
    public static ActivationClamp Relu => new(true, 0f, float.PositiveInfinity);

    public static ActivationClamp Between(float lo, float hi) => new(true, lo, hi);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Apply(float v) => Enabled ? MathF.Min(MathF.Max(v, Lo), Hi) : v;

    /// <summary>Clamps a float32 / bf16 / f16 tensor in place (the fallback path of a fused kernel).</summary>
    internal unsafe void ApplyInPlace(ManagedIsa isa, Tensor t)
    {
        if (!Enabled) return;
        var data = new float[t.Length];
        fixed (float* d = data)
        {
            ManagedConvert.Widen(isa, t.Type, t.Pointer, d, t.Length);
            for (long i = 0; i < t.Length; i++) d[i] = Apply(d[i]);
            ManagedConvert.Narrow(isa, t.Type, d, t.Pointer, t.Length);
        }
    }
}
