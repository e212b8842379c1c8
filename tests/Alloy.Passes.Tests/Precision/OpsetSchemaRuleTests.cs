using Alloy.IR;
using Alloy.Passes.Precision;
using Alloy.Pipeline;
using Xunit;
using static Alloy.Passes.Tests.Precision.PrecisionTestKit;

namespace Alloy.Passes.Tests.Precision;

/// <summary>The opset schema rule of mark-bf16 / mark-fp16: nodes whose op does not admit the low type at the model's opset stay FP32.</summary>
public sealed class OpsetSchemaRuleTests
{
    private static string Cnn(long opset) => $$$"""
        module {ir_version = 8, opsets = {"" = {{{opset}}}}}
        graph @cnn(%x: f32[N,4,8,8]) -> (%y: f32[N,4]) {
          %w = const f32[4,4,1,1] dense<sha256:5555555555555555, 64 bytes>
          %w2 = const f32[4,4] dense<sha256:6666666666666666, 64 bytes>
          %c = Conv %x, %w {kernel_shape = [1, 1]} : f32[N,4,8,8] loc("conv")
          %r = Relu %c : f32[N,4,8,8] loc("relu")
          %p = GlobalAveragePool %r : f32[N,4,1,1] loc("gap")
          %f = Flatten %p {axis = 1} : f32[N,4] loc("flatten")
          %y = MatMul %f, %w2 : f32[N,4] loc("mm")
          return %y
        }
        """;

    [Fact]
    public void ConvAtOpset17StaysFp32WithTheSchemaReason()
    {
        var (m, report) = Run("mark-bf16,propagate-bf16", Cnn(17));
        Assert.Equal(("deny", "schema_opset", "fp32"), (Color(m, "conv"), Why(m, "conv"), Prec(m, "conv")));
        Assert.Equal(("deny", "schema_opset"), (Color(m, "gap"), Why(m, "gap")));
        Assert.Equal(("bf16", "allow_list"), (Prec(m, "mm"), Why(m, "mm")));
        Assert.Equal(2, Stat(report, "mark-bf16", "schema-opset"));
        Assert.Equal(2, Stat(report, "propagate-bf16", "fp32-schema-opset"));
        var note = Assert.Single(report.Diagnostics, d => d.Node is { } n && n.EndsWith("'conv'", StringComparison.Ordinal));
        Assert.Equal(DiagnosticSeverity.Note, note.Severity);
        Assert.Equal("kept FP32 (schema): Conv admits bfloat16 from opset 22 (model opset 17)", note.Message);
    }

    [Fact]
    public void ConvAtOpset22RunsBf16()
    {
        var (m, report) = Run("mark-bf16,propagate-bf16", Cnn(22));
        Assert.Equal(("allow", "allow_list", "bf16"), (Color(m, "conv"), Why(m, "conv"), Prec(m, "conv")));
        Assert.Equal("bf16", Prec(m, "gap"));
        Assert.Equal(0, Stat(report, "mark-bf16", "schema-opset"));
    }

    [Fact]
    public void SchemaAlloyIgnoresTheOpset()
    {
        var (m, report) = Run("mark-bf16(schema=alloy),propagate-bf16", Cnn(13));
        Assert.Equal(("allow", "bf16"), (Color(m, "conv"), Prec(m, "conv")));
        Assert.Equal(0, Stat(report, "mark-bf16", "schema-opset"));
    }

    [Fact]
    public void Fp16AdmitsConvAtEveryOpset()
    {
        var (m, _) = Run("mark-fp16,propagate-fp16", Cnn(11));
        Assert.Equal(("allow", "fp16"), (Color(m, "conv"), Prec(m, "conv")));
    }

    [Fact]
    public void ModelWithoutDefaultOpsetIsNotChecked()
    {
        var text = Cnn(17);
        text = text[(text.IndexOf('\n') + 1)..];
        var (m, _) = Run("mark-bf16", text);
        Assert.Equal("allow", Color(m, "conv"));
    }

    [Fact]
    public void LowOverrideThatTheSchemaForbidsWarns()
    {
        var (m, report) = Run("mark-bf16(low-ops=Conv)", Cnn(17));
        Assert.Equal("schema_opset", Why(m, "conv"));
        var warning = Assert.Single(report.Diagnostics, d => d.Severity == DiagnosticSeverity.Warning);
        Assert.Equal("low-precision override ignored (schema=onnx): Conv admits bfloat16 from opset 22 (model opset 17)", warning.Message);
    }

    [Fact]
    public void BadSchemaOptionIsASyntaxError()
    {
        var e = Assert.Throws<PipelineSyntaxException>(() => Run("mark-bf16(schema=tensorrt)", Cnn(17)));
        Assert.Contains("option 'schema' must be onnx or alloy, not 'tensorrt'", e.Message);
    }

    [Theory]
    [InlineData("Conv", 17, "Conv admits bfloat16 from opset 22 (model opset 17)")]
    [InlineData("Einsum", 22, "Einsum does not admit bfloat16 in any opset through 23 (model opset 22)")]
    [InlineData("Frobnicate", 22, "Frobnicate: Alloy has no ONNX type facts for this op, so it is not known to admit bfloat16 (model opset 22)")]
    [InlineData("MatMul", 13, null)]
    public void RejectionReasons(string op, long opset, string? expected)
    {
        var model = IrParser.ParseModel($$"""
            graph @g(%x: f32[4]) -> (%y: f32[4]) {
              %y = {{op}} %x : f32[4] loc("n")
              return %y
            }
            """);
        Assert.Equal(expected, OpsetSchemaRule.Rejects(Node(model, "n"), DataType.BFloat16, opset));
    }
}
