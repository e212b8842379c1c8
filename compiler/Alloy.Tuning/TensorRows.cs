using Alloy.Runtime;

namespace Alloy.Tuning;

/// <summary>Row (dimension 0) slices and concatenations of tensors, for running data in batches.</summary>
public static class TensorRows
{
    public static long Rows(Tensor t) => t.Rank == 0 ? 1 : t.Shape[0];

    /// <summary>Rows [start, start + count) as a new tensor.</summary>
    public static Tensor Slice(Tensor t, long start, long count)
    {
        if (t.Rank == 0) throw new ArgumentException("a scalar has no rows", nameof(t));
        if (start < 0 || count < 0 || start + count > t.Shape[0]) throw new ArgumentOutOfRangeException(nameof(count), $"rows [{start}, {start + count}) of {t}");
        var shape = (long[])t.Shape.Clone();
        shape[0] = count;
        long rowBytes = t.Shape[0] == 0 ? 0 : t.ByteLength / t.Shape[0];
        var result = Tensor.Create(t.Type, shape);
        t.Bytes.Slice(checked((int)(start * rowBytes)), checked((int)(count * rowBytes))).CopyTo(result.Bytes);
        return result;
    }

    /// <summary>The tensors stacked along dimension 0 (all of one type and the same trailing dimensions).</summary>
    public static Tensor Concat(IReadOnlyList<Tensor> parts)
    {
        if (parts.Count == 0) throw new ArgumentException("nothing to concatenate", nameof(parts));
        var first = parts[0];
        var shape = (long[])first.Shape.Clone();
        shape[0] = 0;
        foreach (var p in parts)
        {
            if (p.Type != first.Type || p.Rank != first.Rank || !p.Shape.AsSpan(1).SequenceEqual(first.Shape.AsSpan(1)))
                throw new ArgumentException($"cannot stack {p} under {first}", nameof(parts));
            shape[0] += p.Shape[0];
        }
        var result = Tensor.Create(first.Type, shape);
        int offset = 0;
        foreach (var p in parts)
        {
            p.Bytes.CopyTo(result.Bytes[offset..]);
            offset += p.Bytes.Length;
        }
        return result;
    }
}
