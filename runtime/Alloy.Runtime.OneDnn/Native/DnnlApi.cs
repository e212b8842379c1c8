using System.Runtime.InteropServices;

namespace Alloy.Runtime.OneDnn.Native;

/// <summary>
/// The oneDNN 2.x C entry points the binding uses, resolved from <c>libdnnl.so.2</c> at load time (no static import:
/// a machine without the library loads this assembly and reports oneDNN as unavailable). Signatures follow
/// <c>dnnl.h</c> of v2.6; handles (<c>dnnl_engine_t</c>, <c>dnnl_primitive_t</c>, …) are opaque pointers.
/// </summary>
internal sealed unsafe class DnnlApi
{
    public delegate* unmanaged<nint*, int, nuint, int> EngineCreate;
    public delegate* unmanaged<nint*, nint, uint, int> StreamCreate;
    public delegate* unmanaged<nint, int> StreamWait;
    public delegate* unmanaged<DnnlMemoryDesc*, int, long*, int, int, int> MemoryDescInitByTag;
    public delegate* unmanaged<DnnlMemoryDesc*, nuint> MemoryDescGetSize;
    public delegate* unmanaged<DnnlMemoryDesc*, DnnlMemoryDesc*, int> MemoryDescEqual;
    public delegate* unmanaged<nint*, DnnlMemoryDesc*, nint, void*, int> MemoryCreate;
    public delegate* unmanaged<nint, void*, int> MemorySetDataHandle;
    public delegate* unmanaged<nint, int> MemoryDestroy;
    public delegate* unmanaged<DnnlConvolutionDesc*, int, int, DnnlMemoryDesc*, DnnlMemoryDesc*, DnnlMemoryDesc*, DnnlMemoryDesc*,
        long*, long*, long*, long*, int> DilatedConvolutionForwardDescInit;
    public delegate* unmanaged<DnnlMatMulDesc*, DnnlMemoryDesc*, DnnlMemoryDesc*, DnnlMemoryDesc*, DnnlMemoryDesc*, int> MatMulDescInit;
    public delegate* unmanaged<nint*, void*, nint, nint, nint, int> PrimitiveDescCreate;
    public delegate* unmanaged<nint, int, int, void*, int> PrimitiveDescQuery;
    public delegate* unmanaged<nint, int, int, DnnlMemoryDesc*> PrimitiveDescQueryMd;
    public delegate* unmanaged<nint, int> PrimitiveDescDestroy;
    public delegate* unmanaged<nint*, nint, int> PrimitiveCreate;
    public delegate* unmanaged<nint, nint, int, DnnlExecArg*, int> PrimitiveExecute;
    public delegate* unmanaged<nint, int> PrimitiveDestroy;
    public delegate* unmanaged<nint*, int> PrimitiveAttrCreate;
    public delegate* unmanaged<nint, int> PrimitiveAttrDestroy;
    public delegate* unmanaged<nint, int, int> PrimitiveAttrSetScratchpadMode;
    public delegate* unmanaged<nint, long, int, float*, int> PrimitiveAttrSetOutputScales;
    public delegate* unmanaged<nint, int, long, int, int*, int> PrimitiveAttrSetZeroPoints;
    public delegate* unmanaged<nint, nint, int> PrimitiveAttrSetPostOps;
    public delegate* unmanaged<nint*, int> PostOpsCreate;
    public delegate* unmanaged<nint, int> PostOpsDestroy;
    public delegate* unmanaged<nint, float, int, float, float, int> PostOpsAppendEltwise;
    public delegate* unmanaged<nint*, DnnlMemoryDesc*, nint, DnnlMemoryDesc*, nint, nint, int> ReorderPrimitiveDescCreate;
    public delegate* unmanaged<int, int> SetMaxCpuIsa;
    public delegate* unmanaged<int> GetEffectiveCpuIsa;
    public delegate* unmanaged<DnnlVersion*> Version;

    /// <summary>Resolves every entry point from <paramref name="library"/>; null with the first missing name.</summary>
    public static DnnlApi? Resolve(nint library, out string? missing)
    {
        var api = new DnnlApi();
        missing = null;
        nint F(string name, ref string? miss)
        {
            if (NativeLibrary.TryGetExport(library, name, out var p)) return p;
            miss ??= name;
            return 0;
        }
        api.EngineCreate = (delegate* unmanaged<nint*, int, nuint, int>)F("dnnl_engine_create", ref missing);
        api.StreamCreate = (delegate* unmanaged<nint*, nint, uint, int>)F("dnnl_stream_create", ref missing);
        api.StreamWait = (delegate* unmanaged<nint, int>)F("dnnl_stream_wait", ref missing);
        api.MemoryDescInitByTag = (delegate* unmanaged<DnnlMemoryDesc*, int, long*, int, int, int>)F("dnnl_memory_desc_init_by_tag", ref missing);
        api.MemoryDescGetSize = (delegate* unmanaged<DnnlMemoryDesc*, nuint>)F("dnnl_memory_desc_get_size", ref missing);
        api.MemoryDescEqual = (delegate* unmanaged<DnnlMemoryDesc*, DnnlMemoryDesc*, int>)F("dnnl_memory_desc_equal", ref missing);
        api.MemoryCreate = (delegate* unmanaged<nint*, DnnlMemoryDesc*, nint, void*, int>)F("dnnl_memory_create", ref missing);
        api.MemorySetDataHandle = (delegate* unmanaged<nint, void*, int>)F("dnnl_memory_set_data_handle", ref missing);
        api.MemoryDestroy = (delegate* unmanaged<nint, int>)F("dnnl_memory_destroy", ref missing);
        api.DilatedConvolutionForwardDescInit = (delegate* unmanaged<DnnlConvolutionDesc*, int, int, DnnlMemoryDesc*, DnnlMemoryDesc*, DnnlMemoryDesc*,
            DnnlMemoryDesc*, long*, long*, long*, long*, int>)F("dnnl_dilated_convolution_forward_desc_init", ref missing);
        api.MatMulDescInit = (delegate* unmanaged<DnnlMatMulDesc*, DnnlMemoryDesc*, DnnlMemoryDesc*, DnnlMemoryDesc*, DnnlMemoryDesc*, int>)
            F("dnnl_matmul_desc_init", ref missing);
        api.PrimitiveDescCreate = (delegate* unmanaged<nint*, void*, nint, nint, nint, int>)F("dnnl_primitive_desc_create", ref missing);
        api.PrimitiveDescQuery = (delegate* unmanaged<nint, int, int, void*, int>)F("dnnl_primitive_desc_query", ref missing);
        api.PrimitiveDescQueryMd = (delegate* unmanaged<nint, int, int, DnnlMemoryDesc*>)F("dnnl_primitive_desc_query_md", ref missing);
        api.PrimitiveDescDestroy = (delegate* unmanaged<nint, int>)F("dnnl_primitive_desc_destroy", ref missing);
        api.PrimitiveCreate = (delegate* unmanaged<nint*, nint, int>)F("dnnl_primitive_create", ref missing);
        api.PrimitiveExecute = (delegate* unmanaged<nint, nint, int, DnnlExecArg*, int>)F("dnnl_primitive_execute", ref missing);
        api.PrimitiveDestroy = (delegate* unmanaged<nint, int>)F("dnnl_primitive_destroy", ref missing);
        api.PrimitiveAttrCreate = (delegate* unmanaged<nint*, int>)F("dnnl_primitive_attr_create", ref missing);
        api.PrimitiveAttrDestroy = (delegate* unmanaged<nint, int>)F("dnnl_primitive_attr_destroy", ref missing);
        api.PrimitiveAttrSetScratchpadMode = (delegate* unmanaged<nint, int, int>)F("dnnl_primitive_attr_set_scratchpad_mode", ref missing);
        api.PrimitiveAttrSetOutputScales = (delegate* unmanaged<nint, long, int, float*, int>)F("dnnl_primitive_attr_set_output_scales", ref missing);
        api.PrimitiveAttrSetZeroPoints = (delegate* unmanaged<nint, int, long, int, int*, int>)F("dnnl_primitive_attr_set_zero_points", ref missing);
        api.PrimitiveAttrSetPostOps = (delegate* unmanaged<nint, nint, int>)F("dnnl_primitive_attr_set_post_ops", ref missing);
        api.PostOpsCreate = (delegate* unmanaged<nint*, int>)F("dnnl_post_ops_create", ref missing);
        api.PostOpsDestroy = (delegate* unmanaged<nint, int>)F("dnnl_post_ops_destroy", ref missing);
        api.PostOpsAppendEltwise = (delegate* unmanaged<nint, float, int, float, float, int>)F("dnnl_post_ops_append_eltwise", ref missing);
        api.ReorderPrimitiveDescCreate = (delegate* unmanaged<nint*, DnnlMemoryDesc*, nint, DnnlMemoryDesc*, nint, nint, int>)
            F("dnnl_reorder_primitive_desc_create", ref missing);
        api.SetMaxCpuIsa = (delegate* unmanaged<int, int>)F("dnnl_set_max_cpu_isa", ref missing);
        api.GetEffectiveCpuIsa = (delegate* unmanaged<int>)F("dnnl_get_effective_cpu_isa", ref missing);
        api.Version = (delegate* unmanaged<DnnlVersion*>)F("dnnl_version", ref missing);
        return missing is null ? api : null;
    }
}
