namespace Alloy.Runtime;

/// <summary>
/// A source of tensor memory other than the native heap (see <see cref="Tensor.CurrentMemory"/>): it may hand out a
/// 64-byte aligned block of exactly the requested size, which the tensor gives back when it is disposed.
/// </summary>
internal unsafe interface ITensorMemory
{
    /// <summary>A block of <paramref name="bytes"/> bytes, or false (the tensor then uses the native heap).</summary>
    bool TryRent(long bytes, out void* data);

    /// <summary>The block is no longer used (called from <see cref="Tensor.Dispose"/> or the finalizer).</summary>
    void Return(void* data, long bytes);
}
