using System.Runtime.InteropServices;

namespace Alloy.Runtime.OneDnn.Native;

/// <summary>A primitive descriptor and the primitive made from it; both destroyed on dispose.</summary>
internal sealed unsafe class DnnlPrimitive : IDisposable
{
    private nint _pd, _primitive;

    private DnnlPrimitive(nint pd, nint primitive)
    {
        _pd = pd;
        _primitive = primitive;
    }

    ~DnnlPrimitive() => Free();

    public nint Handle => _primitive;

    /// <summary>
    /// The primitive for an operation descriptor (<paramref name="opDesc"/>) under <paramref name="attr"/> (0: defaults);
    /// null with oneDNN's reason when no implementation accepts it.
    /// </summary>
    public static DnnlPrimitive? TryCreate(void* opDesc, nint attr, out string? reason)
    {
        var api = OneDnnLibrary.Api;
        nint pd;
        int status = api.PrimitiveDescCreate(&pd, opDesc, attr, OneDnnLibrary.Engine, 0);
        return Finish(pd, status, "dnnl_primitive_desc_create", out reason);
    }

    /// <summary>A reorder from <paramref name="src"/> to <paramref name="dst"/>; null with the reason when oneDNN has none.</summary>
    public static DnnlPrimitive? TryCreateReorder(DnnlMemoryDesc* src, DnnlMemoryDesc* dst, out string? reason)
    {
        var api = OneDnnLibrary.Api;
        nint pd;
        int status = api.ReorderPrimitiveDescCreate(&pd, src, OneDnnLibrary.Engine, dst, OneDnnLibrary.Engine, 0);
        return Finish(pd, status, "dnnl_reorder_primitive_desc_create", out reason);
    }

    private static DnnlPrimitive? Finish(nint pd, int status, string call, out string? reason)
    {
        var api = OneDnnLibrary.Api;
        if (status != Dnnl.Success)
        {
            reason = $"{call}: {(status == Dnnl.Unimplemented ? "no oneDNN implementation for this configuration" : new OneDnnException(call, status).Message)}";
            return null;
        }
        nint primitive;
        status = api.PrimitiveCreate(&primitive, pd);
        if (status != Dnnl.Success)
        {
            api.PrimitiveDescDestroy(pd);
            reason = new OneDnnException("dnnl_primitive_create", status).Message;
            return null;
        }
        reason = null;
        return new DnnlPrimitive(pd, primitive);
    }

    /// <summary>A memory descriptor the primitive chose or needs (<see cref="Dnnl.QuerySrcMd"/>, …), copied.</summary>
    public DnnlMemoryDesc Query(int what)
    {
        var md = OneDnnLibrary.Api.PrimitiveDescQueryMd(_pd, what, 0);
        if (md == null) throw new OneDnnException("dnnl_primitive_desc_query_md", 2);
        return *md;
    }

    /// <summary>oneDNN's name of the implementation it picked (e.g. <c>jit_int8:avx512_core_vnni</c>).</summary>
    public string ImplementationName()
    {
        byte* name = null;
        return OneDnnLibrary.Api.PrimitiveDescQuery(_pd, Dnnl.QueryImplInfoStr, 0, &name) == Dnnl.Success && name != null
            ? Marshal.PtrToStringUTF8((nint)name) ?? "" : "";
    }

    /// <summary>Runs the primitive on the library's stream.</summary>
    public void Execute(ReadOnlySpan<DnnlExecArg> args)
    {
        var api = OneDnnLibrary.Api;
        fixed (DnnlExecArg* a = args)
            OneDnnLibrary.Check(api.PrimitiveExecute(_primitive, OneDnnLibrary.Stream, args.Length, a), "dnnl_primitive_execute");
    }

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    private void Free()
    {
        if (_primitive != 0) OneDnnLibrary.Api.PrimitiveDestroy(_primitive);
        if (_pd != 0) OneDnnLibrary.Api.PrimitiveDescDestroy(_pd);
        _primitive = _pd = 0;
    }
}
