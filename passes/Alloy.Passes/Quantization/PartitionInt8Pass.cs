using Alloy.IR;
using Alloy.Pipeline;

namespace Alloy.Passes.Quantization;

/// <summary>
/// <c>partition-int8</c>: Conv, MatMul and Gemm whose activation operands have calibrated ranges run INT8, written in
/// ONNX QDQ form (the form ONNX Runtime fuses into its integer kernels): every INT8 activation goes through one shared
/// QuantizeLinear → DequantizeLinear pair (uint8 asymmetric or int8 symmetric), every weight becomes an int8
/// initializer with per-channel symmetric scales read through DequantizeLinear, every bias an int32 initializer with
/// scale = activation scale × weight scale. A Relu right after an INT8 node is folded into the quantized range of its
/// result; MaxPool, Reshape, Transpose, Flatten and Concat whose operands are INT8 carry INT8 with one scale shared by
/// their operands and result. Every other node stays FP32 for the BF16/FP16 passes. INT8 nodes (and their Q/DQ) get
/// <c>prec = i8</c> and a <c>why</c>.
/// </summary>
public sealed class PartitionInt8Pass(PartitionInt8Options? options = null) : IPass
{
    public const string PassId = "partition-int8";

    public PartitionInt8Options Options { get; } = options ?? new PartitionInt8Options();

    public string Id => PassId;
    public string Description => "run Conv/MatMul/Gemm (and the data movement between them) INT8 in ONNX QDQ form from calibrated ranges";

    public void Run(Model model, PassContext context) => new PartitionInt8Run(model, context, Options).Execute();
}
