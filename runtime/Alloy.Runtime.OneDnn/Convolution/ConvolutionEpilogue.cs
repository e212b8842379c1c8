using Alloy.Runtime.OneDnn.Native;

namespace Alloy.Runtime.OneDnn.Convolution;

/// <summary>
/// What a oneDNN convolution applies to its accumulator before storing: output scales (none, one, or one per output
/// channel), common source / destination zero points, and a clamp (ReLU or Clip) after scaling.
/// </summary>
internal sealed record ConvolutionEpilogue(float[]? Scales, int SrcZeroPoint, int DstZeroPoint, bool Clamp, float Lo, float Hi)
{
    public static readonly ConvolutionEpilogue None = new(null, 0, 0, false, 0f, 0f);

    /// <summary>The primitive attributes that apply this epilogue (the caller disposes them).</summary>
    public DnnlAttributes ToAttributes()
    {
        var attr = new DnnlAttributes();
        if (Scales is { } scales) attr.OutputScales(scales);
        attr.ZeroPoint(Dnnl.ArgSrc, SrcZeroPoint);
        attr.ZeroPoint(Dnnl.ArgDst, DstZeroPoint);
        if (Clamp) attr.Clamp(Lo, Hi);
        return attr;
    }
}
