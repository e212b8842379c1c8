using Alloy.IR;
using static Alloy.Passes.Precision.PrecisionColor;

namespace Alloy.Passes.Precision;

/// <summary>
/// The default policy rows: one per ONNX op, with its class for bf16 and for fp16, whether it accumulates in FP32
/// when it runs low, and the reason. Sources (docs/precision-policy.md cites them): PT-CPU = PyTorch's CPU autocast
/// lists (aten/src/ATen/autocast_mode.cpp, AutocastCPU); PT-CUDA = PyTorch's documented CUDA fp16 / fp32 lists;
/// IPEX = Intel Extension for PyTorch CPU AMP lists; TF-MKL / TF-CUDA = TensorFlow's
/// auto_mixed_precision_lists.h (the oneDNN/bf16 lists and the CUDA/fp16 lists).
/// </summary>
internal static class PolicyTable
{
    private const bool Acc = true;
    private const bool NoAcc = false;

    /// <summary>A row: class for bf16, class for fp16, accumulation, reason. <c>S</c> marks schema-fixed (deny, not propagating).</summary>
    internal sealed record Row(string Op, PrecisionColor Bf16, PrecisionColor Fp16, bool AccF32, string Reason, bool Schema = false);

    internal static readonly Row[] Rows =
    [
        // ---- allow: compute-bound contractions (accumulate in FP32) ----
        new("MatMul", Allow, Allow, Acc, "PT-CPU runs matmul/mm/bmm in lower_precision_fp; TF-MKL and TF-CUDA allow MatMul/BatchMatMul; dot products accumulate in FP32."),
        new("Gemm", Allow, Allow, Acc, "PT-CPU runs linear/addmm/baddbmm/addbmm in lower_precision_fp; TF allows MatMul (+BiasAdd); FP32 accumulation."),
        new("Conv", Allow, Allow, Acc, "PT-CPU runs conv1d/conv2d/conv3d in lower_precision_fp; TF-MKL allows Conv2D/Conv3D/DepthwiseConv2dNative; FP32 accumulation."),
        new("ConvTranspose", Allow, Allow, Acc, "PT-CPU (2.x) runs conv_transpose1d/2d/3d in lower_precision_fp; TF allows Conv2DBackpropInput (the same computation); FP32 accumulation."),
        new("Einsum", Allow, Allow, Acc, "TF-MKL and TF-CUDA allow Einsum; ONNX Einsum is a contraction like MatMul; FP32 accumulation."),
        new("Attention", Allow, Allow, Acc, "PT-CPU runs scaled_dot_product_attention in lower_precision_fp; the kernel accumulates scores and the softmax sum in FP32."),
        new("LSTM", Allow, Allow, Acc, "Gate matmuls dominate; PT-CPU runs mkldnn_rnn_layer in lower_precision_fp, PT-CUDA casts LSTMCell to fp16, TF-CUDA allows CudnnRNN/LSTMBlockCell. Gates are bounded by sigmoid/tanh and the cell state grows at most by 1 per step, so neither type overflows; FP32 accumulation."),
        new("GRU", Allow, Allow, Acc, "As LSTM: PT-CPU mkldnn_rnn_layer, PT-CUDA GRUCell, TF-CUDA GRUBlockCell; the hidden state is a convex mix of tanh outputs (magnitude at most 1); FP32 accumulation."),
        new("RNN", Allow, Allow, Acc, "As LSTM: PT-CUDA RNNCell, TF-CUDA CudnnRNN; the hidden state is a tanh/relu output; FP32 accumulation."),

        // ---- infer: safe elementwise arithmetic, low only next to low nodes ----
        new("Add", Infer, Infer, NoAcc, "TF infer list (Add/AddV2/BiasAdd); one rounding per element."),
        new("Sub", Infer, Infer, NoAcc, "TF infer list (Sub)."),
        new("Mul", Infer, Infer, NoAcc, "TF infer list (Mul)."),
        new("Div", Infer, Infer, NoAcc, "TF infer list (RealDiv)."),
        new("Sum", Infer, Infer, NoAcc, "Variadic elementwise sum: TF infer list (AddN)."),
        new("Mean", Infer, Infer, NoAcc, "Variadic elementwise mean of a few inputs: like AddN followed by a scale (TF infer list)."),
        new("BatchNormalization", Infer, Infer, NoAcc, "TF infer list (FusedBatchNormV2/V3); at inference it is a per-channel affine map with precomputed statistics."),
        new("Sigmoid", Infer, Infer, NoAcc, "TF infer list; output bounded in [0, 1]."),
        new("Tanh", Infer, Infer, NoAcc, "TF infer list (Tanh); output bounded in [-1, 1]."),
        new("Erf", Infer, Infer, NoAcc, "TF infer list (Erf, used by GELU); output bounded in [-1, 1]."),
        new("Gelu", Infer, Infer, NoAcc, "Not listed by PT-CPU (runs in its input type); composed of Erf/Tanh, Mul and Add, all on the TF infer list."),
        new("Elu", Infer, Infer, NoAcc, "TF infer list (Elu)."),
        new("Selu", Infer, Infer, NoAcc, "TF infer list (Selu)."),
        new("Celu", Infer, Infer, NoAcc, "Same form as Elu (TF infer list)."),
        new("LeakyRelu", Infer, Infer, NoAcc, "TF infer list (LeakyRelu)."),
        new("PRelu", Infer, Infer, NoAcc, "PT-CPU lists prelu as lower_precision_fp, but it is an elementwise op like LeakyRelu (TF infer), so it should not seed a low-precision region by itself."),
        new("HardSigmoid", Infer, Infer, NoAcc, "Piecewise-linear, bounded in [0, 1]; an elementwise multiply-add like the TF infer-list ops."),
        new("HardSwish", Infer, Infer, NoAcc, "x * HardSigmoid(x); elementwise multiply-add like the TF infer-list ops."),
        new("Softsign", Infer, Infer, NoAcc, "TF infer list (Softsign); bounded in (-1, 1)."),
        new("Shrink", Infer, Infer, NoAcc, "Elementwise add of a bias with a threshold; like Add (TF infer list)."),
        new("Sqrt", Infer, Infer, NoAcc, "TF infer list (Sqrt); halves the exponent, cannot overflow."),
        new("Reciprocal", Infer, Deny, NoAcc, "bf16: TF-MKL infer list (bf16 has FP32's exponent range). fp16: PT-CUDA keeps reciprocal in fp32; 1/x overflows fp16 for magnitudes below 1.5e-5."),
        new("Softplus", Infer, Deny, NoAcc, "bf16: TF-MKL infer list. fp16: PT-CUDA and IPEX keep softplus in fp32 (it contains exp)."),
        new("Softmax", Infer, Deny, Acc, "bf16: TF-MKL infer list; outputs lie in [0, 1] and the kernel sums in FP32. fp16: PT-CUDA keeps softmax in fp32 (logits that fit FP32 overflow fp16; tiny probabilities underflow)."),
        new("ReduceSum", Infer, Deny, Acc, "bf16: TF-MKL names Sum in its infer list; with FP32 accumulation only the result is rounded and bf16 has FP32's range. fp16: TF-CUDA deny list (Sum), PT-CUDA fp32 (sum): sums overflow 65504."),
        new("ReduceMean", Infer, Deny, Acc, "bf16: PT-CPU does not list mean (it runs in its input type); TF-MKL denies Mean, but with FP32 accumulation a mean lies within its input's range, so Alloy infers it. fp16: TF deny list (Mean): the sum overflows 65504."),
        new("ReduceL1", Infer, Deny, Acc, "bf16: a sum of magnitudes with FP32 accumulation (as ReduceSum). fp16: the sum overflows 65504 (TF deny Sum)."),
        new("AveragePool", Infer, Infer, Acc, "TF infer list (AvgPool/AvgPool3D); the window sum accumulates in FP32 and the mean lies within the input range. PT-CPU keeps only avg_pool3d in fp32."),
        new("GlobalAveragePool", Infer, Infer, Acc, "As AveragePool (TF infer AvgPool); FP32 accumulation."),

        // ---- clear: data movement, selection and exact ops ----
        new("Relu", Clear, Clear, NoAcc, "TF clear list (Relu): max(x, 0) rounds nothing."),
        new("Abs", Clear, Clear, NoAcc, "TF clear list: exact."),
        new("Neg", Clear, Clear, NoAcc, "TF clear list: exact."),
        new("Sign", Clear, Clear, NoAcc, "TF clear list: exact."),
        new("Floor", Clear, Clear, NoAcc, "TF clear list: exact on its input."),
        new("Ceil", Clear, Clear, NoAcc, "TF clear list: exact on its input."),
        new("Round", Clear, Clear, NoAcc, "TF clear list: exact on its input."),
        new("Clip", Clear, Clear, NoAcc, "TF clear list (ClipByValue): selects between the input and the bounds."),
        new("Max", Clear, Clear, NoAcc, "TF clear list (Maximum): selection."),
        new("Min", Clear, Clear, NoAcc, "TF clear list (Minimum): selection."),
        new("ThresholdedRelu", Clear, Clear, NoAcc, "Selection between x and 0, like Relu (TF clear)."),
        new("Hardmax", Clear, Clear, NoAcc, "One-hot of the argmax: outputs 0/1, like ArgMax (TF clear)."),
        new("ReduceMax", Clear, Clear, NoAcc, "TF clear list (Max): selection."),
        new("ReduceMin", Clear, Clear, NoAcc, "TF clear list (Min): selection."),
        new("ArgMax", Clear, Clear, NoAcc, "TF clear list (ArgMax): returns an index; ties after rounding are decided upstream."),
        new("ArgMin", Clear, Clear, NoAcc, "TF clear list (ArgMin)."),
        new("TopK", Clear, Clear, NoAcc, "TF clear list (TopK/TopKV2): selection; values are the input's own."),
        new("MaxPool", Clear, Clear, NoAcc, "TF clear list (MaxPool): selection. (PT-CPU lists max_pool3d as fp32.)"),
        new("GlobalMaxPool", Clear, Clear, NoAcc, "As MaxPool: selection."),
        new("MaxRoiPool", Clear, Clear, NoAcc, "As MaxPool: selection."),
        new("Reshape", Clear, Clear, NoAcc, "TF clear list: data movement."),
        new("Transpose", Clear, Clear, NoAcc, "TF clear list: data movement."),
        new("Flatten", Clear, Clear, NoAcc, "A reshape: data movement (TF clear Reshape)."),
        new("Squeeze", Clear, Clear, NoAcc, "TF clear list: data movement."),
        new("Unsqueeze", Clear, Clear, NoAcc, "TF clear list (ExpandDims): data movement."),
        new("Concat", Clear, Clear, NoAcc, "TF clear list (ConcatV2); PT promotes cat to its widest input."),
        new("Split", Clear, Clear, NoAcc, "TF clear list (Split/SplitV): data movement."),
        new("Slice", Clear, Clear, NoAcc, "TF clear list (Slice/StridedSlice): data movement."),
        new("Gather", Clear, Clear, NoAcc, "TF clear list (Gather/GatherV2): data movement."),
        new("GatherElements", Clear, Clear, NoAcc, "As Gather: data movement."),
        new("GatherND", Clear, Clear, NoAcc, "TF clear list (GatherNd): data movement."),
        new("ScatterND", Clear, Clear, NoAcc, "TF-MKL clear list (ScatterNd): data movement."),
        new("ScatterElements", Clear, Clear, NoAcc, "As ScatterND: data movement."),
        new("Expand", Clear, Clear, NoAcc, "TF clear list (BroadcastTo): data movement."),
        new("Tile", Clear, Clear, NoAcc, "TF clear list: data movement."),
        new("Pad", Clear, Clear, NoAcc, "TF clear list (Pad/PadV2/MirrorPad): copies values. (PT-CPU lists reflection/replication pads as fp32.)"),
        new("Identity", Clear, Clear, NoAcc, "TF clear list: no computation."),
        new("Dropout", Clear, Clear, NoAcc, "Identity at inference (TF clear Identity)."),
        new("DepthToSpace", Clear, Clear, NoAcc, "TF clear list: data movement."),
        new("SpaceToDepth", Clear, Clear, NoAcc, "TF clear list: data movement."),
        new("ReverseSequence", Clear, Clear, NoAcc, "TF clear list: data movement."),
        new("Compress", Clear, Clear, NoAcc, "Selection by a boolean mask (TF clear DynamicPartition)."),
        new("Trilu", Clear, Clear, NoAcc, "Keeps or zeroes elements: exact."),
        new("CenterCropPad", Clear, Clear, NoAcc, "Data movement like Slice/Pad."),
        new("Resize", Clear, Clear, NoAcc, "TF-MKL clear list (ResizeNearestNeighbor, ResizeBilinear); only its X operand follows the node precision, roi/scales/sizes stay FP32 (schema-fixed operands)."),
        new("Upsample", Clear, Clear, NoAcc, "Deprecated Resize; scales stay FP32."),
        new("Where", Clear, Clear, NoAcc, "TF clear list (Select/SelectV2): selection between its data operands; the condition is bool."),
        new("OneHot", Clear, Clear, NoAcc, "TF clear list (OneHot): writes its on/off values."),
        new("NonZero", Clear, Clear, NoAcc, "Reads only which elements are zero (TF clear Where); outputs indices."),
        new("Equal", Clear, Clear, NoAcc, "TF clear list: comparison, bool output."),
        new("Greater", Clear, Clear, NoAcc, "TF clear list: comparison, bool output."),
        new("GreaterOrEqual", Clear, Clear, NoAcc, "TF clear list: comparison, bool output."),
        new("Less", Clear, Clear, NoAcc, "TF clear list: comparison, bool output."),
        new("LessOrEqual", Clear, Clear, NoAcc, "TF clear list: comparison, bool output."),
        new("IsNaN", Clear, Clear, NoAcc, "TF clear list (IsNan): NaN survives conversion."),
        new("IsInf", Clear, Clear, NoAcc, "TF clear list (IsInf)."),
        new("Shape", Clear, Clear, NoAcc, "TF clear list (Shape): reads only the shape, so it never needs a Cast."),
        new("Size", Clear, Clear, NoAcc, "TF clear list (Size): reads only the shape."),
        new("If", Clear, Clear, NoAcc, "Control flow carries values without computing (TF clear Switch/Merge/Enter/Exit); one precision for all float values crossing its boundary."),
        new("Loop", Clear, Clear, NoAcc, "Control flow (TF clear Enter/Exit/NextIteration/Merge); loop-carried values keep one precision across iterations."),
        new("Scan", Clear, Clear, NoAcc, "Control flow; states and scan values keep one precision across iterations."),

        // ---- deny: numerically dangerous in the low type (propagates forward) ----
        new("Exp", Deny, Deny, NoAcc, "TF deny list (Exp); PT-CUDA and IPEX fp32 (exp): the output's relative error equals the input's absolute error, and exp overflows fp16 above 11.1."),
        new("Log", Deny, Deny, NoAcc, "PT-CUDA and IPEX fp32 (log): near 1 the result loses all relative precision. (TF lists Log as infer.)"),
        new("Pow", Deny, Deny, NoAcc, "TF deny list (Pow); PT-CUDA and IPEX fp32 (pow): error grows with the exponent, and squares overflow fp16 above 256."),
        new("Tan", Deny, Deny, NoAcc, "PT-CUDA and IPEX fp32 (tan): unbounded near its poles."),
        new("Asin", Deny, Deny, NoAcc, "PT-CUDA and IPEX fp32 (asin): infinite slope at +-1."),
        new("Acos", Deny, Deny, NoAcc, "PT-CUDA and IPEX fp32 (acos): infinite slope at +-1."),
        new("Sinh", Deny, Deny, NoAcc, "PT-CUDA and IPEX fp32 (sinh): grows like exp."),
        new("Cosh", Deny, Deny, NoAcc, "PT-CUDA and IPEX fp32 (cosh): grows like exp."),
        new("Mish", Deny, Deny, NoAcc, "IPEX CPU fp32 (mish): softplus inside (exp and log)."),
        new("LogSoftmax", Deny, Deny, Acc, "PT-CUDA and IPEX fp32 (log_softmax); it feeds losses and log-probabilities need absolute precision."),
        new("ReduceSumSquare", Deny, Deny, Acc, "PT-CUDA/IPEX fp32 (norm, frobenius_norm): squares overflow fp16 above 256 and amplify bf16 error."),
        new("ReduceL2", Deny, Deny, Acc, "PT-CUDA/IPEX fp32 (norm, frobenius_norm)."),
        new("ReduceLogSum", Deny, Deny, Acc, "log is fp32 in PT-CUDA and IPEX."),
        new("ReduceLogSumExp", Deny, Deny, Acc, "exp and log are both fp32 in PT-CUDA and IPEX; TF deny Exp."),
        new("ReduceProd", Deny, Deny, Acc, "PT-CPU and PT-CUDA fp32 (prod): products overflow and compound rounding."),
        new("CumSum", Deny, Deny, Acc, "PT-CUDA fp32 (cumsum): a running sum's rounding accumulates along the axis."),
        new("LayerNormalization", Deny, Deny, Acc, "IPEX and PT-CUDA keep layer_norm in fp32: x - mean cancels, and the variance overflows fp16."),
        new("GroupNormalization", Deny, Deny, Acc, "PT-CUDA fp32 (group_norm); IPEX 1.x fp32 (group_norm): statistics over a group."),
        new("InstanceNormalization", Deny, Deny, Acc, "Statistics per instance like GroupNorm/LayerNorm (kept fp32 by PT-CUDA/IPEX)."),
        new("LpNormalization", Deny, Deny, Acc, "PT-CUDA fp32 (normalize, norm)."),
        new("MeanVarianceNormalization", Deny, Deny, Acc, "Mean/variance statistics as LayerNorm."),
        new("LRN", Deny, Deny, Acc, "A sum of squares over channels raised to a power (Pow, TF deny)."),
        new("LpPool", Deny, Deny, Acc, "A p-norm over the window (pow and norm are PT fp32)."),
        new("GlobalLpPool", Deny, Deny, Acc, "As LpPool."),
        new("SoftmaxCrossEntropyLoss", Deny, Deny, Acc, "TF deny list (SoftmaxCrossEntropyWithLogits); PT fp32 (cross_entropy_loss)."),
        new("NegativeLogLikelihoodLoss", Deny, Deny, Acc, "PT-CPU/PT-CUDA fp32 (nll_loss)."),
        new("GridSample", Deny, Deny, NoAcc, "PT-CPU fp32 (grid_sampler): sampling coordinates need more than 8 significant bits."),
        new("DFT", Deny, Deny, Acc, "PT-CPU fp32 (fft_*)."),
        new("STFT", Deny, Deny, Acc, "PT-CPU fp32 (stft)."),
        new("Det", Deny, Deny, Acc, "PT-CPU fp32 (linalg family)."),
        new("Mod", Deny, Deny, NoAcc, "IPEX CPU fp32 (fmod): the remainder of rounded operands is meaningless."),
        new("NonMaxSuppression", Deny, Deny, NoAcc, "Box IoU computed from rounded corners changes which boxes survive; outputs indices."),

        // ---- schema-fixed: the element type is fixed by an attribute, or the value must be exact ----
        new("Cast", Deny, Deny, NoAcc, "Its result type is its 'to' attribute; insert-casts retargets existing Casts instead.", Schema: true),
        new("CastLike", Deny, Deny, NoAcc, "Its result type is the type of its second operand.", Schema: true),
        new("Constant", Deny, Deny, NoAcc, "Its type is the attribute's; a Cast after it folds into a new constant (fold-casts), so it costs no runtime Cast.", Schema: true),
        new("ConstantOfShape", Deny, Deny, NoAcc, "Its type is its value attribute's; a Cast after it folds like Constant.", Schema: true),
        new("Range", Deny, Deny, NoAcc, "Generates index sequences that must be exact (bf16 represents integers exactly only up to 256).", Schema: true),
        new("EyeLike", Deny, Deny, NoAcc, "Its type comes from its dtype attribute.", Schema: true),
        new("RandomNormal", Deny, Deny, NoAcc, "Its type comes from its dtype attribute.", Schema: true),
        new("RandomUniform", Deny, Deny, NoAcc, "Its type comes from its dtype attribute.", Schema: true),
        new("RandomNormalLike", Deny, Deny, NoAcc, "Its type comes from its dtype attribute.", Schema: true),
        new("RandomUniformLike", Deny, Deny, NoAcc, "Its type comes from its dtype attribute.", Schema: true),
        new("Bernoulli", Deny, Deny, NoAcc, "Its type comes from its dtype attribute.", Schema: true),
        new("Multinomial", Deny, Deny, NoAcc, "Outputs indices; its probabilities need FP32.", Schema: true),
        new("QuantizeLinear", Deny, Deny, NoAcc, "INT8 boundary owned by partition-int8; its scale fixes the types.", Schema: true),
        new("DequantizeLinear", Deny, Deny, NoAcc, "INT8 boundary owned by partition-int8; its output type is its scale's (fold-casts folds a following Cast into it).", Schema: true),
        new("DynamicQuantizeLinear", Deny, Deny, NoAcc, "INT8 boundary: computes an FP32 scale.", Schema: true),
    ];

    internal static IEnumerable<PolicyEntry> For(DataType lowType) =>
        Rows.Select(r =>
        {
            var color = lowType == DataType.Float16 ? r.Fp16 : r.Bf16;
            var why = r.Schema ? PrecisionAnnotations.Why.SchemaFp32 : color switch
            {
                Allow => PrecisionAnnotations.Why.AllowList,
                Infer => PrecisionAnnotations.Why.InferList,
                Clear => PrecisionAnnotations.Why.ClearList,
                _ => PrecisionAnnotations.Why.DenyList,
            };
            return new PolicyEntry(r.Op, color, why, r.AccF32, r.Reason);
        });
}
