namespace Alloy.Runtime.OneDnn.Native;

/// <summary>
/// Enumeration values of the oneDNN 2.x C API (<c>dnnl_types.h</c> of v2.6) that the binding passes. They are the
/// library's ABI: each value below is the one the 2.6 headers define.
/// </summary>
internal static class Dnnl
{
    // dnnl_status_t
    public const int Success = 0;
    public const int Unimplemented = 3;

    // dnnl_data_type_t
    public const int Bf16 = 2;
    public const int F32 = 3;
    public const int S32 = 4;
    public const int S8 = 5;
    public const int U8 = 6;

    // dnnl_format_tag_t
    public const int FormatAny = 1;
    public const int TagA = 2;      // 1-D (dnnl_x)
    public const int TagAb = 3;     // 2-D row-major
    public const int TagAbcd = 5;   // nchw / oihw
    public const int TagAbcde = 7;  // goihw
    public const int TagBa = 22;    // 2-D column-major
    public const int TagAcdb = 20;  // nhwc

    // dnnl_prop_kind_t, dnnl_alg_kind_t
    public const int ForwardInference = 96;
    public const int ConvolutionDirect = 1;
    public const int EltwiseRelu = 31;
    public const int EltwiseClip = 255;

    // dnnl_engine_kind_t, dnnl_stream_flags_t, dnnl_scratchpad_mode_t
    public const int EngineCpu = 1;
    public const uint StreamDefaultFlags = 1;
    public const int ScratchpadUser = 1;

    // DNNL_ARG_*
    public const int ArgSrc = 1;
    public const int ArgDst = 17;
    public const int ArgWeights = 33;
    public const int ArgBias = 41;
    public const int ArgScratchpad = 80;
    public const int ArgFrom = ArgSrc;
    public const int ArgTo = ArgDst;

    // dnnl_query_t
    public const int QueryImplInfoStr = 8;
    public const int QuerySrcMd = 129;
    public const int QueryWeightsMd = 131;
    public const int QueryDstMd = 133;
    public const int QueryScratchpadMd = 136;

    /// <summary><c>DNNL_MAX_NDIMS</c>: the length of a <c>dnnl_dims_t</c>.</summary>
    public const int MaxDims = 12;

    /// <summary><c>sizeof(dnnl_memory_desc_t)</c> in oneDNN 2.6 (x86-64).</summary>
    public const int MemoryDescBytes = 696;

    /// <summary><c>sizeof(dnnl_convolution_desc_t)</c> in oneDNN 2.6 (x86-64).</summary>
    public const int ConvolutionDescBytes = 5976;

    /// <summary><c>sizeof(dnnl_matmul_desc_t)</c> in oneDNN 2.6 (x86-64).</summary>
    public const int MatMulDescBytes = 2800;
}
