using System.Runtime.InteropServices;

namespace Alloy.Runtime.Execution;

/// <summary>
/// The arena of one <see cref="MemoryPlan"/>: one native block, allocated once and reused by every run that takes it
/// (so a steady-state run allocates nothing and touches no fresh page). While a step runs, the tensors its kernel
/// creates take the step's planned blocks: a request of exactly a planned block's size gets the first such block not
/// yet taken; any other request goes to the native heap. Disposing an arena tensor gives nothing back: the plan
/// decides when the bytes are reused.
/// </summary>
internal sealed unsafe class ArenaMemory : ITensorMemory, IDisposable
{
    private byte* _base;
    private ArenaBlock[] _expected = [];
    private readonly bool[] _taken;

    public ArenaMemory(MemoryPlan plan)
    {
        Bytes = plan.ArenaBytes;
        _base = (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(1, Bytes), (nuint)Tensor.Alignment);
        int most = 0;
        foreach (var s in plan.StepResults) most = Math.Max(most, s.Length);
        _taken = new bool[most];
    }

    ~ArenaMemory() => Free();

    public long Bytes { get; }

    /// <summary>Makes <paramref name="blocks"/> the blocks the next allocations may take.</summary>
    public void Expect(ArenaBlock[] blocks)
    {
        _expected = blocks;
        Array.Clear(_taken);
    }

    /// <summary>Where <paramref name="block"/> lives.</summary>
    public void* Address(ArenaBlock block) => _base + block.Offset;

    public bool TryRent(long bytes, out void* data)
    {
        for (int i = 0; i < _expected.Length; i++)
        {
            if (_taken[i] || _expected[i].Bytes != bytes) continue;
            _taken[i] = true;
            data = _base + _expected[i].Offset;
            return true;
        }
        data = null;
        return false;
    }

    public void Return(void* data, long bytes)
    {
    }

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    private void Free()
    {
        if (_base == null) return;
        NativeMemory.AlignedFree(_base);
        _base = null;
    }
}
