namespace Alloy.Runtime.OneDnn.Convolution;

/// <summary>A oneDNN convolution kernel whose input (operand 0) and result can be agreed to be channels-last (NHWC) data.</summary>
internal interface IChannelsLastConvolution
{
    /// <summary>Operand 0 arrives as NHWC data (its shape still says [N, C, H, W]).</summary>
    bool ChannelsLastInput { get; set; }

    /// <summary>The result is stored as NHWC data (its shape still says [N, M, OH, OW]).</summary>
    bool ChannelsLastOutput { get; set; }
}
