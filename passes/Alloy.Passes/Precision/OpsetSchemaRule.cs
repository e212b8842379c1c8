using Alloy.IR;

namespace Alloy.Passes.Precision;

/// <summary>Which type schema the output of the precision passes must satisfy (<c>schema</c> option of mark-*).</summary>
public enum TypeSchema
{
    /// <summary>Valid ONNX: a node runs low precision only where its op admits the low type at the model's opset.</summary>
    Onnx,

    /// <summary>Alloy's runtime only: every op may run in bf16/fp16, whatever the opset's schemas admit.</summary>
    Alloy,
}

/// <summary>
/// The opset schema rule of mark-bf16 / mark-fp16: a default-domain node whose op does not admit the low type at the
/// model's default-domain opset (<see cref="OnnxTypeSupport"/>) must stay FP32, or the compiled model would be
/// rejected by ONNX Runtime and <c>onnx.checker</c>. Nodes of other domains and models without a default-domain
/// opset import are not checked (no schema to check against).
/// </summary>
public static class OpsetSchemaRule
{
    /// <summary>Why <paramref name="node"/> cannot run in <paramref name="lowType"/> at <paramref name="opset"/>, or null when it can.</summary>
    public static string? Rejects(Node node, DataType lowType, long? opset)
    {
        if (opset is not { } v || !node.IsDefaultDomain) return null;
        var typeName = lowType == DataType.Float16 ? "float16" : "bfloat16";
        if (OnnxTypeSupport.Find(node.OpType) is not { } row)
            return $"{node.OpType}: Alloy has no ONNX type facts for this op, so it is not known to admit {typeName} (model opset {v})";
        if (row.SinceFor(lowType) is not { } since)
            return $"{node.OpType} does not admit {typeName} in any opset through {OnnxTypeSupport.KnownThrough} (model opset {v})";
        return v >= since ? null : $"{node.OpType} admits {typeName} from opset {since} (model opset {v})";
    }
}
