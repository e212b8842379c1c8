namespace Alloy.Runtime.OneDnn.Convolution;

/// <summary>oneDNN data types of a convolution's operands (<c>dnnl_data_type_t</c>; Bias 0 = no bias).</summary>
internal readonly record struct ConvolutionTypes(int Src, int Weights, int Bias, int Dst);
