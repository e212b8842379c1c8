using Alloy.Runtime.Kernels;

namespace Alloy.Runtime.OneDnn.Convolution;

/// <summary>The attributes of a 2-D Conv / QLinearConv node: auto_pad, pads, strides, dilations, kernel_shape, group.</summary>
internal sealed record ConvolutionAttributes(string AutoPad, long[]? Pads, long[]? Strides, long[]? Dilations, long[]? KernelShape, long Group)
{
    /// <summary>The node's attributes; null with the reason when they are not ones the oneDNN kernels take.</summary>
    public static ConvolutionAttributes? Read(KernelNode n, out string? reason)
    {
        var a = n.Attributes;
        var attrs = new ConvolutionAttributes(a.GetString("auto_pad", "NOTSET") is { Length: > 0 } p ? p : "NOTSET", a.GetInts("pads"),
            a.GetInts("strides"), a.GetInts("dilations"), a.GetInts("kernel_shape"), a.GetInt("group", 1));
        reason = attrs.AutoPad is not ("NOTSET" or "VALID" or "SAME_UPPER" or "SAME_LOWER") ? $"auto_pad '{attrs.AutoPad}'"
            : attrs.Group < 1 ? $"group {attrs.Group}"
            : Bad(attrs.Strides, 1) ? "strides" : Bad(attrs.Dilations, 1) ? "dilations" : Bad(attrs.KernelShape, 1) ? "kernel_shape"
            : attrs.Pads is { } pads && (pads.Length != 4 || pads.Any(v => v < 0)) ? "pads"
            : null;
        if (reason is not null) reason = $"{n}: {reason} not supported by the oneDNN kernel";
        return reason is null ? attrs : null;
    }

    private static bool Bad(long[]? values, long min) => values is not null && (values.Length != 2 || values.Any(v => v < min));
}
