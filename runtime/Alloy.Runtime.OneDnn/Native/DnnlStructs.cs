using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Alloy.Runtime.OneDnn.Native;

/// <summary>
/// <c>dnnl_memory_desc_t</c>: a by-value struct in oneDNN 2.x. The binding never reads its fields; it is filled by
/// the library (<c>dnnl_memory_desc_init_by_tag</c>, primitive descriptor queries) and passed back by address, so an
/// opaque block of the exact size and alignment is enough.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = Dnnl.MemoryDescBytes)]
internal struct DnnlMemoryDesc
{
    private long _first;
}

/// <summary><c>dnnl_convolution_desc_t</c> (opaque; filled by <c>dnnl_dilated_convolution_forward_desc_init</c>).</summary>
[StructLayout(LayoutKind.Sequential, Size = Dnnl.ConvolutionDescBytes)]
internal struct DnnlConvolutionDesc
{
    private long _first;
}

/// <summary><c>dnnl_matmul_desc_t</c> (opaque; filled by <c>dnnl_matmul_desc_init</c>).</summary>
[StructLayout(LayoutKind.Sequential, Size = Dnnl.MatMulDescBytes)]
internal struct DnnlMatMulDesc
{
    private long _first;
}

/// <summary><c>dnnl_exec_arg_t</c>: an argument index and a memory object.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct DnnlExecArg(int arg, nint memory)
{
    public int Arg = arg;
    public nint Memory = memory;
}

/// <summary><c>dnnl_dims_t</c>: <see cref="Dnnl.MaxDims"/> 64-bit dimensions, passed by address.</summary>
[InlineArray(Dnnl.MaxDims)]
internal struct DnnlDims
{
    private long _element;

    public static DnnlDims Of(ReadOnlySpan<long> values)
    {
        if (values.Length > Dnnl.MaxDims) throw new ArgumentException($"at most {Dnnl.MaxDims} dimensions, got {values.Length}");
        var d = new DnnlDims();
        for (int i = 0; i < values.Length; i++) d[i] = values[i];
        return d;
    }
}

/// <summary><c>dnnl_version_t</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct DnnlVersion
{
    public int Major, Minor, Patch;
    public nint Hash;
    public uint CpuRuntime, GpuRuntime;
}
