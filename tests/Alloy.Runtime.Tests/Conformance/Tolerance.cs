namespace Alloy.Runtime.Tests.Conformance;

/// <summary>Comparison tolerances: ONNX's backend-test defaults, with the per-case exceptions ONNX itself documents.</summary>
public readonly record struct Tolerance(double Relative, double Absolute)
{
    public static readonly Tolerance Default = new(1e-3, 1e-7);

    public static Tolerance For(string caseName) => caseName switch
    {
        // Float16/bfloat16 results carry one rounding of their own type: compare at that type's precision.
        _ when caseName.Contains("bfloat16", StringComparison.OrdinalIgnoreCase) => new(1e-2, 1e-2),
        _ when caseName.Contains("float16", StringComparison.OrdinalIgnoreCase) || caseName.Contains("fp16", StringComparison.OrdinalIgnoreCase) => new(1e-3, 1e-3),
        _ => Default,
    };
}
