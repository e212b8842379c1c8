using static Alloy.Runtime.Kernels.Reference.LinearAlgebraHelpers;

namespace Alloy.Runtime.Kernels.Reference;

/// <summary>The spatial attributes shared by Conv, ConvTranspose, ConvInteger and the pooling ops.</summary>
internal sealed class SpatialAttributes
{
    public string AutoPad = "NOTSET";
    public long[]? Pads, Strides, Dilations, KernelShape;
    public bool CeilMode;

    /// <summary>Reads and checks the attributes; returns null with a reason for an unsupported auto_pad.</summary>
    public static SpatialAttributes? Read(KernelNode n, out string? reason)
    {
        var a = n.Attributes;
        var s = new SpatialAttributes
        {
            AutoPad = a.GetString("auto_pad", "NOTSET"),
            Pads = a.GetInts("pads"),
            Strides = a.GetInts("strides"),
            Dilations = a.GetInts("dilations"),
            KernelShape = a.GetInts("kernel_shape"),
            CeilMode = a.GetInt("ceil_mode", 0) != 0,
        };
        if (s.AutoPad.Length == 0) s.AutoPad = "NOTSET";
        reason = s.AutoPad is "NOTSET" or "SAME_UPPER" or "SAME_LOWER" or "VALID" ? null : $"{n.OpType}: auto_pad '{s.AutoPad}' is not supported";
        if (reason is null && s.Strides?.Any(v => v < 1) == true) reason = $"{n.OpType}: strides [{string.Join(",", s.Strides)}] must be positive";
        if (reason is null && s.Dilations?.Any(v => v < 1) == true) reason = $"{n.OpType}: dilations [{string.Join(",", s.Dilations)}] must be positive";
        if (reason is null && s.KernelShape?.Any(v => v < 1) == true) reason = $"{n.OpType}: kernel_shape [{string.Join(",", s.KernelShape)}] must be positive";
        return reason is null ? s : null;
    }

    /// <summary><paramref name="values"/> checked to have <paramref name="rank"/> entries, or all <paramref name="fallback"/>.</summary>
    public static long[] PerDim(long[]? values, int rank, long fallback, string op, string name)
    {
        if (values is null) return Enumerable.Repeat(fallback, rank).ToArray();
        if (values.Length != rank)
            throw new KernelException($"{op}: attribute '{name}' has {values.Length} values, the input has {rank} spatial dims");
        return values;
    }
}

/// <summary>
/// The sliding-window geometry of a convolution or pooling over <see cref="Rank"/> spatial dims: input size,
/// kernel size, strides, dilations, begin/end padding and output size.
/// </summary>
internal sealed class SpatialWindow
{
    public int Rank;
    public long[] In = [], Kernel = [], Stride = [], Dilation = [], PadBegin = [], PadEnd = [], Out = [];

    public long InSize => Product(In);
    public long KernelSize => Product(Kernel);
    public long OutSize => Product(Out);

    /// <summary>
    /// The geometry of a Conv or pool: explicit pads (NOTSET), no pads (VALID), or SAME_UPPER/SAME_LOWER
    /// (output = ceil(in / stride), the odd padding at the end resp. the beginning). With
    /// <paramref name="ceilMode"/> the output size rounds up, but the last window must start inside the input
    /// or its leading padding.
    /// </summary>
    public static SpatialWindow Forward(string op, SpatialAttributes a, long[] inSpatial, long[] kernel, bool ceilMode)
    {
        int rank = inSpatial.Length;
        var w = new SpatialWindow
        {
            Rank = rank,
            In = inSpatial,
            Kernel = kernel,
            Stride = SpatialAttributes.PerDim(a.Strides, rank, 1, op, "strides"),
            Dilation = SpatialAttributes.PerDim(a.Dilations, rank, 1, op, "dilations"),
            PadBegin = new long[rank],
            PadEnd = new long[rank],
            Out = new long[rank],
        };
        if (a.AutoPad == "NOTSET" && a.Pads is { } pads)
        {
            if (pads.Length != 2 * rank)
                throw new KernelException($"{op}: attribute 'pads' has {pads.Length} values, expected {2 * rank} for {rank} spatial dims");
            if (pads.Any(p => p < 0)) throw new KernelException($"{op}: negative pads [{string.Join(",", pads)}] are not supported");
            Array.Copy(pads, 0, w.PadBegin, 0, rank);
            Array.Copy(pads, rank, w.PadEnd, 0, rank);
        }
        for (int d = 0; d < rank; d++)
        {
            long dk = (kernel[d] - 1) * w.Dilation[d] + 1, s = w.Stride[d], n = inSpatial[d];
            if (a.AutoPad is "SAME_UPPER" or "SAME_LOWER")
            {
                long o = (n + s - 1) / s;
                long total = Math.Max(0, (o - 1) * s + dk - n);
                long small = total / 2, large = total - small;
                w.PadBegin[d] = a.AutoPad == "SAME_UPPER" ? small : large;
                w.PadEnd[d] = a.AutoPad == "SAME_UPPER" ? large : small;
                w.Out[d] = o;
                continue;
            }
            long span = n + w.PadBegin[d] + w.PadEnd[d] - dk;
            if (span < 0)
                throw new KernelException($"{op}: the kernel (extent {dk} in spatial dim {d}) is larger than the padded input ({n + w.PadBegin[d] + w.PadEnd[d]})");
            long outD = ceilMode ? (span + s - 1) / s + 1 : span / s + 1;
            if (ceilMode && (outD - 1) * s >= n + w.PadBegin[d]) outD--;
            w.Out[d] = outD;
        }
        return w;
    }

    /// <summary>
    /// The taps of the window at output position <paramref name="outIndex"/>: pairs of (flat kernel offset,
    /// flat input offset) for the taps inside the input; <paramref name="padded"/> counts the taps inside the
    /// input or its explicit padding.
    /// </summary>
    public void Taps(long[] outIndex, List<(long Kernel, long Input)> taps, out long padded)
    {
        taps.Clear();
        padded = 0;
        var k = new long[Rank];
        long kCount = KernelSize;
        for (long kf = 0; kf < kCount; kf++)
        {
            bool inside = true, inPadded = true;
            long flat = 0;
            for (int d = 0; d < Rank; d++)
            {
                long pos = outIndex[d] * Stride[d] - PadBegin[d] + k[d] * Dilation[d];
                if (pos < 0 || pos >= In[d]) inside = false;
                if (pos < -PadBegin[d] || pos >= In[d] + PadEnd[d]) inPadded = false;
                flat = flat * In[d] + pos;
            }
            if (inPadded) padded++;
            if (inside) taps.Add((kf, flat));
            Next(k, Kernel);
        }
    }

    /// <summary>
    /// The taps of every output position (in row-major order), as compressed rows: the taps of output
    /// <c>o</c> are entries <c>start[o] .. start[o + 1]</c> of <paramref name="kernelOffset"/> and <paramref name="inputOffset"/>.
    /// </summary>
    public void AllTaps(out int[] start, out int[] kernelOffset, out int[] inputOffset)
    {
        long outSize = OutSize;
        start = new int[outSize + 1];
        var ks = new List<int>();
        var ins = new List<int>();
        var taps = new List<(long Kernel, long Input)>();
        var o = new long[Rank];
        for (long of = 0; of < outSize; of++)
        {
            Taps(o, taps, out _);
            foreach (var (k, i) in taps)
            {
                ks.Add(checked((int)k));
                ins.Add(checked((int)i));
            }
            start[of + 1] = ks.Count;
            Next(o, Out);
        }
        kernelOffset = [.. ks];
        inputOffset = [.. ins];
    }

    /// <summary>The spatial coordinates of flat input offset <paramref name="flat"/>.</summary>
    public long[] InputCoordinates(long flat)
    {
        var c = new long[Rank];
        for (int d = Rank - 1; d >= 0; d--)
        {
            c[d] = flat % In[d];
            flat /= In[d];
        }
        return c;
    }
}
