using Alloy.IR;

namespace Alloy.Passes.Precision;

/// <summary>The policy class of an op for one low-precision type (TensorFlow's auto-mixed-precision lists).</summary>
public enum PrecisionColor
{
    /// <summary>Numerically safe and performance-critical: always runs low precision.</summary>
    Allow,
    /// <summary>Numerically safe in the low type, but may be made unsafe by an upstream deny node: runs low only between low nodes.</summary>
    Infer,
    /// <summary>No numerically significant effect (data movement, selection, exact ops): runs in whatever precision its neighbours use.</summary>
    Clear,
    /// <summary>Numerically dangerous in the low type (or not convertible): runs FP32.</summary>
    Deny,
}

/// <summary>One op of the policy table for one low-precision type.</summary>
/// <param name="OpType">ONNX op type (default domain).</param>
/// <param name="Color">The class.</param>
/// <param name="Why">The <c>why</c> word mark-* writes: <c>allow_list</c>, <c>infer_list</c>, <c>clear_list</c>, <c>deny_list</c> or <c>schema_fp32</c>.</param>
/// <param name="AccumulatesInF32">When the node runs low precision, it accumulates (dot products, sums, statistics) in FP32.</param>
/// <param name="Reason">Why the op has this class (the source list and the numerical argument); documented in docs/precision-policy.md.</param>
public sealed record PolicyEntry(string OpType, PrecisionColor Color, string Why, bool AccumulatesInF32, string Reason)
{
    /// <summary>True for deny entries from which deny propagates forward (numerically dangerous ops, not schema-fixed ones).</summary>
    public bool PropagatesDeny => Color == PrecisionColor.Deny && Why == PrecisionAnnotations.Why.DenyList;
}

/// <summary>
/// The typed precision policy: for one low-precision type (<see cref="DataType.BFloat16"/> or
/// <see cref="DataType.Float16"/>) the class of every listed ONNX op, its accumulation type, the schema-fixed FP32
/// operands, and the kernel-availability hook. Defaults come from the PyTorch and IPEX CPU autocast lists and
/// TensorFlow's auto-mixed-precision lists; docs/precision-policy.md gives every entry with its reason.
/// Ops on no list (and every op of a non-default domain) are "unlisted": they run FP32 without propagating deny.
/// </summary>
public sealed class PrecisionPolicy
{
    private readonly Dictionary<string, PolicyEntry> _entries;

    private PrecisionPolicy(DataType lowType, IEnumerable<PolicyEntry> entries, Func<string, DataType, bool>? kernelAvailable)
    {
        LowType = lowType;
        _entries = entries.ToDictionary(e => e.OpType, StringComparer.Ordinal);
        KernelAvailable = kernelAvailable ?? ((_, _) => true);
    }

    /// <summary>The default BF16 policy (every op has a kernel: the reference kernels run every op in bf16).</summary>
    public static PrecisionPolicy Bf16 { get; } = new(DataType.BFloat16, PolicyTable.For(DataType.BFloat16), null);

    /// <summary>The default FP16 policy.</summary>
    public static PrecisionPolicy Fp16 { get; } = new(DataType.Float16, PolicyTable.For(DataType.Float16), null);

    public static PrecisionPolicy For(DataType lowType) => lowType switch
    {
        DataType.BFloat16 => Bf16,
        DataType.Float16 => Fp16,
        _ => throw new ArgumentOutOfRangeException(nameof(lowType), lowType, "the precision policy exists for bf16 and fp16"),
    };

    /// <summary>The low-precision element type this policy is for.</summary>
    public DataType LowType { get; }

    /// <summary>The annotation word of <see cref="LowType"/> (<c>bf16</c> / <c>fp16</c>).</summary>
    public string LowName => PrecisionAnnotations.PrecisionName(LowType);

    /// <summary>Every listed op, ordered by op type.</summary>
    public IEnumerable<PolicyEntry> Entries => _entries.Values.OrderBy(e => e.OpType, StringComparer.Ordinal);

    /// <summary>
    /// Kernel availability of (op type, low type) on the target: false when the target has no kernel for the op in
    /// the low type. On every named target the reference kernels run every op in bf16/fp16, so the default answers
    /// true everywhere; hosts with a partial kernel set plug in their own predicate, and <c>native-only</c> counts only
    /// native dot-product kernels. mark-* consults it only for allow-list ops, which it demotes to infer
    /// (<c>why = no_kernel</c>) when it answers false: they then run low only where that saves casts.
    /// </summary>
    public Func<string, DataType, bool> KernelAvailable { get; }

    /// <summary>A copy of this policy with another kernel-availability predicate.</summary>
    public PrecisionPolicy WithKernelAvailability(Func<string, DataType, bool>? kernelAvailable) => new(LowType, _entries.Values, kernelAvailable);

    /// <summary>The entry of an op, or null when the op is unlisted (every op of a non-default domain is).</summary>
    public PolicyEntry? Lookup(string domain, string opType) =>
        domain is "" or "ai.onnx" && _entries.TryGetValue(opType, out var e) ? e : null;

    public PolicyEntry? Lookup(Node node) => Lookup(node.Domain, node.OpType);

    /// <summary>True when the op, run in low precision, accumulates in FP32 (<c>acc = f32</c>).</summary>
    public bool AccumulatesInF32(Node node) => Lookup(node)?.AccumulatesInF32 ?? false;

    /// <summary>
    /// True when operand <paramref name="operandIndex"/> of <paramref name="node"/> keeps its type whatever
    /// precision the node runs in: schema-fixed FP32 operands (Resize roi/scales, Upsample scales, OneHot depth,
    /// Dropout ratio, NonMaxSuppression thresholds, GridSample grid, Q/DQ scales and zero points) and
    /// shape/index/axes/pads/sizes/lengths/condition operands (integer or bool by schema; listed so a caller never
    /// converts them). Every operand of Range and ConstantOfShape is fixed. Operands of ops in other domains are
    /// never fixed. insert-casts leaves these operands as they are.
    /// </summary>
    public static bool KeepsFp32Operand(Node node, int operandIndex)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (!node.IsDefaultDomain || operandIndex < 0) return false;
        int i = operandIndex;
        return node.OpType switch
        {
            // roi, scales, sizes
            "Resize" => i >= 1,
            "Upsample" => i == 1,
            // shapes, repeats, axes, starts/ends/steps, pads, split sizes, K, indices
            "Reshape" or "Expand" or "Tile" or "Squeeze" or "Unsqueeze" or "Split" or "TopK" or "CumSum" or "Trilu"
                or "CenterCropPad" or "ReverseSequence" or "Compress" => i == 1,
            "Slice" => i >= 1,
            "Pad" => i is 1 or 3,
            "Gather" or "GatherElements" or "GatherND" or "ScatterND" or "ScatterElements" or "Scatter" => i == 1,
            "ReduceSum" or "ReduceMean" or "ReduceMax" or "ReduceMin" or "ReduceProd" or "ReduceL1" or "ReduceL2"
                or "ReduceSumSquare" or "ReduceLogSum" or "ReduceLogSumExp" => i == 1,
            "OneHot" => i is 0 or 1,
            "Range" or "ConstantOfShape" => true,
            "Dropout" => i is 1 or 2,
            "NonMaxSuppression" => i >= 2,
            "RoiAlign" => i == 2,
            "GridSample" => i == 1,
            "MaxUnpool" => i is 1 or 2,
            "Col2Im" => i is 1 or 2,
            "STFT" => i is 1 or 3,
            "DFT" => i is 1 or 2,
            "LSTM" or "GRU" or "RNN" => i == 4,
            "NegativeLogLikelihoodLoss" or "SoftmaxCrossEntropyLoss" => i == 1,
            "Where" => i == 0,
            "If" => i == 0,
            "Loop" => i is 0 or 1,
            "QuantizeLinear" or "DequantizeLinear" => i is 1 or 2,
            "QLinearConv" or "QLinearMatMul" => i is 1 or 2 or 4 or 5 or 6 or 7,
            "MatMulInteger" or "ConvInteger" => i is 2 or 3,
            _ => false,
        };
    }

    /// <summary>Ops that read only the metadata (shape) of their data operand: uses by them do not make a producer a data or a shape computation.</summary>
    internal static bool ReadsOnlyShape(Node node) => node.IsDefaultDomain && node.OpType is "Shape" or "Size";

    /// <summary>Control-flow ops: one precision for every float value crossing their boundary.</summary>
    internal static bool IsControlFlow(Node node) => node.IsDefaultDomain && node.OpType is "If" or "Loop" or "Scan";

    /// <summary>Ops whose float results are constants (folded into initializers by fold-casts when cast), so converting them costs no runtime Cast.</summary>
    internal static bool IsConstantSource(Node node) => node.IsDefaultDomain && node.OpType is "Constant" or "ConstantOfShape";
}
