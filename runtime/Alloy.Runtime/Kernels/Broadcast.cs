namespace Alloy.Runtime.Kernels;

/// <summary>Numpy-style multidirectional broadcasting.</summary>
public static class Broadcast
{
    /// <summary>The broadcast shape of all <paramref name="shapes"/>; throws when they are incompatible.</summary>
    public static long[] Shape(params long[][] shapes)
    {
        int rank = shapes.Max(s => s.Length);
        var result = new long[rank];
        for (int i = 0; i < rank; i++)
        {
            long d = 1;
            foreach (var s in shapes)
            {
                int k = i - (rank - s.Length);
                if (k < 0) continue;
                long e = s[k];
                if (e == d || e == 1) continue;
                if (d == 1) d = e;
                else throw new KernelException($"shapes {string.Join(" and ", shapes.Select(x => "[" + string.Join(",", x) + "]"))} cannot be broadcast together");
            }
            result[i] = d;
        }
        return result;
    }

    /// <summary>
    /// For each element of <paramref name="outShape"/> in row-major order, the flat index of the corresponding
    /// element of a tensor of <paramref name="inShape"/> broadcast to it.
    /// </summary>
    public static long[] SourceIndices(long[] inShape, long[] outShape)
    {
        long count = 1;
        foreach (var d in outShape) count *= d;
        var result = new long[count];
        int rank = outShape.Length;
        var strides = new long[rank];
        long stride = 1;
        for (int i = rank - 1; i >= 0; i--)
        {
            int k = i - (rank - inShape.Length);
            strides[i] = k < 0 || inShape[k] == 1 ? 0 : stride;
            if (k >= 0) stride *= inShape[k];
        }
        var index = new long[rank];
        long src = 0;
        for (long n = 0; n < count; n++)
        {
            result[n] = src;
            for (int i = rank - 1; i >= 0; i--)
            {
                index[i]++;
                src += strides[i];
                if (index[i] < outShape[i]) break;
                src -= strides[i] * index[i];
                index[i] = 0;
            }
        }
        return result;
    }
}
