namespace Alloy.Passes.Quantization;

/// <summary>
/// The annotations partition-int8 writes (beside <see cref="Precision.PrecisionAnnotations"/>'s <c>prec</c> and
/// <c>why</c>): <c>prec = i8</c> on every node of the INT8 partition (the mark-* passes leave such nodes alone) and a
/// <c>why</c> saying which rule put it there.
/// </summary>
public static class QuantizationAnnotations
{
    /// <summary>The value of <c>prec</c> for nodes that run INT8 (and the Q/DQ nodes around them).</summary>
    public const string I8 = "i8";

    /// <summary>Values of <c>why</c> written by partition-int8.</summary>
    public static class Why
    {
        /// <summary>A Conv / MatMul / Gemm on the int8 op list with calibrated ranges for its activations.</summary>
        public const string Int8Op = "int8_op";
        /// <summary>Forced INT8 or FP32 by op type (<c>int8-ops</c> / <c>fp32-ops</c>).</summary>
        public const string OverrideOp = "override_op";
        /// <summary>Forced INT8 or FP32 by node-name regex (<c>int8-nodes</c> / <c>fp32-nodes</c>).</summary>
        public const string OverrideName = "override_name";
        /// <summary>A Relu after an INT8 node: folded into the quantized range of its result (zero point at the bottom of the range).</summary>
        public const string ReluFolded = "relu_folded";
        /// <summary>A Clip(0, max) (ReLU6) after an INT8 node: folded into the quantized range of its result, like a Relu.</summary>
        public const string ClipFolded = "clip_folded";
        /// <summary>A data-movement op (MaxPool, Reshape, Transpose, Flatten, Concat) whose operand is already INT8: carries INT8 with the scale of its operand.</summary>
        public const string Int8Carry = "int8_carry";
        /// <summary>QuantizeLinear / DequantizeLinear of an activation at the INT8 boundary.</summary>
        public const string QdqActivation = "qdq_activation";
        /// <summary>DequantizeLinear of an INT8 weight or INT32 bias constant.</summary>
        public const string QdqWeight = "qdq_weight";
        /// <summary>An INT8 candidate kept FP32: an activation operand has no calibrated range.</summary>
        public const string NoRange = "no_range";
        /// <summary>An INT8 candidate kept FP32: its operands are not FP32 tensors of a supported form.</summary>
        public const string Unsupported = "unsupported";
    }
}
