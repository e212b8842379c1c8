using System.Runtime.Intrinsics;

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
internal readonly unsafe struct StridedMatrix(void* data, ElementType type, long rowStride, long colStride) : IPanelSource
{
    public readonly void* Data = data;
    public readonly ElementType Type = type;
    public readonly long RowStride = rowStride, ColStride = colStride;

    /// <summary>The same data seen transposed.</summary>
    public StridedMatrix Transposed => new(Data, Type, ColStride, RowStride);

    public void Pack(long k0, int kc, long j0, int width, int panelWidth, float* dst)
    {
        if (Type == ElementType.Float && ColStride == 1 && width == panelWidth && (panelWidth & 15) == 0 && Vector512.IsHardwareAccelerated)
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
                ManagedConvert.Copy(Type, Data, (k0 + k) * RowStride + j0 * ColStride, ColStride, d, width);
                for (int j = width; j < panelWidth; j++) d[j] = 0;
            }
            return;
        }
        // Columns are contiguous: read each column once, scatter it into the panel.
        float* column = stackalloc float[kc];
        for (int j = 0; j < width; j++)
        {
            ManagedConvert.Copy(Type, Data, k0 + (j0 + j) * ColStride, 1, column, kc);
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
    public readonly void* Data;
    public readonly ElementType Type;
    public readonly long Offset;
    public readonly long H, W, KH, KW, SH, SW, DH, DW, PH, PW, OH, OW;

    public Im2ColSource(void* data, ElementType type, long offset, long h, long w, long kh, long kw, long sh, long sw, long dh, long dw, long ph, long pw, long oh, long ow)
    {
        Data = data;
        Type = type;
        Offset = offset;
        (H, W, KH, KW, SH, SW, DH, DW, PH, PW, OH, OW) = (h, w, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow);
    }

    public void Pack(long k0, int kc, long j0, int width, int panelWidth, float* dst)
    {
        if (width > MaxPanel)
        {
            PackRuns(k0, kc, j0, width, panelWidth, dst);
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

    /// <summary>Panels wider than this use the run-by-run copy.</summary>
    private const int MaxPanel = 64;

    /// <summary>Copies each k row as runs of consecutive output columns (one run per output row).</summary>
    private void PackRuns(long k0, int kc, long j0, int width, int panelWidth, float* dst)
    {
        long taps = KH * KW;
        for (int k = 0; k < kc; k++)
        {
            long kk = k0 + k, c = kk / taps, r = kk - c * taps, kh = r / KW, kw = r - kh * KW;
            float* d = dst + (long)k * panelWidth;
            long oh = j0 / OW, ow = j0 - oh * OW;
            int t = 0;
            while (t < width)
            {
                int run = (int)Math.Min(OW - ow, width - t);
                long ih = oh * SH - PH + kh * DH;
                if (ih < 0 || ih >= H)
                {
                    new Span<float>(d + t, run).Clear();
                }
                else
                {
                    long iw0 = ow * SW - PW + kw * DW;
                    // The taps u in [lo, hi) of this run fall inside the row: 0 <= iw0 + u*SW < W.
                    long lo = iw0 >= 0 ? 0 : (-iw0 + SW - 1) / SW;
                    long hi = iw0 > W - 1 ? 0 : (W - 1 - iw0) / SW + 1;
                    lo = Math.Min(lo, run);
                    hi = Math.Clamp(hi, lo, run);
                    if (lo > 0) new Span<float>(d + t, (int)lo).Clear();
                    if (hi > lo)
                        ManagedConvert.Copy(Type, Data, Offset + (c * H + ih) * W + iw0 + lo * SW, SW, d + t + lo, (int)(hi - lo));
                    if (run > hi) new Span<float>(d + t + hi, (int)(run - hi)).Clear();
                }
                t += run;
                oh++;
                ow = 0;
            }
            for (int j = width; j < panelWidth; j++) d[j] = 0;
        }
    }
}

/// <summary>
/// What happens to each accumulated dot product before it is stored: <c>y = Alpha·acc + Beta·Bias[i·BiasRowStride +
/// j·BiasColStride]</c> (the bias term only when <see cref="Bias"/> is set; strides of 0 broadcast), in float32.
/// </summary>
internal readonly unsafe struct Epilogue(float alpha, float beta, float* bias, long biasRowStride, long biasColStride)
{
    public readonly float Alpha = alpha, Beta = beta;
    public readonly float* Bias = bias;
    public readonly long BiasRowStride = biasRowStride, BiasColStride = biasColStride;

    public static Epilogue None => new(1, 0, null, 0, 0);

    /// <summary>A bias per row (a Conv's per-output-channel bias).</summary>
    public static Epilogue RowBias(float* bias) => new(1, 1, bias, 1, 0);

    public bool IsIdentity => Alpha == 1 && Bias == null;

    /// <summary>Applies the epilogue to the block rows [i0, i0+rows) × columns [j0, j0+cols) stored at <paramref name="c"/>.</summary>
    public void Apply(float* c, long ldc, long i0, long j0, int rows, int cols)
    {
        if (IsIdentity) return;
        for (int r = 0; r < rows; r++)
        {
            float* row = c + r * ldc;
            if (Alpha != 1)
                for (int j = 0; j < cols; j++) row[j] = Alpha * row[j];
            if (Bias == null) continue;
            float* b = Bias + (i0 + r) * BiasRowStride + j0 * BiasColStride;
            if (BiasColStride == 0)
            {
                float v = Beta == 1 ? b[0] : Beta * b[0];
                for (int j = 0; j < cols; j++) row[j] += v;
            }
            else if (Beta == 1)
                for (int j = 0; j < cols; j++) row[j] += b[j * BiasColStride];
            else
                for (int j = 0; j < cols; j++) row[j] += Beta * b[j * BiasColStride];
        }
    }
}
