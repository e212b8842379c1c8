using Alloy.IR;
using Alloy.Passes.Precision;

namespace Alloy.Tuning;

/// <summary>
/// The cost of a compiled candidate in bit-operations: for every node, multiply-accumulates × parameter bits ×
/// activation bits. MACs come from the shapes infer-shapes gave (symbolic and unknown dims count as 1): Conv =
/// output elements × weight elements per output channel; Gemm / MatMul = output elements × the reduced dimension;
/// GRU / LSTM / RNN = sequence length × batch × (W + R elements); Einsum = output × operand elements; any other
/// float node one operation per output element. Activation bits follow the node's <c>prec</c> annotation
/// (16 for bf16/fp16, 8 for int8 — partition-int8's <c>i8</c>) or else its first float result's type; parameter bits
/// are those of its constant weight operand, else the activation bits (an INT8 node's weight comes through a
/// DequantizeLinear, so INT8 counts 8 × 8). Casts, QuantizeLinear and DequantizeLinear are not counted.
/// </summary>
public static class BitOpsCostModel
{
    public static double BitOps(Model model)
    {
        double total = 0;
        foreach (var g in model.Graph.SelfAndSubgraphs())
            foreach (var n in g.Nodes)
            {
                if (n.OpType is "Cast" or "QuantizeLinear" or "DequantizeLinear") continue;
                double macs = Macs(n);
                if (macs <= 0) continue;
                int act = ActivationBits(n);
                if (act == 0) continue;
                total += macs * ParameterBits(n, act) * act;
            }
        return total;
    }

    /// <summary>Multiply-accumulates (or elementwise operations) of one node.</summary>
    public static double Macs(Node n)
    {
        double outElems = Elements(n.Outputs.Count > 0 ? n.Outputs[0] : null);
        switch (n.OpType)
        {
            case "Conv" or "ConvInteger" or "QLinearConv":
            {
                var w = Operand(n, n.OpType == "QLinearConv" ? 3 : 1);
                double wElems = Elements(w);
                double cout = Dim(w, 0);
                return outElems * (cout > 0 ? wElems / cout : 1);
            }
            case "ConvTranspose":
            {
                var w = Operand(n, 1);
                double cin = Dim(w, 0);
                return Elements(Operand(n, 0)) * (cin > 0 ? Elements(w) / cin : 1);
            }
            case "Gemm":
            {
                var a = Operand(n, 0);
                int rank = Rank(a);
                double k = rank < 2 ? 1 : n.GetInt("transA", 0) != 0 ? Dim(a, 0) : Dim(a, 1);
                return outElems * Math.Max(1, k);
            }
            case "MatMul" or "MatMulInteger" or "QLinearMatMul":
            {
                var a = Operand(n, 0);
                return outElems * Math.Max(1, Dim(a, Rank(a) - 1));
            }
            case "GRU" or "LSTM" or "RNN":
            {
                var x = Operand(n, 0);
                double steps = Dim(x, 0), batch = Dim(x, 1);
                return Math.Max(1, steps) * Math.Max(1, batch) * (Elements(Operand(n, 1)) + Elements(Operand(n, 2)));
            }
            case "Einsum":
                return outElems * Math.Max(1, n.Inputs.Sum(v => Math.Max(1, Elements(v))) / Math.Max(1, outElems));
            default:
                return n.Outputs.Count > 0 && IsFloat(n.Outputs[0]) ? outElems : 0;
        }
    }

    private static int ActivationBits(Node n)
    {
        switch (PrecisionAnnotations.PrecisionOf(n))
        {
            case PrecisionAnnotations.Bf16 or PrecisionAnnotations.Fp16: return 16;
            case "int8" or "uint8" or "i8": return 8;
            case PrecisionAnnotations.Fp32: return 32;
        }
        foreach (var v in n.Outputs)
            if (v.ElementType is { } t && IsFloatType(t)) return Bits(t);
        foreach (var v in n.Inputs)
            if (v?.ElementType is { } t && t != DataType.Undefined) return Bits(t);
        return 0;
    }

    private static int ParameterBits(Node n, int activationBits)
    {
        for (int i = 1; i < n.Inputs.Count; i++)
        {
            var v = Outermost(n.Inputs[i]);
            if (v?.Constant is not null && v.Type is TensorType { Shape.Rank: >= 2 } tt && tt.ElementType != DataType.Undefined)
                return Bits(tt.ElementType);
        }
        return activationBits;
    }

    private static Value? Outermost(Value? v)
    {
        while (v is { Kind: ValueKind.Capture, Outer: { } o }) v = o;
        return v;
    }

    private static int Bits(DataType t) => t switch
    {
        DataType.Float or DataType.Int32 or DataType.UInt32 => 32,
        DataType.Double or DataType.Int64 or DataType.UInt64 => 64,
        DataType.BFloat16 or DataType.Float16 or DataType.Int16 or DataType.UInt16 => 16,
        DataType.Int8 or DataType.UInt8 or DataType.Bool => 8,
        _ => 32,
    };

    private static bool IsFloatType(DataType t) => t is DataType.Float or DataType.Double or DataType.BFloat16 or DataType.Float16;

    private static bool IsFloat(Value v) => v.ElementType is { } t && IsFloatType(t);

    private static Value? Operand(Node n, int i) => i < n.Inputs.Count ? n.Inputs[i] : null;

    private static int Rank(Value? v) => (v?.Type as TensorType)?.Shape?.Rank ?? 0;

    private static double Dim(Value? v, int i)
    {
        if (v?.Type is not TensorType { Shape: { } s } || i < 0 || i >= s.Rank) return 0;
        return s[i].Size ?? 1;
    }

    private static double Elements(Value? v)
    {
        if (v?.Type is not TensorType { Shape: { } s }) return 0;
        double e = 1;
        foreach (var d in s.Dims) e *= d.Size ?? 1;
        return e;
    }
}
