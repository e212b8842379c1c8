using Alloy.IR;
using Alloy.Passes.Precision;
using Alloy.Pipeline;
using Xunit;
using static Alloy.Passes.Tests.Precision.PrecisionTestKit;

namespace Alloy.Passes.Tests.Precision;

public sealed class MarkPrecisionTests
{
    private const string Block = """
        graph @block(%x: f32[N,8]) -> (%y: f32[N,8]) {
          %w = const f32[8,8] dense<sha256:4444444444444444, 256 bytes>
          %g = const f32[8] dense<sha256:9999999999999999, 32 bytes>
          %m = MatMul %x, %w : f32[N,8] loc("enc/mm")
          %s = Softmax %m {axis = -1} : f32[N,8] loc("enc/softmax")
          %l = LayerNormalization %s, %g, %g : f32[N,8] loc("enc/ln")
          %r = Relu %l : f32[N,8] loc("enc/relu")
          %y = MatMul %r, %w : f32[N,8] loc("head/mm")
          return %y
        }
        """;

    [Fact]
    public void OverrideByOpType()
    {
        var (m, report) = Run("mark-bf16(fp32-ops=Softmax;Relu,low-ops=LayerNormalization)", Block);
        Assert.Equal(("deny", "override_op"), (Color(m, "enc/softmax"), Why(m, "enc/softmax")));
        Assert.Equal(("deny", "override_op"), (Color(m, "enc/relu"), Why(m, "enc/relu")));
        Assert.Equal(("allow", "override_op"), (Color(m, "enc/ln"), Why(m, "enc/ln")));
        Assert.Equal(("allow", "allow_list"), (Color(m, "enc/mm"), Why(m, "enc/mm")));
        Assert.Equal(3, Stat(report, "mark-bf16", "overrides"));

        var (_, propagated) = Run("mark-bf16(fp32-ops=Softmax;Relu,low-ops=LayerNormalization),propagate-bf16", Block);
        Assert.Equal(3, Stat(propagated, "propagate-bf16", "low-allow-list"));
        Assert.Equal(2, Stat(propagated, "propagate-bf16", "fp32-override-op"));
    }

    [Fact]
    public void OverrideByNameRegex()
    {
        var (m, _) = Run("mark-fp16(fp32-nodes=^head/,low-nodes=softmax$)", Block);
        Assert.Equal(("deny", "override_name"), (Color(m, "head/mm"), Why(m, "head/mm")));
        Assert.Equal(("allow", "override_name"), (Color(m, "enc/softmax"), Why(m, "enc/softmax")));
        Assert.Equal(("allow", "allow_list"), (Color(m, "enc/mm"), Why(m, "enc/mm")));
    }

    [Fact]
    public void NameOverrideBeatsOpOverrideAndFp32BeatsLow()
    {
        var options = new MarkPrecisionOptions
        {
            LowOps = new HashSet<string> { "MatMul" },
            Fp32Nodes = new System.Text.RegularExpressions.Regex("^head/(mm|x)$"),
            LowNodes = new System.Text.RegularExpressions.Regex("mm"),
        };
        var model = IrParser.ParseModel(Block);
        new PassManager([new MarkPrecisionPass(DataType.BFloat16, options)]).Run(model);
        Assert.Equal(("deny", "override_name"), (Color(model, "head/mm"), Why(model, "head/mm")));
        Assert.Equal(("allow", "override_name"), (Color(model, "enc/mm"), Why(model, "enc/mm")));
    }

    [Theory]
    [InlineData("mark-bf16(colour=red)", "has no option 'colour'")]
    [InlineData("mark-bf16(fp32-nodes=[oops)", "not a valid regular expression")]
    [InlineData("mark-bf16(fp32-ops=Relu,low-ops=Relu)", "both fp32-ops and low-ops")]
    [InlineData("mark-fp16(target=pentium)", "unknown target 'pentium'")]
    [InlineData("mark-fp16(native-only=perhaps)", "must be true or false")]
    [InlineData("mark-fp16(fp16-safe-fraction=2)", "must be in (0, 1]")]
    [InlineData("mark-fp16(ranges=/nonexistent/ranges.json)", "cannot read the ranges file")]
    [InlineData("propagate-bf16(low-tail=maybe)", "must be true or false")]
    public void BadOptionsAreReported(string pipeline, string message)
    {
        var e = Assert.Throws<PipelineSyntaxException>(() => StandardPasses.CreateRegistry().Build(pipeline));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Fp16OverflowFromARangesFile()
    {
        const string ir = """
            graph @g(%x: f32[N,8]) -> (%y: f32[N,8], %z: f32[N,8]) {
              %w = const f32[8,8] dense<sha256:4444444444444444, 256 bytes>
              %a = MatMul %x, %w : f32[N,8] loc("mm1")
              %b = Mul %a, %a : f32[N,8] loc("square")
              %c = Relu %b : f32[N,8] loc("relu")
              %y = MatMul %c, %w : f32[N,8] loc("mm2")
              %z = MatMul %a, %w : f32[N,8] loc("mm3")
              return %y, %z
            }
            """;
        using var ranges = new TempFile("""{"a": [-90.0, 120.0], "b": [0.0, 40000.0], "c": [0, 40000]}""");
        var (m, report) = Run($"mark-fp16(ranges={ranges.Path}),propagate-fp16", ir);
        Assert.Equal(("deny", "range_fp16_overflow"), (Color(m, "square"), Why(m, "square")));
        Assert.Equal(("deny", "range_fp16_overflow"), (Color(m, "relu"), Why(m, "relu")));
        Assert.Equal(("deny", "range_fp16_overflow"), (Color(m, "mm2"), Why(m, "mm2")));
        Assert.Equal(("allow", "allow_list"), (Color(m, "mm1"), Why(m, "mm1")));
        Assert.Equal("fp16", Prec(m, "mm3"));
        Assert.Equal("fp32", Prec(m, "mm2"));
        Assert.Equal(3, Stat(report, "mark-fp16", "range-rules"));
        Assert.Contains(report.Diagnostics, d => d.Message.Contains("'b' reaches 40000"));

        // 40000 is far inside bf16's range: the same file changes nothing for bf16.
        var (b, _) = Run($"mark-bf16(ranges={ranges.Path})", ir);
        Assert.Equal("infer", Color(b, "square"));
        Assert.Equal("allow", Color(b, "mm2"));

        // A larger safe fraction lets 40000 through (40000 < 0.75 x 65504).
        var (loose, _) = Run($"mark-fp16(ranges={ranges.Path},fp16-safe-fraction=0.75)", ir);
        Assert.Equal("infer", Color(loose, "square"));
    }

    [Fact]
    public void Fp16OverflowOfAWeight()
    {
        const string ir = """
            graph @g(%x: f32[N,2]) -> (%y: f32[N,2], %z: f32[N,2]) {
              %big = const f32[2,2] dense<[1.0, 40000.0, -3.0, 0.5]>
              %small = const f32[2,2] dense<[1.0, 30000.0, -3.0, 0.5]>
              %y = MatMul %x, %big : f32[N,2] loc("big")
              %z = MatMul %x, %small : f32[N,2] loc("small")
              return %y, %z
            }
            """;
        var (m, _) = Run("mark-fp16", ir);
        Assert.Equal(("deny", "range_fp16_overflow"), (Color(m, "big"), Why(m, "big")));
        Assert.Equal(("allow", "allow_list"), (Color(m, "small"), Why(m, "small")));
    }

    [Fact]
    public void Bf16IntegerValuedTensorsAbove256()
    {
        const string ir = """
            graph @g(%x: f32[N,4], %pos: i64[N,4], %flags: bool[N,4]) -> (%a: f32[N,4], %b: f32[N,4], %c: f32[N,4], %d: f32[N,4], %e: f32[N,4]) {
              %ints = const f32[4] dense<[0.0, 1.0, 300.0, -2.0]>
              %smallints = const f32[4] dense<[0.0, 1.0, 256.0, -2.0]>
              %frac = const f32[4] dense<[0.0, 1.5, 300.0, -2.0]>
              %a = Mul %x, %ints : f32[N,4] loc("ints")
              %b = Mul %x, %smallints : f32[N,4] loc("smallints")
              %c = Mul %x, %frac : f32[N,4] loc("frac")
              %p = Cast %pos {to = 1} : f32[N,4] loc("pos_to_float")
              %d = Mul %x, %p : f32[N,4] loc("positions")
              %f = Cast %flags {to = 1} : f32[N,4] loc("flags_to_float")
              %e = Mul %x, %f : f32[N,4] loc("flags")
              return %a, %b, %c, %d, %e
            }
            """;
        var (m, _) = Run("mark-bf16", ir);
        Assert.Equal(("deny", "range_bf16_integer"), (Color(m, "ints"), Why(m, "ints")));
        Assert.Equal(("infer", "infer_list"), (Color(m, "smallints"), Why(m, "smallints")));
        Assert.Equal(("infer", "infer_list"), (Color(m, "frac"), Why(m, "frac")));
        Assert.Equal(("deny", "range_bf16_integer"), (Color(m, "positions"), Why(m, "positions")));
        Assert.Equal(("infer", "infer_list"), (Color(m, "flags"), Why(m, "flags")));
        Assert.Equal(("deny", "schema_fp32"), (Color(m, "pos_to_float"), Why(m, "pos_to_float")));

        // fp16 represents integers exactly up to 2048.
        var (h, _) = Run("mark-fp16", ir);
        Assert.Equal("infer", Color(h, "ints"));
        Assert.Equal(("deny", "range_fp16_integer"), (Color(h, "positions"), Why(h, "positions")));

        // A calibrated range narrows what a Cast from int64 may hold.
        using var ranges = new TempFile("""{"p": [0, 200]}""");
        var (r, _) = Run($"mark-bf16(ranges={ranges.Path})", ir);
        Assert.Equal("infer", Color(r, "positions"));
    }

    [Fact]
    public void OverrideForcingLowPastARangeRuleWarns()
    {
        const string ir = """
            graph @g(%x: f32[N,4]) -> (%a: f32[N,4]) {
              %ints = const f32[4] dense<[0.0, 1.0, 300.0, -2.0]>
              %a = Mul %x, %ints : f32[N,4] loc("ints")
              return %a
            }
            """;
        var (m, report) = Run("mark-bf16(low-ops=Mul)", ir);
        Assert.Equal(("allow", "override_op"), (Color(m, "ints"), Why(m, "ints")));
        Assert.Contains(report.Diagnostics, d => d.Severity == DiagnosticSeverity.Warning && d.Message.Contains("range_bf16_integer"));
    }

    [Fact]
    public void KernelAvailabilityDemotesAllowToInfer()
    {
        // Every named target has (reference) kernels for every op: nothing changes.
        var (ice, _) = Run("mark-bf16(target=icelake),propagate-bf16", Block);
        Assert.Equal(("allow", "allow_list"), (Color(ice, "enc/mm"), Why(ice, "enc/mm")));
        Assert.Equal("bf16", Prec(ice, "enc/mm"));

        // Counting only native dot-product kernels, Ice Lake has none for bf16.
        var (native, report) = Run("mark-bf16(target=icelake,native-only=true),propagate-bf16", Block);
        Assert.Equal(("infer", "no_kernel"), (Color(native, "enc/mm"), Why(native, "enc/mm")));
        Assert.Equal("fp32", Prec(native, "enc/mm"));
        Assert.Equal(2, Stat(report, "mark-bf16", "no-kernel"));
        Assert.Equal(0, Stat(report, "propagate-bf16", "low-precision"));

        var (spr, _) = Run("mark-fp16(target=sapphirerapids,native-only=true),propagate-fp16", Block);
        Assert.Equal(("allow", "allow_list"), (Color(spr, "enc/mm"), Why(spr, "enc/mm")));

        // A host may pass its own predicate (for a backend without some kernels).
        var model = IrParser.ParseModel(Block);
        new PassManager([new MarkPrecisionPass(DataType.Float16, new MarkPrecisionOptions { KernelAvailable = (op, _) => op != "MatMul" })]).Run(model);
        Assert.Equal("no_kernel", Why(model, "head/mm"));
    }

    /// <summary>An allow op without a kernel still runs low between low neighbours, where that saves Casts.</summary>
    [Fact]
    public void NoKernelNodesRunLowBetweenLowNeighbours()
    {
        const string ir = """
            graph @g(%x: f32[N,8]) -> (%y: f32[N,8]) {
              %w = const f32[8,8] dense<sha256:4444444444444444, 256 bytes>
              %a = Gemm %x, %w : f32[N,8] loc("fc1")
              %b = MatMul %a, %w : f32[N,8] loc("mm")
              %y = Gemm %b, %w : f32[N,8] loc("fc2")
              return %y
            }
            """;
        var model = IrParser.ParseModel(ir);
        var options = new MarkPrecisionOptions { KernelAvailable = (op, _) => op != "MatMul" };
        new PassManager([new MarkPrecisionPass(DataType.BFloat16, options), new PropagatePrecisionPass(DataType.BFloat16)]).Run(model);
        Assert.Equal(("infer", "between_allow", "bf16"), (Color(model, "mm"), Why(model, "mm"), Prec(model, "mm")));
    }

    [Fact]
    public void UntypedImportedValuesAreTypedLocally()
    {
        const string ir = """
            graph @g(%x: f32[N,8], %ids: i64[N]) -> (%y: ?, %k: ?) {
              %w = const f32[8,8] dense<sha256:4444444444444444, 256 bytes>
              %m = MatMul %x, %w : ? loc("mm")
              %s = Shape %m : ? loc("shape")
              %one = Constant {value = i64[] dense<[1]>} : ? loc("one")
              %g = Gather %s, %one {axis = 0} : ? loc("dim")
              %k = Add %ids, %g : ? loc("int_add")
              %y = Relu %m : ? loc("relu")
              return %y, %k
            }
            """;
        var (m, _) = Run("mark-bf16", ir);
        Assert.Equal("allow", Color(m, "mm"));
        Assert.Equal("clear", Color(m, "relu"));
        Assert.Equal("clear", Color(m, "shape"));
        Assert.Null(Color(m, "dim"));
        Assert.Null(Color(m, "int_add"));
        Assert.Null(Color(m, "one"));
    }

    [Fact]
    public void MarkingTwiceChangesNothing()
    {
        var model = IrParser.ParseModel(Block);
        var pm = StandardPasses.CreateRegistry().Build("mark-bf16");
        Assert.True(pm.Run(model).Passes[0].Changed);
        Assert.False(pm.Run(model).Passes[0].Changed);
    }

    [Fact]
    public void NodesOwnedByTheInt8PartitionAreLeftAlone()
    {
        const string ir = """
            graph @g(%x: f32[N,8]) -> (%y: f32[N,8]) {
              %w = const f32[8,8] dense<sha256:4444444444444444, 256 bytes>
              %y = MatMul %x, %w {prec = int8} : f32[N,8] loc("mm")
              return %y
            }
            """;
        var (m, _) = Run("mark-bf16,propagate-bf16", ir);
        Assert.Null(Color(m, "mm"));
        Assert.Equal("int8", Prec(m, "mm"));
    }
}
