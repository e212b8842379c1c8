using Alloy.IR;

namespace Alloy.Passes.Precision;

/// <summary>
/// From which default-domain opset an op's float type constraint admits <c>tensor(bfloat16)</c> and
/// <c>tensor(float16)</c>: the facts the opset schema rule of mark-bf16 / mark-fp16 checks, so that a compiled model
/// is valid ONNX at its opset. One row per op the precision passes may put in a low type (every op of the policy
/// table). <see cref="OnnxTypeRow.TypeParameter"/> names the constraint that binds the op's float data operands (the
/// other constraints are integer, bool or schema-fixed FP32 operands such as Resize's scales); where the name changed
/// between versions the names are separated by '|', newest first (Identity: V from opset 14, T before).
/// Versions up to 17 follow the operator schemas of onnx 1.12 (<c>onnx.defs.get_schema(op, opset).type_constraints</c>;
/// the test suite cross-checks every row against them); versions 18–23 follow the ONNX operator change log
/// (opset 18: GroupNormalization, CenterCropPad, Mish; opset 19: QuantizeLinear / DequantizeLinear with bf16/fp16
/// scales; opset 20: Gelu, IsInf, ConstantOfShape; opset 22: bfloat16 added to Conv, ConvTranspose, the pools,
/// LSTM/GRU/RNN, the random generators and most unary activations; opset 23: Attention). A null version means
/// the type is not admitted by any opset up to 22 as far as this table knows: such nodes stay FP32.
/// </summary>
public static class OnnxTypeSupport
{
    /// <summary>The newest default-domain opset whose facts the table records.</summary>
    public const int KnownThrough = 23;

    private static readonly OnnxTypeRow[] RowArray =
    [
        // contractions
        new("MatMul", "T", 13, 1),
        new("Gemm", "T", 13, 1),
        new("Conv", "T", 22, 1),
        new("ConvTranspose", "T", 22, 1),
        new("Einsum", "T", null, 12),
        new("Attention", "T1", 23, 23),
        new("LSTM", "T", 22, 1),
        new("GRU", "T", 22, 1),
        new("RNN", "T", 22, 1),
        // elementwise arithmetic and activations
        new("Add", "T", 13, 1),
        new("Sub", "T", 13, 1),
        new("Mul", "T", 13, 1),
        new("Div", "T", 13, 1),
        new("Sum", "T", 13, 1),
        new("Mean", "T", 13, 1),
        new("BatchNormalization", "T", 14, 1),
        new("Sigmoid", "T", 13, 1),
        new("Tanh", "T", 13, 1),
        new("Erf", "T", 13, 9),
        new("Gelu", "T", 20, 20),
        new("Elu", "T", 22, 1),
        new("Selu", "T", 22, 1),
        new("Celu", "T", null, null),
        new("LeakyRelu", "T", 16, 1),
        new("PRelu", "T", 16, 1),
        new("HardSigmoid", "T", 22, 1),
        new("HardSwish", "T", 22, 14),
        new("Softsign", "T", 22, 1),
        new("Shrink", "T", null, 9),
        new("Sqrt", "T", 13, 1),
        new("Reciprocal", "T", 13, 1),
        new("Softplus", "T", 22, 1),
        new("Softmax", "T", 13, 1),
        new("LogSoftmax", "T", 13, 1),
        new("Exp", "T", 13, 1),
        new("Log", "T", 13, 1),
        new("Pow", "T", 13, 1),
        new("Tan", "T", 22, 7),
        new("Asin", "T", 22, 7),
        new("Acos", "T", 22, 7),
        new("Sinh", "T", 22, 9),
        new("Cosh", "T", 22, 9),
        new("Mish", "T", 22, 18),
        new("Mod", "T", 13, 10),
        new("Det", "T", 22, 11),
        // reductions and pools
        new("ReduceSum", "T", 13, 1),
        new("ReduceMean", "T", 13, 1),
        new("ReduceL1", "T", 13, 1),
        new("ReduceL2", "T", 13, 1),
        new("ReduceMax", "T", 13, 1),
        new("ReduceMin", "T", 13, 1),
        new("ReduceProd", "T", 13, 1),
        new("ReduceSumSquare", "T", 13, 1),
        new("ReduceLogSum", "T", 13, 1),
        new("ReduceLogSumExp", "T", 13, 1),
        new("CumSum", "T", 14, 14),
        new("AveragePool", "T", 22, 1),
        new("GlobalAveragePool", "T", 22, 1),
        new("MaxPool", "T", 22, 1),
        new("GlobalMaxPool", "T", 22, 1),
        new("MaxRoiPool", "T", 22, 1),
        new("LpPool", "T", 22, 1),
        new("GlobalLpPool", "T", 22, 1),
        // normalizations and losses
        new("LayerNormalization", "T", 17, 17),
        new("GroupNormalization", "T", 18, 18),
        new("InstanceNormalization", "T", 22, 1),
        new("LpNormalization", "T", 22, 1),
        new("MeanVarianceNormalization", "T", 13, 9),
        new("LRN", "T", 13, 1),
        new("SoftmaxCrossEntropyLoss", "T", 13, 12),
        new("NegativeLogLikelihoodLoss", "T", 22, 12),
        new("GridSample", "T1", null, 16),
        new("DFT", "T1", 17, 17),
        new("STFT", "T1", 17, 17),
        new("NonMaxSuppression", "", null, null),
        // selection, comparison and data movement
        new("Relu", "T", 13, 1),
        new("Abs", "T", 13, 1),
        new("Neg", "T", 13, 1),
        new("Sign", "T", 13, 9),
        new("Floor", "T", 13, 1),
        new("Ceil", "T", 13, 1),
        new("Round", "T", 22, 11),
        new("Clip", "T", 13, 1),
        new("Max", "T", 13, 1),
        new("Min", "T", 13, 1),
        new("ThresholdedRelu", "T", 22, 10),
        new("Hardmax", "T", 13, 1),
        new("ArgMax", "T", 13, 1),
        new("ArgMin", "T", 13, 1),
        new("TopK", "T", null, 1),
        new("Reshape", "T", 13, 1),
        new("Transpose", "T", 13, 1),
        new("Flatten", "T", 13, 1),
        new("Squeeze", "T", 13, 1),
        new("Unsqueeze", "T", 13, 1),
        new("Concat", "T", 13, 1),
        new("Split", "T", 13, 1),
        new("Slice", "T", 13, 1),
        new("Gather", "T", 13, 1),
        new("GatherElements", "T", 13, 11),
        new("GatherND", "T", 13, 11),
        new("ScatterND", "T", 13, 11),
        new("ScatterElements", "T", 13, 11),
        new("Expand", "T", 13, 8),
        new("Tile", "T", 13, 1),
        new("Pad", "T", 13, 1),
        new("Identity", "V|T", 13, 1),
        new("Dropout", "T", 13, 1),
        new("DepthToSpace", "T", 13, 1),
        new("SpaceToDepth", "T", 13, 1),
        new("ReverseSequence", "T", null, 10),
        new("Compress", "T", null, 9),
        new("Trilu", "T", 14, 14),
        new("CenterCropPad", "T", 18, 18),
        new("Resize", "T1|T", 13, 10),
        new("Upsample", "T", null, 1),
        new("Where", "T", 16, 9),
        new("OneHot", "T3", null, 9),
        new("NonZero", "T", 13, 9),
        new("Equal", "T", 13, 11),
        new("Greater", "T", 13, 1),
        new("GreaterOrEqual", "T", 16, 12),
        new("Less", "T", 13, 1),
        new("LessOrEqual", "T", 16, 12),
        new("IsNaN", "T1", 13, 9),
        new("IsInf", "T1", 20, 20),
        new("Shape", "T", 13, 1),
        new("Size", "T", 13, 1),
        new("If", "V", 16, 1),
        new("Loop", "V", 16, 1),
        new("Scan", "V", 16, 8),
        // schema-fixed types: what the output may contain after insert-casts and fold-casts
        new("Cast", "T2", 13, 1),
        new("CastLike", "T2", 15, 15),
        new("Constant", "T", 13, 1),
        new("ConstantOfShape", "T2", 20, 9),
        new("Range", "T", null, null),
        new("EyeLike", "T2", 22, 9),
        new("RandomNormal", "T", 22, 1),
        new("RandomUniform", "T", 22, 1),
        new("RandomNormalLike", "T2", 22, 1),
        new("RandomUniformLike", "T2", 22, 1),
        new("Bernoulli", "T1", 22, 15),
        new("Multinomial", "T1", 22, 7),
        new("QuantizeLinear", "T1", 19, 19),
        new("DequantizeLinear", "T2", 19, 19),
        new("DynamicQuantizeLinear", "T1", null, null),
    ];

    private static readonly Dictionary<string, OnnxTypeRow> ByOp = RowArray.ToDictionary(r => r.Op, StringComparer.Ordinal);

    /// <summary>Every row of the table.</summary>
    public static IReadOnlyList<OnnxTypeRow> Rows => RowArray;

    /// <summary>The row of a default-domain op, or null when the table has no facts for it.</summary>
    public static OnnxTypeRow? Find(string opType) => ByOp.GetValueOrDefault(opType);

    /// <summary>Whether the op's float data constraint admits <paramref name="type"/> at default-domain opset <paramref name="opset"/> (false for ops the table does not know).</summary>
    public static bool Admits(string opType, DataType type, long opset) =>
        Find(opType)?.SinceFor(type) is { } since && opset >= since;
}

/// <summary>
/// One op's type facts: the name of its float data type constraint and the first default-domain opset whose
/// version of the op admits bfloat16 / float16 in it (null: no opset through <see cref="OnnxTypeSupport.KnownThrough"/>).
/// FP32 is admitted by every version of every op in the table.
/// </summary>
public sealed record OnnxTypeRow(string Op, string TypeParameter, int? Bfloat16Since, int? Float16Since)
{
    /// <summary>The first opset admitting <paramref name="type"/> (float: 1; other types: null).</summary>
    public int? SinceFor(DataType type) => type switch
    {
        DataType.BFloat16 => Bfloat16Since,
        DataType.Float16 => Float16Since,
        DataType.Float => 1,
        _ => null,
    };
}
