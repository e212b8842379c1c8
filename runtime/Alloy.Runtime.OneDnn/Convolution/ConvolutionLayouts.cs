namespace Alloy.Runtime.OneDnn.Convolution;

/// <summary>
/// Where a convolution reads and writes channels-last (NHWC) data instead of NCHW: on an edge between two oneDNN
/// convolutions the plan agrees on NHWC (<see cref="ChannelsLastPlan"/>), so neither side reorders.
/// </summary>
internal readonly record struct ConvolutionLayouts(bool SrcChannelsLast, bool DstChannelsLast);
