namespace Alloy.Runtime.OneDnn.Native;

/// <summary>Memory descriptor helpers and a oneDNN memory object over caller-owned data.</summary>
internal sealed unsafe class DnnlMemory : IDisposable
{
    private nint _handle;

    public DnnlMemory(DnnlMemoryDesc md, void* data)
    {
        nint h;
        OneDnnLibrary.Check(OneDnnLibrary.Api.MemoryCreate(&h, &md, OneDnnLibrary.Engine, data), "dnnl_memory_create");
        _handle = h;
    }

    ~DnnlMemory() => Free();

    public nint Handle => _handle;

    /// <summary>Points the memory object at other data of the same layout.</summary>
    public void Point(void* data) => OneDnnLibrary.Check(OneDnnLibrary.Api.MemorySetDataHandle(_handle, data), "dnnl_memory_set_data_handle");

    /// <summary>A descriptor for a dense tensor in a named layout (<see cref="Dnnl.TagAbcd"/>, <see cref="Dnnl.FormatAny"/>, …).</summary>
    public static DnnlMemoryDesc Desc(ReadOnlySpan<long> dims, int dataType, int tag)
    {
        var d = DnnlDims.Of(dims);
        DnnlMemoryDesc md;
        OneDnnLibrary.Check(OneDnnLibrary.Api.MemoryDescInitByTag(&md, dims.Length, (long*)&d, dataType, tag), "dnnl_memory_desc_init_by_tag");
        return md;
    }

    public static long Size(DnnlMemoryDesc md) => (long)OneDnnLibrary.Api.MemoryDescGetSize(&md);

    public static bool Equal(DnnlMemoryDesc a, DnnlMemoryDesc b) => OneDnnLibrary.Api.MemoryDescEqual(&a, &b) != 0;

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    private void Free()
    {
        if (_handle == 0) return;
        OneDnnLibrary.Api.MemoryDestroy(_handle);
        _handle = 0;
    }
}
