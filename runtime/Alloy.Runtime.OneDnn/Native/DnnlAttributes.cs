namespace Alloy.Runtime.OneDnn.Native;

/// <summary>
/// Primitive attributes (<c>dnnl_primitive_attr_t</c>): a user-provided scratchpad, output scales (one, or one per
/// output channel), common zero points of the source and destination, and an eltwise post-op (ReLU or clip).
/// </summary>
internal sealed unsafe class DnnlAttributes : IDisposable
{
    private nint _attr, _postOps;

    public DnnlAttributes()
    {
        var api = OneDnnLibrary.Api;
        nint attr;
        OneDnnLibrary.Check(api.PrimitiveAttrCreate(&attr), "dnnl_primitive_attr_create");
        _attr = attr;
        OneDnnLibrary.Check(api.PrimitiveAttrSetScratchpadMode(_attr, Dnnl.ScratchpadUser), "dnnl_primitive_attr_set_scratchpad_mode");
    }

    ~DnnlAttributes() => Free();

    public nint Handle => _attr;

    /// <summary>Scales applied to the accumulator: one value (mask 0) or one per output channel (mask 1 &lt;&lt; 1).</summary>
    public void OutputScales(ReadOnlySpan<float> scales)
    {
        fixed (float* s = scales)
            OneDnnLibrary.Check(OneDnnLibrary.Api.PrimitiveAttrSetOutputScales(_attr, scales.Length, scales.Length == 1 ? 0 : 1 << 1, s),
                "dnnl_primitive_attr_set_output_scales");
    }

    /// <summary>A common zero point of argument <paramref name="arg"/> (<see cref="Dnnl.ArgSrc"/> or <see cref="Dnnl.ArgDst"/>).</summary>
    public void ZeroPoint(int arg, int value)
    {
        if (value == 0) return;
        OneDnnLibrary.Check(OneDnnLibrary.Api.PrimitiveAttrSetZeroPoints(_attr, arg, 1, 0, &value), "dnnl_primitive_attr_set_zero_points");
    }

    /// <summary>ReLU (<paramref name="lo"/> = 0, <paramref name="hi"/> = +∞) or clip to [lo, hi] after scaling.</summary>
    public void Clamp(float lo, float hi)
    {
        var api = OneDnnLibrary.Api;
        if (_postOps == 0)
        {
            nint po;
            OneDnnLibrary.Check(api.PostOpsCreate(&po), "dnnl_post_ops_create");
            _postOps = po;
        }
        if (lo == 0f && float.IsPositiveInfinity(hi))
            OneDnnLibrary.Check(api.PostOpsAppendEltwise(_postOps, 1f, Dnnl.EltwiseRelu, 0f, 0f), "dnnl_post_ops_append_eltwise");
        else
            OneDnnLibrary.Check(api.PostOpsAppendEltwise(_postOps, 1f, Dnnl.EltwiseClip, Math.Max(lo, float.MinValue), Math.Min(hi, float.MaxValue)),
                "dnnl_post_ops_append_eltwise");
        OneDnnLibrary.Check(api.PrimitiveAttrSetPostOps(_attr, _postOps), "dnnl_primitive_attr_set_post_ops");
    }

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    private void Free()
    {
        if (_postOps != 0) OneDnnLibrary.Api.PostOpsDestroy(_postOps);
        if (_attr != 0) OneDnnLibrary.Api.PrimitiveAttrDestroy(_attr);
        _postOps = _attr = 0;
    }
}
