using Alloy.IR;

namespace Alloy.Passes.Precision;

/// <summary>
/// The node annotations the precision passes communicate through (printed in the IR text):
/// <c>prec</c> = the precision the node runs in (<c>bf16</c>, <c>fp16</c>, <c>fp32</c>), <c>acc</c> = its
/// accumulation type (<c>f32</c>), <c>color</c> = the policy class mark-* painted (<c>allow</c>, <c>infer</c>,
/// <c>clear</c>, <c>deny</c>), <c>why</c> = the rule that decided the final precision (a bare word such as
/// <c>allow_list</c>, <c>deny_list</c>, <c>override_op</c>, <c>override_name</c>, <c>range_fp16_overflow</c>,
/// <c>range_bf16_integer</c>, <c>no_kernel</c>, <c>schema_opset</c>, <c>deny_propagation</c>, <c>between_allow</c>,
/// <c>clear_flow</c>, <c>dfs_producer</c>, <c>fp32_tail</c>, <c>schema_fp32</c>; the full list is
/// <see cref="Why"/>).
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

    // ---- added by the mark/propagate passes (Precision/MarkPrecisionPass.cs, PropagatePrecisionPass.cs) ----

    /// <summary>Values of <see cref="Color"/>.</summary>
    public const string Allow = "allow";
    public const string Infer = "infer";
    public const string Clear = "clear";
    public const string Deny = "deny";

    /// <summary>The value of <see cref="Accumulation"/> for nodes that accumulate in FP32.</summary>
    public const string AccF32 = "f32";

    /// <summary>Values of <see cref="Reason"/> (<c>why</c>).</summary>
    public static class Why
    {
        // painted by mark-*
        /// <summary>The op is on the policy's allow list.</summary>
        public const string AllowList = "allow_list";
        /// <summary>The op is on the infer list and no propagation step changed it: none of its neighbours pulled it into a low-precision region.</summary>
        public const string InferList = "infer_list";
        /// <summary>The op is on the clear list and no propagation step changed it.</summary>
        public const string ClearList = "clear_list";
        /// <summary>The op is on the deny list (numerically dangerous in the low type); deny propagates forward from it.</summary>
        public const string DenyList = "deny_list";
        /// <summary>The op is on no list (including every op of a non-default domain): it runs FP32, but deny does not propagate from it.</summary>
        public const string Unlisted = "unlisted";
        /// <summary>The node cannot run low precision by construction: its element type is fixed by an attribute (Cast, Constant, Range, Q/DQ, random generators) or it computes shapes/indices/scales.</summary>
        public const string SchemaFp32 = "schema_fp32";
        /// <summary>A user override by op type (<c>fp32-ops</c> / <c>low-ops</c>).</summary>
        public const string OverrideOp = "override_op";
        /// <summary>A user override by node-name regex (<c>fp32-nodes</c> / <c>low-nodes</c>).</summary>
        public const string OverrideName = "override_name";
        /// <summary>FP16: a value or weight it produces or reads exceeds the safe fraction of 65504.</summary>
        public const string RangeFp16Overflow = "range_fp16_overflow";
        /// <summary>BF16: it produces or reads an integer-valued tensor above 256 in magnitude.</summary>
        public const string RangeBf16Integer = "range_bf16_integer";
        /// <summary>FP16: it produces or reads an integer-valued tensor above 2048 in magnitude.</summary>
        public const string RangeFp16Integer = "range_fp16_integer";
        /// <summary>An allow-list op the target has no native low-precision kernel for: demoted to infer.</summary>
        public const string NoKernel = "no_kernel";
        /// <summary>The op does not admit the low type at the model's default-domain opset (ONNX type constraints, <see cref="OnnxTypeSupport"/>): kept FP32 so the output is valid ONNX.</summary>
        public const string SchemaOpset = "schema_opset";

        // decided by propagate-*
        /// <summary>Forward propagation of deny through infer/clear nodes (TensorFlow step 2).</summary>
        public const string DenyPropagation = "deny_propagation";
        /// <summary>An infer/clear node both downstream and upstream of allow nodes (TensorFlow step 3).</summary>
        public const string BetweenAllow = "between_allow";
        /// <summary>A clear node connected to an allow node through clear nodes (TensorFlow step 4).</summary>
        public const string ClearFlow = "clear_flow";
        /// <summary>A producer made low precision by the depth-first walk over producers of allow nodes because that does not add casts.</summary>
        public const string DfsProducer = "dfs_producer";
        /// <summary>An infer/clear node after the last allow op, kept FP32 (the default; <c>low-tail=true</c> lifts it).</summary>
        public const string Fp32Tail = "fp32_tail";
        /// <summary>An infer/clear node after the last allow op made low precision because <c>low-tail=true</c>.</summary>
        public const string LowTail = "low_tail";
    }

    public static string? PrecisionOf(Node n) => n.Annotations.TryGetValue(Precision, out var p) ? p : null;

    public static string? ColorOf(Node n) => n.Annotations.TryGetValue(Color, out var c) ? c : null;

    public static string? ReasonOf(Node n) => n.Annotations.TryGetValue(Reason, out var w) ? w : null;

    /// <summary>The IR element type of a precision annotation value.</summary>
    public static DataType ElementType(string precision) => precision switch
    {
        Bf16 => DataType.BFloat16,
        Fp16 => DataType.Float16,
        _ => DataType.Float,
    };

    /// <summary>The precision annotation value of a low-precision element type (<c>bf16</c> or <c>fp16</c>).</summary>
    public static string PrecisionName(DataType type) => type switch
    {
        DataType.BFloat16 => Bf16,
        DataType.Float16 => Fp16,
        DataType.Float => Fp32,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "not a precision the precision passes assign"),
    };
}
