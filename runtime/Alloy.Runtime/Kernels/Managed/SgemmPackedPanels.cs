using System.Runtime.InteropServices;

namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// One GEMM operand packed for every K block at once: the operand seen as a K×W matrix (B as it is, A transposed) cut
/// into K blocks of <see cref="Sgemm.KC"/> rows and panels of <see cref="PanelWidth"/> columns, each panel stored
/// <c>kc</c> rows of <see cref="PanelWidth"/> float32 values (zero beyond W). The panel (block starting at row
/// <c>pc</c>, panel <c>q</c>) starts at <c>pc·PaddedWidth + q·PanelWidth·kc</c>, so a block's panels are contiguous.
/// </summary>
internal readonly unsafe struct PanelView(float* data, long k, long width, int panelWidth)
{
    public readonly float* Data = data;
    public readonly long K = k, Width = width;
    public readonly int PanelWidth = panelWidth;

    public long Panels => (Width + PanelWidth - 1) / PanelWidth;

    public long PaddedWidth => Panels * PanelWidth;

    public long Floats => PaddedWidth * K;

    /// <summary>Panel <paramref name="q"/> of the K block starting at row <paramref name="pc"/> (kc = min(KC, K − pc) rows).</summary>
    public float* Panel(long pc, long q) => Data + pc * PaddedWidth + q * PanelWidth * Math.Min(Sgemm.KC, K - pc);

    /// <summary>Packs every panel of every K block of <paramref name="source"/> (on up to <paramref name="threads"/> threads).</summary>
    public void PackFrom<TS>(TS source, int threads) where TS : struct, IPanelSource
    {
        long blocks = (K + Sgemm.KC - 1) / Sgemm.KC, panels = Panels;
        nint data = (nint)Data;
        long k = K, width = Width;
        int pw = PanelWidth;
        int workers = K * Width < (1L << 16) ? 1 : threads;
        Sgemm.ParallelFor(workers, blocks * panels, t =>
        {
            long block = t / panels, q = t - block * panels, pc = block * Sgemm.KC;
            int kc = (int)Math.Min(Sgemm.KC, k - pc);
            long j0 = q * pw;
            var view = new PanelView((float*)data, k, width, pw);
            source.Pack(pc, kc, j0, (int)Math.Min(pw, width - j0), pw, view.Panel(pc, q));
        });
    }
}

/// <summary>
/// A constant GEMM operand (a Conv's or Gemm's weights, a MatMul's constant B) packed once, when the plan is compiled,
/// and kept with the kernel: <see cref="Matches"/> tells whether a run's operand is the tensor that was packed (the
/// same object at the same address), in which case the run skips packing it. The packed copy is freed by the
/// finalizer, with the plan that holds the kernel.
/// </summary>
internal sealed unsafe class PackedOperand
{
    private readonly Tensor _source;
    private readonly nint _sourcePointer;
    private void* _memory;
    private readonly long _bytes;

    private PackedOperand(Tensor source, long k, long width, int panelWidth)
    {
        _source = source;
        _sourcePointer = (nint)source.Pointer;
        var shape = new PanelView(null, k, width, panelWidth);
        _bytes = Math.Max(64, shape.Floats * sizeof(float));
        _memory = NativeMemory.AlignedAlloc((nuint)_bytes, 64);
        // The collector frees this with its kernel's plan; tell it how much native memory that is.
        GC.AddMemoryPressure(_bytes);
        View = new PanelView((float*)_memory, k, width, panelWidth);
    }

    /// <summary>Where the packed panels are.</summary>
    public PanelView View { get; }

    /// <summary>Whether <paramref name="t"/> is the tensor this was packed from.</summary>
    public bool Matches(Tensor t) => ReferenceEquals(t, _source) && (nint)t.Pointer == _sourcePointer && _memory != null;

    /// <summary>Packs <paramref name="source"/> (a K×W view of <paramref name="tensor"/>) in panels of <paramref name="panelWidth"/>.</summary>
    public static PackedOperand Pack<TS>(Tensor tensor, TS source, long k, long width, int panelWidth, int threads)
        where TS : struct, IPanelSource
    {
        var p = new PackedOperand(tensor, k, width, panelWidth);
        p.View.PackFrom(source, threads);
        return p;
    }

    /// <summary>The memory lives as long as the object (runs keep it alive with <see cref="GC.KeepAlive"/>).</summary>
    ~PackedOperand()
    {
        if (_memory == null) return;
        NativeMemory.AlignedFree(_memory);
        _memory = null;
        GC.RemoveMemoryPressure(_bytes);
    }
}
