namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// The requantisation parameters of an integer Conv / MatMul node (the weights' zero points and the
/// <see cref="Int8Requantization"/> built from the scales, zero points and bias), kept between runs while the
/// parameter tensors hold the same values. Building them reads every per-channel scale through the generic element
/// accessors and allocates the per-channel arrays, which on a narrow layer costs as much as the layer's arithmetic;
/// checking that they are unchanged is a byte comparison of a few hundred bytes. The values, not the tensor objects,
/// are compared, so a run with different parameters (or a different output type or width) rebuilds them.
/// </summary>
internal sealed class Int8ParameterCache
{
    private Entry? _entry;

    /// <summary>The cached parameters when <paramref name="key"/> (the parameter tensors, null for an absent one), the output kind and the width are those they were built from.</summary>
    public bool TryGet(ReadOnlySpan<Tensor?> key, Int8OutputKind kind, long width, out int[] zeroPoints, out Int8Requantization requantization)
    {
        var e = Volatile.Read(ref _entry);
        if (e is not null && e.Kind == kind && e.Width == width && e.Matches(key))
        {
            zeroPoints = e.ZeroPoints;
            requantization = e.Requantization;
            return true;
        }
        zeroPoints = [];
        requantization = null!;
        return false;
    }

    /// <summary>Keeps parameters built from <paramref name="key"/> for later runs.</summary>
    public void Store(ReadOnlySpan<Tensor?> key, Int8OutputKind kind, long width, int[] zeroPoints, Int8Requantization requantization)
    {
        var saved = new Saved?[key.Length];
        for (int i = 0; i < key.Length; i++)
            if (key[i] is { } t) saved[i] = new Saved(t.Type, t.Shape.ToArray(), t.Bytes.ToArray());
        Volatile.Write(ref _entry, new Entry(saved, kind, width, zeroPoints, requantization));
    }

    private sealed record Saved(ElementType Type, long[] Shape, byte[] Bytes);

    private sealed class Entry(Saved?[] key, Int8OutputKind kind, long width, int[] zeroPoints, Int8Requantization requantization)
    {
        public Int8OutputKind Kind { get; } = kind;
        public long Width { get; } = width;
        public int[] ZeroPoints { get; } = zeroPoints;
        public Int8Requantization Requantization { get; } = requantization;

        public bool Matches(ReadOnlySpan<Tensor?> tensors)
        {
            if (tensors.Length != key.Length) return false;
            for (int i = 0; i < tensors.Length; i++)
            {
                var t = tensors[i];
                var s = key[i];
                if (t is null || s is null)
                {
                    if (t is not null || s is not null) return false;
                    continue;
                }
                if (t.Type != s.Type || !t.Shape.AsSpan().SequenceEqual(s.Shape) || !t.Bytes.SequenceEqual(s.Bytes)) return false;
            }
            return true;
        }
    }
}
