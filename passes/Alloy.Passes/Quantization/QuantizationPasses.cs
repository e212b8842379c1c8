using Alloy.Passes.Quantization;
using Alloy.Pipeline;

namespace Alloy.Passes;

public static partial class StandardPasses
{
    static partial void RegisterQuantization(PassRegistry r)
    {
        r.Register(PartitionInt8Pass.PassId,
            $"run Conv/MatMul/Gemm (and the data movement between them) INT8 in ONNX QDQ form from calibrated ranges (options: {string.Join(", ", PartitionInt8Options.OptionNames)})",
            options => new PartitionInt8Pass(PartitionInt8Options.Parse(PartitionInt8Pass.PassId, options)));
        r.Register(FoldQuantizeCastsPass.PassId,
            "let QuantizeLinear consume BF16/FP16 directly instead of through a Cast to FP32 (opset >= 19, exact scales)",
            options =>
            {
                new PassOptions(FoldQuantizeCastsPass.PassId, options).RejectUnknown();
                return new FoldQuantizeCastsPass();
            });
    }
}
