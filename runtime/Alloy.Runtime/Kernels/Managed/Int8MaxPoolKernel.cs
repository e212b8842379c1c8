using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Alloy.Runtime.Kernels.Reference;

namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// MaxPool (2-D, NCHW, without the Indices output) on uint8 / int8 data, as the QDQ lowering leaves it between a
/// DequantizeLinear and a QuantizeLinear with the same parameters. int8 values are mapped to the uint8 order by
/// flipping the sign bit; the plane is padded with the smallest value (never the maximum of a window that reaches
/// the input) and split into column phases (as the depthwise convolution does), so every tap is a contiguous
/// 64-byte vector; the maximum is exact, so the result equals the reference's. Other nodes run
/// <paramref name="fallback"/>.
/// </summary>
internal sealed unsafe class Int8MaxPoolKernel(IKernel fallback, SpatialAttributes attrs) : IKernel
{
    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        if (outputs.Length > 1 || inputs.Length < 1 || inputs[0] is not { Type: ElementType.UInt8 or ElementType.Int8, Rank: 4 } x
            || attrs.KernelShape is not { Length: 2 })
        {
            fallback.Run(context, inputs, outputs);
            return;
        }
        var win = SpatialWindow.Forward("MaxPool", attrs, x.Shape[2..], attrs.KernelShape, attrs.CeilMode);
        var g = new ConvGeometry(x.Shape[2], x.Shape[3], win.Kernel[0], win.Kernel[1], win.Stride[0], win.Stride[1],
            win.Dilation[0], win.Dilation[1], win.PadBegin[0], win.PadBegin[1], win.Out[0], win.Out[1]);
        long planes = x.Shape[0] * x.Shape[1], inSize = g.H * g.W, outSize = g.OH * g.OW;
        var y = Tensor.Create(x.Type, [x.Shape[0], x.Shape[1], g.OH, g.OW]);
        byte flip = x.Type == ElementType.Int8 ? (byte)0x80 : (byte)0;
        long rows = (g.OH - 1) * g.SH + (g.KH - 1) * g.DH + 1;
        long width = g.OW + (g.KW - 1) * g.DW / g.SW + 1 + 64;
        long phaseBytes = rows * width;
        nint xData = (nint)x.Pointer, yData = (nint)y.Pointer;
        int workers = planes * outSize * g.KH * g.KW < (1L << 16) ? 1 : context.Threads;
        long chunks = Math.Min(planes, workers * 4L);
        Sgemm.ParallelFor(workers, chunks, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (long chunk) =>
        {
            long p0 = chunk * planes / chunks, p1 = (chunk + 1) * planes / chunks;
            var block = ScratchPool.Rent(phaseBytes * g.SW + 64);
            try
            {
                byte* phases = (byte*)block.Pointer;
                for (long p = p0; p < p1; p++)
                {
                    Fill((byte*)xData + p * inSize, flip, g, phases, rows, width, phaseBytes);
                    Plane(phases, width, phaseBytes, flip, (byte*)yData + p * outSize, g);
                }
            }
            finally
            {
                ScratchPool.Return(block);
            }
        });
        outputs[0] = y;
    }

    /// <summary>Phase p holds padded columns p, p + SW, … of every padded row, values sign-flipped to the uint8 order.</summary>
    private static void Fill(byte* plane, byte flip, ConvGeometry g, byte* phases, long rows, long width, long phaseBytes)
    {
        new Span<byte>(phases, checked((int)(phaseBytes * g.SW))).Clear();
        for (long r = 0; r < rows; r++)
        {
            long ih = r - g.PH;
            if (ih < 0 || ih >= g.H) continue;
            byte* src = plane + ih * g.W;
            for (long p = 0; p < g.SW; p++)
            {
                if (g.W - 1 + g.PW - p < 0) continue;
                long first = (g.PW - p + g.SW - 1) / g.SW;
                long last = Math.Min(width - 64 - 1, (g.W - 1 + g.PW - p) / g.SW);
                byte* dst = phases + p * phaseBytes + r * width;
                Copy(src + first * g.SW + p - g.PW, g.SW, flip, dst + first, last - first + 1);
            }
        }
    }

    /// <summary><c>dst[t] = src[t·stride] ^ flip</c> for <paramref name="count"/> bytes (masked 64-byte vectors for strides 1 and 2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Copy(byte* src, long stride, byte flip, byte* dst, long count)
    {
        long t = 0;
        if (Avx512BW.IsSupported && stride <= 2)
        {
            var flipVector = Vector512.Create(flip);
            for (; t < count; t += (64 / stride))
            {
                long n = Math.Min(64 / stride, count - t);
                var mask = Int8Vectors.FirstBytes(n * stride - (stride - 1));
                var v = Avx512BW.MaskLoad(src + t * stride, mask, Vector512<byte>.Zero);
                if (stride == 2)
                {
                    var even = Avx512BW.ConvertToVector256Byte(v.AsUInt16());
                    var store = Int8Vectors.FirstBytes(n);
                    Avx512BW.MaskStore(dst + t, store, Vector512.Create(even, Vector256<byte>.Zero) ^ flipVector);
                }
                else Avx512BW.MaskStore(dst + t, mask, v ^ flipVector);
            }
            return;
        }
        for (; t < count; t++) dst[t] = (byte)(src[t * stride] ^ flip);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Plane(byte* phases, long width, long phaseBytes, byte flip, byte* y, ConvGeometry g)
    {
        int taps = (int)(g.KH * g.KW);
        long* offset = stackalloc long[taps];
        for (long i = 0; i < g.KH; i++)
            for (long j = 0; j < g.KW; j++)
            {
                long col = j * g.DW;
                offset[i * g.KW + j] = col % g.SW * phaseBytes + i * g.DH * width + col / g.SW;
            }
        var flipVector = Vector512.Create(flip);
        for (long oh = 0; oh < g.OH; oh++)
        {
            byte* src = phases + oh * g.SH * width;
            byte* dst = y + oh * g.OW;
            long ow = 0;
            if (Avx512BW.IsSupported)
                for (; ow < g.OW; ow += 64)
                {
                    // Rows have 64 bytes of slack, so whole vectors load; the last one stores only up to OW.
                    var m = Vector512.Load(src + offset[0] + ow);
                    for (int t = 1; t < taps; t++) m = Avx512BW.Max(m, Vector512.Load(src + offset[t] + ow));
                    var store = Int8Vectors.FirstBytes(g.OW - ow);
                    Avx512BW.MaskStore(dst + ow, store, m ^ flipVector);
                }
            for (; ow < g.OW; ow++)
            {
                byte m = src[offset[0] + ow];
                for (int t = 1; t < taps; t++) m = Math.Max(m, src[offset[t] + ow]);
                dst[ow] = (byte)(m ^ flip);
            }
        }
    }
}
