namespace Alloy.Runtime.OneDnn.Convolution;

/// <summary>
/// Copies between NCHW and channels-last (NHWC) element order of a 4-D tensor whose shape says [N, C, H, W]: the
/// path a channels-last kernel takes when it hands a run to a managed (NCHW) kernel.
/// </summary>
internal static unsafe class ChannelsLast
{
    /// <summary>A new tensor with <paramref name="nhwc"/>'s elements in NCHW order.</summary>
    public static Tensor ToNchw(Tensor nhwc) => Copy(nhwc, toChannelsLast: false);

    /// <summary>A new tensor with <paramref name="nchw"/>'s elements in NHWC order.</summary>
    public static Tensor FromNchw(Tensor nchw) => Copy(nchw, toChannelsLast: true);

    private static Tensor Copy(Tensor t, bool toChannelsLast)
    {
        if (t.Rank != 4) throw new ArgumentException($"a channels-last copy needs a 4-D tensor, got {t.ShapeText}");
        long n = t.Shape[0], c = t.Shape[1], hw = t.Shape[2] * t.Shape[3];
        int size = checked((int)(t.ByteLength / Math.Max(1, t.Length)));
        var result = Tensor.Create(t.Type, t.Shape);
        byte* src = (byte*)t.Pointer, dst = (byte*)result.Pointer;
        for (long img = 0; img < n; img++)
            for (long ch = 0; ch < c; ch++)
                for (long p = 0; p < hw; p++)
                {
                    long planar = (img * c + ch) * hw + p, packed = (img * hw + p) * c + ch;
                    long from = toChannelsLast ? planar : packed, to = toChannelsLast ? packed : planar;
                    Buffer.MemoryCopy(src + from * size, dst + to * size, size, size);
                }
        return result;
    }
}
