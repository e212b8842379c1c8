using Alloy.IR;

namespace Alloy.Passes.Precision;

/// <summary>
/// The node annotations the precision passes communicate through (printed in the IR text):
/// <c>prec</c> = the precision the node runs in (<c>bf16</c>, <c>fp16</c>, <c>fp32</c>), <c>acc</c> = its
/// accumulation type (<c>f32</c>), <c>color</c> = the policy class mark-* painted (<c>allow</c>, <c>infer</c>,
/// <c>clear</c>, <c>deny</c>), <c>why</c> = the rule that decided the final precision (a bare word such as
/// <c>allow_list</c>, <c>deny_list</c>, <c>override_op</c>, <c>override_name</c>, <c>range_fp16_overflow</c>,
/// <c>range_bf16_integer</c>, <c>no_kernel</c>, <c>deny_propagation</c>, <c>between_allow</c>,
/// <c>clear_flow</c>, <c>dfs_producer</c>, <c>fp32_tail</c>, <c>schema_fp32</c>).
/// </summary>
public static class PrecisionAnnotations
{
    public const string Precision = "prec";
    public const string Accumulation = "acc";
    public const string Color = "color";
    public const string Reason = "why";

    public const string Bf16 = "bf16";
    public const string Fp16 = "fp16";
    public const string Fp32 = "fp32";

    public static string? PrecisionOf(Node n) => n.Annotations.TryGetValue(Precision, out var p) ? p : null;

    /// <summary>The IR element type of a precision annotation value.</summary>
    public static DataType ElementType(string precision) => precision switch
    {
        Bf16 => DataType.BFloat16,
        Fp16 => DataType.Float16,
        _ => DataType.Float,
    };
}
