using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Alloy.Runtime.OneDnn.Convolution;
using Alloy.Runtime.OneDnn.Native;

namespace Alloy.Runtime.OneDnn.MatMul;

/// <summary>
/// One oneDNN matrix product Y[rows, N] = A[rows, K] · B[K, N] (B stored [K, N], or [N, K] when transposed) for one
/// size and thread count: the primitive with the weights in the layout it chose (reordered once), the bias, and the
/// epilogue of a <see cref="ConvolutionEpilogue"/> (output scales per tensor or per column, common zero points, a
/// clamp). Row-major A and Y need no reorders. Safe to run from several threads at once.
/// </summary>
internal sealed unsafe class OneDnnMatMul : IDisposable
{
    private readonly DnnlPrimitive _matmul;
    private readonly DnnlMemoryDesc _src, _dst, _weightsMd, _biasMd, _scratchMd;
    private readonly long _scratchBytes;
    private readonly bool _hasBias;
    private readonly void* _bias;
    private void* _weights;
    private readonly ConcurrentBag<DnnlMemory[]> _sets = [];

    private OneDnnMatMul(DnnlPrimitive matmul, DnnlMemoryDesc src, DnnlMemoryDesc dst, DnnlMemoryDesc biasMd, bool hasBias, void* bias)
    {
        _matmul = matmul;
        _src = src;
        _dst = dst;
        _weightsMd = matmul.Query(Dnnl.QueryWeightsMd);
        _scratchMd = matmul.Query(Dnnl.QueryScratchpadMd);
        _scratchBytes = DnnlMemory.Size(_scratchMd);
        _biasMd = biasMd;
        _hasBias = hasBias;
        _bias = bias;
        Implementation = matmul.ImplementationName();
    }

    ~OneDnnMatMul() => FreeWeights();

    /// <summary>oneDNN's name of the implementation (e.g. <c>brg:avx512_core_vnni</c>).</summary>
    public string Implementation { get; }

    /// <summary>The product for these sizes on <paramref name="threads"/> threads; null with oneDNN's reason when it has none.</summary>
    public static OneDnnMatMul? TryCreate(long rows, long k, long n, bool transB, ConvolutionTypes types, ConvolutionEpilogue epilogue, void* weights,
        void* bias, int threads, out string? reason)
    {
        OpenMp.UseThreads(threads);
        var src = DnnlMemory.Desc([rows, k], types.Src, Dnnl.TagAb);
        var dst = DnnlMemory.Desc([rows, n], types.Dst, Dnnl.TagAb);
        var userWeights = DnnlMemory.Desc([k, n], types.Weights, transB ? Dnnl.TagBa : Dnnl.TagAb);
        var anyWeights = DnnlMemory.Desc([k, n], types.Weights, Dnnl.FormatAny);
        bool hasBias = bias != null && types.Bias != 0;
        var biasMd = hasBias ? DnnlMemory.Desc([1, n], types.Bias, Dnnl.TagAb) : default;
        DnnlMatMulDesc desc;
        int status = OneDnnLibrary.Api.MatMulDescInit(&desc, &src, &anyWeights, hasBias ? &biasMd : null, &dst);
        if (status != Dnnl.Success)
        {
            reason = new OneDnnException("dnnl_matmul_desc_init", status).Message;
            return null;
        }
        using var attr = epilogue.ToAttributes();
        var primitive = DnnlPrimitive.TryCreate(&desc, attr.Handle, out reason);
        if (primitive is null) return null;
        var result = new OneDnnMatMul(primitive, src, dst, biasMd, hasBias, bias);
        var target = result._weightsMd;
        using var reorder = DnnlPrimitive.TryCreateReorder(&userWeights, &target, out reason);
        if (reorder is null)
        {
            result.Dispose();
            return null;
        }
        result._weights = NativeMemory.AlignedAlloc((nuint)Math.Max(DnnlMemory.Size(target), 64), 64);
        using (var from = new DnnlMemory(userWeights, weights))
        using (var to = new DnnlMemory(target, result._weights))
            reorder.Execute([new DnnlExecArg(Dnnl.ArgFrom, from.Handle), new DnnlExecArg(Dnnl.ArgTo, to.Handle)]);
        return result;
    }

    /// <summary>Y = A · B on <paramref name="threads"/> threads (A and Y row-major).</summary>
    public void Execute(void* a, void* y, int threads)
    {
        OpenMp.UseThreads(threads);
        if (!_sets.TryTake(out var set))
            set =
            [
                new DnnlMemory(_src, null), new DnnlMemory(_weightsMd, _weights), new DnnlMemory(_dst, null),
                new DnnlMemory(_hasBias ? _biasMd : _src, _hasBias ? _bias : null), new DnnlMemory(_scratchMd, null),
            ];
        try
        {
            set[0].Point(a);
            set[2].Point(y);
            Span<DnnlExecArg> args = stackalloc DnnlExecArg[5];
            int count = 0;
            args[count++] = new DnnlExecArg(Dnnl.ArgSrc, set[0].Handle);
            args[count++] = new DnnlExecArg(Dnnl.ArgWeights, set[1].Handle);
            args[count++] = new DnnlExecArg(Dnnl.ArgDst, set[2].Handle);
            if (_hasBias) args[count++] = new DnnlExecArg(Dnnl.ArgBias, set[3].Handle);
            if (_scratchBytes > 0)
            {
                set[4].Point(ThreadScratch.Current.Get(2, _scratchBytes));
                args[count++] = new DnnlExecArg(Dnnl.ArgScratchpad, set[4].Handle);
            }
            _matmul.Execute(args[..count]);
        }
        finally
        {
            _sets.Add(set);
        }
    }

    public void Dispose()
    {
        while (_sets.TryTake(out var set)) foreach (var m in set) m.Dispose();
        _matmul.Dispose();
        FreeWeights();
        GC.SuppressFinalize(this);
    }

    private void FreeWeights()
    {
        if (_weights == null) return;
        NativeMemory.AlignedFree(_weights);
        _weights = null;
    }
}
