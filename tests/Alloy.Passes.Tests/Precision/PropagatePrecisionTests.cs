using Alloy.IR;
using Alloy.Passes.Precision;
using Alloy.Pipeline;
using Xunit;
using static Alloy.Passes.Tests.Precision.PrecisionTestKit;

namespace Alloy.Passes.Tests.Precision;

public sealed class PropagatePrecisionTests
{
    private const string Mlp = """
        graph @mlp(%x: f32[N,8]) -> (%y: f32[N,8]) {
          %w = const f32[8,8] dense<sha256:4444444444444444, 256 bytes>
          %b = const f32[8] dense<sha256:5555555555555555, 32 bytes>
          %h = Gemm %x, %w, %b : f32[N,8] loc("fc1")
          %r = Relu %h : f32[N,8] loc("relu")
          %e = Exp %r : f32[N,8] loc("exp")
          %a = Add %e, %r : f32[N,8] loc("add")
          %y = Gemm %a, %w, %b : f32[N,8] loc("fc2")
          return %y
        }
        """;

    [Fact]
    public void StatisticsCountNodesPerReasonAndCasts()
    {
        var (m, report) = Run("mark-bf16,propagate-bf16", Mlp);
        Assert.Equal(2, Stat(report, "mark-bf16", "painted-allow"));
        Assert.Equal(1, Stat(report, "mark-bf16", "painted-clear"));
        Assert.Equal(1, Stat(report, "mark-bf16", "painted-infer"));
        Assert.Equal(1, Stat(report, "mark-bf16", "painted-deny"));
        Assert.Equal(3, Stat(report, "propagate-bf16", "low-precision"));
        Assert.Equal(2, Stat(report, "propagate-bf16", "fp32"));
        Assert.Equal(2, Stat(report, "propagate-bf16", "low-allow-list"));
        Assert.Equal(1, Stat(report, "propagate-bf16", "low-clear-flow"));
        Assert.Equal(1, Stat(report, "propagate-bf16", "fp32-deny-list"));
        Assert.Equal(1, Stat(report, "propagate-bf16", "fp32-deny-propagation"));
        // x → fc1 (cast down), relu → exp/add (cast up, shared), add → fc2 (cast down), fc2 → output (cast up).
        Assert.Equal(4, Stat(report, "propagate-bf16", "casts-needed"));
        Assert.Equal("deny_propagation", Why(m, "add"));
        Assert.Equal("clear_flow", Why(m, "relu"));
        Assert.All(report.Passes[1].Statistics, s => Assert.False(string.IsNullOrEmpty(s.Description)));
    }

    [Fact]
    public void PropagationWithoutMarkingWarns()
    {
        var (m, report) = Run("propagate-bf16", Mlp);
        Assert.Contains(report.Diagnostics, d => d.Severity == DiagnosticSeverity.Warning && d.Message.Contains("run mark-bf16"));
        Assert.Null(Prec(m, "fc1"));
        Assert.False(report.Passes[0].Changed);
    }

    [Fact]
    public void RepeatingThePassesGivesTheSameResult()
    {
        var model = IrParser.ParseModel(Mlp);
        var pm = StandardPasses.CreateRegistry().Build("mark-fp16,propagate-fp16");
        pm.Run(model);
        var first = IrPrinter.Print(model);
        pm.Run(model);
        Assert.Equal(first, IrPrinter.Print(model));
        // propagate alone is idempotent
        Assert.False(StandardPasses.CreateRegistry().Build("propagate-fp16").Run(model).Passes[0].Changed);
    }

    /// <summary>Every float value crossing an If/Loop boundary has one precision: the body outputs, the node's results and the Loop body inputs all carry the node's prec.</summary>
    [Fact]
    public void ControlFlowBoundariesAreConsistent()
    {
        const string ir = """
            graph @g(%x: f32[4,8], %c: bool[], %n: i64[]) -> (%y: f32[4,8], %u: f32[4,8]) {
              %w = const f32[8,8] dense<sha256:4444444444444444, 256 bytes>
              %m = MatMul %x, %w : f32[4,8] loc("mm")
              %z = If %c {then_branch = graph @then() -> (%t: f32[4,8]) {
                  %t = Softmax %m {axis = -1} : f32[4,8] loc("then_softmax")
                  return %t
                }, else_branch = graph @else() -> (%e: f32[4,8]) {
                  %e = Exp %m : f32[4,8] loc("else_exp")
                  return %e
                }} : f32[4,8] loc("if")
              %y = MatMul %z, %w : f32[4,8] loc("after_if")
              %true = Constant {value = bool[] dense<[1]>} : bool[] loc("true")
              %u = Loop %n, %true, %y {body = graph @body(%i: i64[], %cin: bool[], %s: f32[4,8]) -> (%cout: bool[], %s2: f32[4,8]) {
                  %cout = Identity %cin : bool[] loc("cond")
                  %s1 = Exp %s : f32[4,8] loc("loop_exp")
                  %s2 = Add %s1, %s : f32[4,8] loc("loop_add")
                  return %cout, %s2
                }} : f32[4,8] loc("loop")
              return %y, %u
            }
            """;
        foreach (var type in new[] { "bf16", "fp16" })
        {
            var (m, _) = Run($"mark-{type},propagate-{type}", ir);
            // Both branches end in FP32 nodes, but the If sits between two MatMuls: it runs low, so both branch
            // outputs are low (insert-casts casts inside the bodies); the If result is what after_if reads.
            Assert.Equal(type, Prec(m, "if"));
            Assert.Equal("fp32", Prec(m, "else_exp"));
            Assert.Null(Color(m, "cond"));
            // The loop carries the Exp's descendant: deny propagates to loop_add, and the loop body input, the
            // carried output and the Loop result are one unit, which stays FP32 (it leads to the graph output).
            Assert.Equal("deny_propagation", Why(m, "loop_add"));
            Assert.Equal("fp32", Prec(m, "loop"));
        }
    }

    [Fact]
    public void DirectConstructionAndIds()
    {
        var mark = new MarkPrecisionPass(DataType.Float16);
        var propagate = new PropagatePrecisionPass(DataType.BFloat16, lowTail: true);
        Assert.Equal("mark-fp16", mark.Id);
        Assert.Equal("propagate-bf16", propagate.Id);
        Assert.True(propagate.LowTail);
        var ids = StandardPasses.CreateRegistry().Passes.Select(p => p.Id).ToList();
        Assert.Contains("mark-bf16", ids);
        Assert.Contains("mark-fp16", ids);
        Assert.Contains("propagate-bf16", ids);
        Assert.Contains("propagate-fp16", ids);
    }
}
