using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Alloy.Runtime.OneDnn.Native;

namespace Alloy.Runtime.OneDnn.Convolution;

/// <summary>
/// One oneDNN forward convolution for one <see cref="ConvolutionShape"/> and thread count: the primitive (source,
/// weights and destination layouts chosen by oneDNN), the weights reordered into its layout once, and the reorders
/// between Alloy's NCHW tensors and the primitive's layouts (omitted when they coincide). Running it is safe from
/// several threads at once: each run takes its own set of memory objects.
/// </summary>
internal sealed unsafe class OneDnnConvolution : IDisposable
{
    private readonly DnnlPrimitive _conv;
    private readonly DnnlPrimitive? _srcReorder, _dstReorder;
    private readonly DnnlMemoryDesc _userSrc, _convSrc, _convDst, _userDst, _weightsMd, _biasMd, _scratchMd;
    private readonly long _srcBytes, _dstBytes, _scratchBytes;
    private readonly bool _hasBias;
    private readonly void* _bias;
    private void* _weights;
    private readonly ConcurrentBag<MemorySet> _sets = [];

    private OneDnnConvolution(DnnlPrimitive conv, DnnlPrimitive? srcReorder, DnnlPrimitive? dstReorder, DnnlMemoryDesc userSrc, DnnlMemoryDesc userDst,
        DnnlMemoryDesc biasMd, bool hasBias, void* bias)
    {
        _conv = conv;
        _srcReorder = srcReorder;
        _dstReorder = dstReorder;
        _userSrc = userSrc;
        _userDst = userDst;
        _convSrc = conv.Query(Dnnl.QuerySrcMd);
        _convDst = conv.Query(Dnnl.QueryDstMd);
        _weightsMd = conv.Query(Dnnl.QueryWeightsMd);
        _scratchMd = conv.Query(Dnnl.QueryScratchpadMd);
        _srcBytes = srcReorder is null ? 0 : DnnlMemory.Size(_convSrc);
        _dstBytes = dstReorder is null ? 0 : DnnlMemory.Size(_convDst);
        _scratchBytes = DnnlMemory.Size(_scratchMd);
        _biasMd = biasMd;
        _hasBias = hasBias;
        _bias = bias;
        Implementation = conv.ImplementationName();
    }

    ~OneDnnConvolution() => FreeWeights();

    /// <summary>oneDNN's name of the convolution implementation (e.g. <c>jit_int8:avx512_core_vnni</c>).</summary>
    public string Implementation { get; }

    /// <summary>Whether the input and output pass through a reorder (the primitive chose a layout other than NCHW).</summary>
    public bool Reorders => _srcReorder is not null || _dstReorder is not null;

    /// <summary>
    /// The convolution of <paramref name="shape"/> with weights <paramref name="weights"/> (OIHW, type
    /// <see cref="ConvolutionTypes.Weights"/>) and bias <paramref name="bias"/> (M values, null for none; it must stay
    /// valid while the convolution lives), created for <paramref name="threads"/> OpenMP threads; null with oneDNN's
    /// reason when it has no implementation.
    /// </summary>
    public static OneDnnConvolution? TryCreate(ConvolutionShape s, ConvolutionTypes types, ConvolutionEpilogue epilogue, ConvolutionLayouts layouts,
        void* weights, void* bias, int threads, out string? reason)
    {
        OpenMp.UseThreads(threads);
        // NCHW sides leave the layout to oneDNN (and reorder); channels-last sides ask for NHWC, which is what the
        // neighbouring oneDNN convolution reads or writes.
        var userSrc = DnnlMemory.Desc([s.N, s.C, s.H, s.W], types.Src, layouts.SrcChannelsLast ? Dnnl.TagAcdb : Dnnl.TagAbcd);
        var userDst = DnnlMemory.Desc([s.N, s.M, s.OH, s.OW], types.Dst, layouts.DstChannelsLast ? Dnnl.TagAcdb : Dnnl.TagAbcd);
        var anySrc = layouts.SrcChannelsLast ? userSrc : DnnlMemory.Desc([s.N, s.C, s.H, s.W], types.Src, Dnnl.FormatAny);
        var anyDst = layouts.DstChannelsLast ? userDst : DnnlMemory.Desc([s.N, s.M, s.OH, s.OW], types.Dst, Dnnl.FormatAny);
        long[] wDims = s.Group == 1 ? [s.M, s.C, s.KH, s.KW] : [s.Group, s.M / s.Group, s.C / s.Group, s.KH, s.KW];
        var anyWeights = DnnlMemory.Desc(wDims, types.Weights, Dnnl.FormatAny);
        var userWeights = DnnlMemory.Desc(wDims, types.Weights, s.Group == 1 ? Dnnl.TagAbcd : Dnnl.TagAbcde);
        bool hasBias = bias != null && types.Bias != 0;
        var biasMd = hasBias ? DnnlMemory.Desc([s.M], types.Bias, Dnnl.TagA) : default;
        var strides = DnnlDims.Of([s.SH, s.SW]);
        var dilates = DnnlDims.Of([s.DH - 1, s.DW - 1]);
        var padL = DnnlDims.Of([s.PadTop, s.PadLeft]);
        var padR = DnnlDims.Of([s.PadBottom, s.PadRight]);
        DnnlConvolutionDesc desc;
        int status = OneDnnLibrary.Api.DilatedConvolutionForwardDescInit(&desc, Dnnl.ForwardInference, Dnnl.ConvolutionDirect, &anySrc, &anyWeights,
            hasBias ? &biasMd : null, &anyDst, (long*)&strides, (long*)&dilates, (long*)&padL, (long*)&padR);
        if (status != Dnnl.Success)
        {
            reason = new OneDnnException("dnnl_dilated_convolution_forward_desc_init", status).Message;
            return null;
        }
        using var attr = epilogue.ToAttributes();
        var conv = DnnlPrimitive.TryCreate(&desc, attr.Handle, out reason);
        if (conv is null) return null;
        DnnlPrimitive? srcReorder = null, dstReorder = null;
        var convSrc = conv.Query(Dnnl.QuerySrcMd);
        var convDst = conv.Query(Dnnl.QueryDstMd);
        if ((!DnnlMemory.Equal(convSrc, userSrc) && (srcReorder = DnnlPrimitive.TryCreateReorder(&userSrc, &convSrc, out reason)) is null)
            || (!DnnlMemory.Equal(convDst, userDst) && (dstReorder = DnnlPrimitive.TryCreateReorder(&convDst, &userDst, out reason)) is null))
        {
            conv.Dispose();
            srcReorder?.Dispose();
            return null;
        }
        var result = new OneDnnConvolution(conv, srcReorder, dstReorder, userSrc, userDst, biasMd, hasBias, bias);
        if (!result.PackWeights(userWeights, weights, out reason))
        {
            result.Dispose();
            return null;
        }
        return result;
    }

    /// <summary>Reorders the user's weights into the primitive's layout (with the compensation it needs), once.</summary>
    private bool PackWeights(DnnlMemoryDesc userWeights, void* weights, out string? reason)
    {
        var target = _weightsMd;
        using var reorder = DnnlPrimitive.TryCreateReorder(&userWeights, &target, out reason);
        if (reorder is null) return false;
        long bytes = DnnlMemory.Size(target);
        _weights = NativeMemory.AlignedAlloc((nuint)Math.Max(bytes, 64), 64);
        using var from = new DnnlMemory(userWeights, weights);
        using var to = new DnnlMemory(target, _weights);
        reorder.Execute([new DnnlExecArg(Dnnl.ArgFrom, from.Handle), new DnnlExecArg(Dnnl.ArgTo, to.Handle)]);
        return true;
    }

    /// <summary>Runs the convolution of <paramref name="src"/> into <paramref name="dst"/> (NCHW, or NHWC where the layouts say so) on <paramref name="threads"/> threads.</summary>
    public void Execute(void* src, void* dst, int threads)
    {
        OpenMp.UseThreads(threads);
        if (!_sets.TryTake(out var set)) set = new MemorySet(this);
        try
        {
            var scratch = ThreadScratch.Current;
            set.UserSrc.Point(src);
            set.UserDst.Point(dst);
            if (_srcReorder is not null)
            {
                set.ConvSrc!.Point(scratch.Get(0, _srcBytes));
                _srcReorder.Execute([new DnnlExecArg(Dnnl.ArgFrom, set.UserSrc.Handle), new DnnlExecArg(Dnnl.ArgTo, set.ConvSrc.Handle)]);
            }
            if (_dstReorder is not null) set.ConvDst!.Point(scratch.Get(1, _dstBytes));
            Span<DnnlExecArg> args = stackalloc DnnlExecArg[5];
            int n = 0;
            args[n++] = new DnnlExecArg(Dnnl.ArgSrc, (set.ConvSrc ?? set.UserSrc).Handle);
            args[n++] = new DnnlExecArg(Dnnl.ArgWeights, set.Weights.Handle);
            args[n++] = new DnnlExecArg(Dnnl.ArgDst, (set.ConvDst ?? set.UserDst).Handle);
            if (set.Bias is not null) args[n++] = new DnnlExecArg(Dnnl.ArgBias, set.Bias.Handle);
            if (set.Scratchpad is not null)
            {
                set.Scratchpad.Point(scratch.Get(2, _scratchBytes));
                args[n++] = new DnnlExecArg(Dnnl.ArgScratchpad, set.Scratchpad.Handle);
            }
            _conv.Execute(args[..n]);
            if (_dstReorder is not null)
                _dstReorder.Execute([new DnnlExecArg(Dnnl.ArgFrom, set.ConvDst!.Handle), new DnnlExecArg(Dnnl.ArgTo, set.UserDst.Handle)]);
        }
        finally
        {
            _sets.Add(set);
        }
    }

    public void Dispose()
    {
        while (_sets.TryTake(out var set)) set.Dispose();
        _conv.Dispose();
        _srcReorder?.Dispose();
        _dstReorder?.Dispose();
        FreeWeights();
        GC.SuppressFinalize(this);
    }

    private void FreeWeights()
    {
        if (_weights == null) return;
        NativeMemory.AlignedFree(_weights);
        _weights = null;
    }

    /// <summary>The memory objects one run binds (data pointers set per run).</summary>
    private sealed class MemorySet : IDisposable
    {
        public MemorySet(OneDnnConvolution c)
        {
            UserSrc = new DnnlMemory(c._userSrc, null);
            UserDst = new DnnlMemory(c._userDst, null);
            ConvSrc = c._srcReorder is null ? null : new DnnlMemory(c._convSrc, null);
            ConvDst = c._dstReorder is null ? null : new DnnlMemory(c._convDst, null);
            Weights = new DnnlMemory(c._weightsMd, c._weights);
            Bias = c._hasBias ? new DnnlMemory(c._biasMd, c._bias) : null;
            Scratchpad = c._scratchBytes > 0 ? new DnnlMemory(c._scratchMd, null) : null;
        }

        public DnnlMemory UserSrc { get; }
        public DnnlMemory UserDst { get; }
        public DnnlMemory? ConvSrc { get; }
        public DnnlMemory? ConvDst { get; }
        public DnnlMemory Weights { get; }
        public DnnlMemory? Bias { get; }
        public DnnlMemory? Scratchpad { get; }

        public void Dispose()
        {
            UserSrc.Dispose();
            UserDst.Dispose();
            ConvSrc?.Dispose();
            ConvDst?.Dispose();
            Weights.Dispose();
            Bias?.Dispose();
            Scratchpad?.Dispose();
        }
    }
}
