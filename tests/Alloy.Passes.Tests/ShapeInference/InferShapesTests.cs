using Alloy.IR;
using Alloy.Passes.ShapeInference;
using Alloy.Pipeline;
using Alloy.Runtime.Kernels;
using Xunit;

namespace Alloy.Passes.Tests.ShapeInference;

public sealed class InferShapesTests
{
    private static (Model Model, PipelineReport Report) Run(string ir, string pipeline = "infer-shapes")
    {
        var model = IrParser.ParseModel(ir);
        var report = InferenceHarness.Infer(model, pipeline);
        return (model, report);
    }

    private static string TypeOf(Model m, string name) => InferenceHarness.Text(m.Graph.Lookup(name)?.Type);

    private static long Stat(PipelineReport r, string name) => r.Passes[0].Statistics.Single(s => s.Name == name).Value;

    [Fact]
    public void IsRegisteredWithItsOption()
    {
        var registry = StandardPasses.CreateRegistry();
        Assert.Contains(registry.Passes, p => p.Id == "infer-shapes");
        Assert.True(((InferShapesPass)registry.Build("infer-shapes(strict=true)").Passes[0]).Strict);
        Assert.False(((InferShapesPass)registry.Build("infer-shapes").Passes[0]).Strict);
        var e = Assert.Throws<PipelineSyntaxException>(() => registry.Build("infer-shapes(bogus=1)"));
        Assert.Contains("strict", e.Message);
    }

    [Fact]
    public void EveryOpOfTheReferenceRuntimeHasARule()
    {
        var rules = InferShapesPass.Ops.ToHashSet();
        var missing = KernelRegistry.Reference().Ops.Where(o => o.Domain.Length == 0 && !rules.Contains(o.Op)).Select(o => o.Op).ToList();
        Assert.True(missing.Count == 0, "no shape rule for: " + string.Join(", ", missing));
    }

    [Fact]
    public void ContradictingDeclaredType_IsKeptAndReportedAsAWarningNamingTheNode()
    {
        const string ir = """
            graph @g(%x: f32[N,3]) -> (%y) {
              %r = Relu %x : f32[N,4] loc("relu1")
              %y = Neg %r : ?
              return %y
            }
            """;
        var (m, report) = Run(ir);
        var d = Assert.Single(report.Diagnostics);
        Assert.Equal(DiagnosticSeverity.Warning, d.Severity);
        Assert.Equal("infer-shapes", d.Pass);
        Assert.Equal("Relu 'relu1'", d.Node);
        Assert.Contains("'r' is declared f32[N,4] but infers as f32[N,3] (dimension 1 is 4 vs 3)", d.Message);
        Assert.Equal("f32[N,4]", TypeOf(m, "r"));      // never silently overwritten
        Assert.Equal("f32[N,4]", TypeOf(m, "y"));      // the declared type flows on
        Assert.Equal(1, Stat(report, "inconsistencies"));
    }

    [Theory]
    [InlineData("i64[N,3]", "element type i64 vs f32")]
    [InlineData("f32[N,3,1]", "rank 3 vs 2")]
    public void ElementTypeAndRankContradictionsAreReported(string declared, string reason)
    {
        var ir = $$"""
            graph @g(%x: f32[N,3]) -> (%y) {
              %y = Relu %x : {{declared}}
              return %y
            }
            """;
        var (m, report) = Run(ir);
        Assert.Contains(reason, Assert.Single(report.Diagnostics).Message);
        Assert.Equal(declared, TypeOf(m, "y"));
    }

    [Fact]
    public void Strict_TurnsInconsistenciesIntoErrors()
    {
        const string ir = """
            graph @g(%x: f32[2,3]) -> (%y) {
              %y = Relu %x : f32[2,4]
              return %y
            }
            """;
        var model = IrParser.ParseModel(ir);
        var e = Assert.Throws<PipelineException>(() => InferenceHarness.Infer(model, "infer-shapes(strict=true)"));
        Assert.Contains("reported errors", e.Message);
        var d = Assert.Single(e.Report.Diagnostics);
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
    }

    [Fact]
    public void ConsistentDeclaredTypes_AreKeptAndTheirUnknownDimsFilledIn()
    {
        const string ir = """
            graph @g(%x: f32[N,3]) -> (%y) {
              %a = Relu %x : f32[?,3]
              %b = Relu %a : f32[batch,?]
              %y = Relu %b : ?[*]
              return %y
            }
            """;
        var (m, report) = Run(ir);
        Assert.Empty(report.Diagnostics);
        Assert.Equal("f32[N,3]", TypeOf(m, "a"));
        Assert.Equal("f32[batch,3]", TypeOf(m, "b"));   // a declared symbol is kept
        Assert.Equal("f32[batch,3]", TypeOf(m, "y"));
        Assert.Equal(3, Stat(report, "values-typed"));
        Assert.True(report.Passes[0].Changed);
    }

    [Fact]
    public void SecondRun_ChangesNothing()
    {
        const string ir = """
            graph @g(%x: f32[N,3,8,8], %w: f32[4,3,3,3]) -> (%y) {
              %c = Conv %x, %w {pads = [1, 1, 1, 1]} : ?
              %y = GlobalAveragePool %c : ?
              return %y
            }
            """;
        var model = IrParser.ParseModel(ir);
        InferenceHarness.Infer(model);
        var first = IrPrinter.Print(model);
        var again = InferenceHarness.Infer(model);
        Assert.False(again.Passes[0].Changed);
        Assert.Equal(0, Stat(again, "values-typed"));
        Assert.Equal(first, IrPrinter.Print(model));
        Assert.Equal("f32[N,4,1,1]", TypeOf(model, "y"));
    }

    [Fact]
    public void SymbolicProducts_FlowThroughShapeComputationsAndBack()
    {
        // x [N, 8, 64] viewed as [N*4, 8, 16] heads and back, with targets computed from Shape.
        const string ir = """
            module {ir_version = 8, opsets = {"" = 17}}

            graph @g(%x: f32[N,8,64]) -> (%y) {
              %four = const i64[] dense<[4]>
              %zero = const i64[] dense<[0]>
              %one = const i64[] dense<[1]>
              %axes = const i64[1] dense<[0]>
              %rest = const i64[2] dense<[8, -1]>
              %s = Shape %x : ?
              %n = Gather %s, %zero {axis = 0} : ?
              %n4 = Mul %n, %four : ?
              %n4u = Unsqueeze %n4, %axes : ?
              %t1 = Concat %n4u, %rest {axis = 0} : ?
              %h = Reshape %x, %t1 : ?
              %nu = Unsqueeze %n, %axes : ?
              %back = const i64[2] dense<[8, 64]>
              %t2 = Concat %nu, %back {axis = 0} : ?
              %y = Reshape %h, %t2 : ?
              return %y
            }
            """;
        var (m, report) = Run(ir);
        Assert.Empty(report.Diagnostics);
        Assert.Equal("f32[4*N,8,16]", TypeOf(m, "h"));
        Assert.Equal("f32[N,8,64]", TypeOf(m, "y"));
        Assert.Equal("i64[3]", TypeOf(m, "t1"));
    }

    [Fact]
    public void BroadcastingSymbolicDims()
    {
        const string ir = """
            graph @g(%a: f32[N,1,5], %b: f32[1,T,5], %c: f32[N,T,1], %d: f32[M,5]) -> (%y, %z) {
              %y = Add %a, %b : ?
              %w = Mul %y, %c : ?
              %z = Sub %w, %d : ?
              return %y, %z
            }
            """;
        var (m, _) = Run(ir);
        Assert.Equal("f32[N,T,5]", TypeOf(m, "y"));
        Assert.Equal("f32[N,T,5]", TypeOf(m, "w"));
        Assert.Equal("f32[N,?,5]", TypeOf(m, "z"));   // T against M: not derivable
    }

    [Fact]
    public void Loop_CarriedShapeThatGrows_IsLeftUnknown_AndScanOutputsStack()
    {
        const string ir = """
            module {ir_version = 8, opsets = {"" = 17}}

            graph @g(%x: f32[2], %n: i64[]) -> (%acc, %ys, %fixed) {
              %three = const i64[] dense<[3]>
              %acc, %fixed, %ys = Loop %three, _, %x, %x {body = graph @body(%i, %c, %a, %f) -> (%c, %a2, %f2, %s) {
                  %a2 = Concat %a, %f {axis = 0} : ?
                  %f2 = Relu %f : ?
                  %s = Neg %f : ?
                  return %c, %a2, %f2, %s
                }} : ?, ?, ?
              return %acc, %ys, %fixed
            }
            """;
        var (m, report) = Run(ir);
        Assert.Empty(report.Diagnostics);
        Assert.Equal("f32[?]", TypeOf(m, "acc"));
        Assert.Equal("f32[2]", TypeOf(m, "fixed"));
        Assert.Equal("f32[3,2]", TypeOf(m, "ys"));
        var body = m.Graph.Nodes.Single().Subgraphs.Single();
        Assert.Equal("f32[?]", InferenceHarness.Text(body.Inputs[2].Type));
        Assert.Equal("f32[?]", InferenceHarness.Text(body.FindLocal("a2")!.Type));
    }

    [Fact]
    public void Scan_SlicesTheScanAxisAndStacksOutputs()
    {
        const string ir = """
            module {ir_version = 8, opsets = {"" = 17}}

            graph @g(%init: f32[N,4], %xs: f32[N,T,4]) -> (%final, %ys) {
              %final, %ys = Scan %init, %xs {body = graph @body(%s, %x) -> (%s2, %y) {
                  %s2 = Add %s, %x : ?
                  %y = ReduceSum %x {keepdims = 0} : ?
                  return %s2, %y
                }, num_scan_inputs = 1, scan_input_axes = [1], scan_output_axes = [-1]} : ?, ?
              return %final, %ys
            }
            """;
        var (m, report) = Run(ir);
        Assert.Empty(report.Diagnostics);
        Assert.Equal("f32[N,4]", TypeOf(m, "final"));
        Assert.Equal("f32[T]", TypeOf(m, "ys"));
        var body = m.Graph.Nodes.Single().Subgraphs.Single();
        Assert.Equal("f32[N,4]", InferenceHarness.Text(body.Inputs[1].Type));
        Assert.Equal("f32[]", InferenceHarness.Text(body.FindLocal("y")!.Type));
    }

    [Fact]
    public void If_WithAKnownCondition_TakesThatBranch_OtherwiseJoinsBoth()
    {
        const string ir = """
            graph @g(%x: f32[N,3], %c: bool[]) -> (%a, %b) {
              %yes = const bool[] dense<[1]>
              %a = If %c {then_branch = graph @t1() -> (%t) {
                  %t = Relu %x : ?
                  return %t
                }, else_branch = graph @e1() -> (%e) {
                  %e = Transpose %x : ?
                  return %e
                }} : ?
              %b = If %yes {then_branch = graph @t2() -> (%t) {
                  %t = Relu %x : ?
                  return %t
                }, else_branch = graph @e2() -> (%e) {
                  %e = Transpose %x : ?
                  return %e
                }} : ?
              return %a, %b
            }
            """;
        var (m, report) = Run(ir);
        Assert.Empty(report.Diagnostics);
        Assert.Equal("f32[?,?]", TypeOf(m, "a"));
        Assert.Equal("f32[N,3]", TypeOf(m, "b"));
    }

    [Fact]
    public void UnknownOps_AreLeftUntypedAndCounted()
    {
        const string ir = """
            graph @g(%x: f32[2]) -> (%y) {
              %u = com.example::Mystery %x : ?
              %y = Relu %u : ?
              return %y
            }
            """;
        var (m, report) = Run(ir);
        Assert.Equal("?", TypeOf(m, "u"));
        Assert.Equal("?", TypeOf(m, "y"));
        Assert.Equal(2, Stat(report, "untyped-results"));
    }

    [Theory]
    [InlineData("N", "4", "4*N")]
    [InlineData("4*N", "2", "8*N")]
    [InlineData("N", "T", "N*T")]
    [InlineData("T", "N", "N*T")]
    public void DimProducts(string a, string b, string expected)
    {
        static Dim D(string s) => long.TryParse(s, out var v) ? Dim.Of(v) : Dim.Named(s);
        Assert.Equal(expected, DimMath.Mul(D(a), D(b)).ToString());
        Assert.Equal(D(a), DimMath.ExactDiv(D(expected), D(b)));
    }

    [Fact]
    public void DimArithmetic_UnknownWhenNotDerivable()
    {
        Assert.True(DimMath.ExactDiv(Dim.Named("N"), Dim.Of(2)).IsUnknown);
        Assert.True(DimMath.Add(Dim.Named("N"), Dim.Named("T")).IsUnknown);
        Assert.Equal("2*N", DimMath.Add(Dim.Named("N"), Dim.Named("N")).ToString());
        Assert.True(DimMath.SameDim(Dim.Named("4*N"), Dim.Named("N*4")));
        Assert.Equal(Dim.Of(5), DimMath.Broadcast(Dim.Named("N"), Dim.Of(5)));
        Assert.Equal(Dim.Named("N"), DimMath.Broadcast(Dim.Named("N"), Dim.Of(1)));
        Assert.True(DimMath.Broadcast(Dim.Named("N"), Dim.Named("M")).IsUnknown);
    }

    [Fact]
    public void ImpossibleAttributes_LeaveTheResultUntypedWithANote()
    {
        const string ir = """
            graph @g(%x: f32[2,3]) -> (%y) {
              %y = Transpose %x {perm = [0, 1, 2]} : ? loc("bad_perm")
              return %y
            }
            """;
        var (m, report) = Run(ir);
        var d = Assert.Single(report.Diagnostics);
        Assert.Equal(DiagnosticSeverity.Note, d.Severity);
        Assert.Equal("Transpose 'bad_perm'", d.Node);
        Assert.Contains("could not infer the result types", d.Message);
        Assert.Equal("?", TypeOf(m, "y"));
    }

    [Fact]
    public void KnownValues_FromConstantNodesAndRangeOverASymbol()
    {
        const string ir = """
            module {ir_version = 8, opsets = {"" = 17}}

            graph @g(%x: f32[N,T]) -> (%pos, %e, %t) {
              %zero = Constant {value_int = 0} : ?
              %one = Constant {value_int = 1} : ?
              %s = Shape %x {start = -1} : ?
              %len = Squeeze %s : ?
              %pos = Range %zero, %len, %one : ?
              %target = Constant {value_ints = [3, 1, 1]} : ?
              %e = Expand %x, %target : ?
              %reps = Concat %s, %s {axis = 0} : ?
              %t = Tile %x, %reps : ?
              return %pos, %e, %t
            }
            """;
        var (m, report) = Run(ir);
        Assert.Empty(report.Diagnostics);
        Assert.Equal("i64[T]", TypeOf(m, "pos"));
        Assert.Equal("f32[3,N,T]", TypeOf(m, "e"));
        Assert.Equal("f32[N*T,T*T]", TypeOf(m, "t"));
    }
}
