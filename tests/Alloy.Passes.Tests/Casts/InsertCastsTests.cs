using Alloy.IR;
using Alloy.Passes.Casts;
using Alloy.Passes.Precision;
using Alloy.Pipeline;
using Xunit;
using static Alloy.Passes.Tests.Casts.CastTestKit;

namespace Alloy.Passes.Tests.Casts;

public sealed class InsertCastsTests
{
    /// <summary>Documented tolerance of a BF16 model against its FP32 original (relative to the largest output magnitude).</summary>
    public const double Bf16Tolerance = 1e-2;
    /// <summary>The same for FP16 (10 fraction bits against bf16's 7).</summary>
    public const double Fp16Tolerance = 2e-3;

    public static TheoryData<string> GoldenNames()
    {
        var data = new TheoryData<string>();
        foreach (var c in GoldenCases(InsertCastsPass.PassId)) data.Add(c.Name);
        return data;
    }

    /// <summary>
    /// The golden graphs run within the BF16/FP16 tolerance of their FP32 originals on random inputs (the
    /// shared-constant case converts 3e38 to f16 on purpose: its fp16 output is infinite and is left out).
    /// </summary>
    [Theory]
    [MemberData(nameof(GoldenNames))]
    public void OutputsStayWithinLowPrecisionTolerance(string name)
    {
        var (run, body) = Golden(InsertCastsPass.PassId, name);
        var fp32 = Parse(body);
        var low = Parse(body);
        Run(low, run);
        bool hasFp16 = body.Contains("prec = fp16", StringComparison.Ordinal);
        bool hasBf16 = body.Contains("prec = bf16", StringComparison.Ordinal);
        double tolerance = hasBf16 ? Bf16Tolerance : hasFp16 ? Fp16Tolerance : 0;
        for (int seed = 0; seed < 4; seed++)
        {
            var inputs = RandomInputs(fp32, seed);
            var lowInputs = RandomInputs(low, seed); // same values, rounded where keep-io-types=false made inputs low
            var expected = Execute(fp32, inputs);
            var actual = Execute(low, lowInputs);
            for (int i = 0; i < expected.Length; i++)
            {
                if (name == "shared-constant" && fp32.Graph.Outputs[i].Name == "v") continue;
                double err = RelativeError(actual[i], expected[i]);
                Assert.True(err <= tolerance, $"{name}: output {fp32.Graph.Outputs[i].Name} relative error {err:G3} > {tolerance} (seed {seed})");
            }
        }
    }

    [Fact]
    public void Fp16GraphStaysWithinFp16Tolerance()
    {
        const string text = """
            module {ir_version = 8, opsets = {"" = 17}}

            graph @g(%x: f32[N,8]) -> (%y: f32[N,4]) {
              %w = const f32[8,4] dense<[0.5, -0.25, 0.125, 1.5, -1.0, 0.75, 0.3, -0.6, 0.2, 0.9, -0.45, 0.05, 1.1, -0.8, 0.6, 0.35, -0.15, 0.4, 0.95, -1.2, 0.7, -0.3, 0.25, 0.85, 0.1, -0.5, 0.65, -0.9, 0.55, 0.45, -0.7, 0.15]>
              %0 = MatMul %x, %w {prec = fp16} : f32[N,4]
              %1 = Relu %0 {prec = fp16} : f32[N,4]
              %y = Softmax %1 {axis = 1, prec = fp32} : f32[N,4]
              return %y
            }
            """;
        var fp32 = Parse(text);
        var low = Parse(text);
        Run(low, "insert-casts");
        Assert.Equal(DataType.Float16, low.Graph.Constants.Single().ElementType);
        for (int seed = 0; seed < 8; seed++)
        {
            var inputs = RandomInputs(fp32, seed);
            double err = RelativeError(Execute(low, inputs)[0], Execute(fp32, inputs)[0]);
            Assert.True(err <= Fp16Tolerance, $"relative error {err:G3}");
        }
    }

    [Fact]
    public void PositiveCaseStatistics()
    {
        var model = Parse(Golden(InsertCastsPass.PassId, "positive").Body);
        var report = Run(model, "insert-casts");
        Assert.Equal(2, Stat(report, "insert-casts", "casts-inserted"));       // %x in, %y out
        Assert.Equal(2, Stat(report, "insert-casts", "constants-converted"));  // %w, %b
        Assert.Equal(3, Stat(report, "insert-casts", "nodes-retyped"));
        Assert.True(report.Passes[0].Changed);
        Assert.All(report.Passes[0].Statistics, s => Assert.False(string.IsNullOrWhiteSpace(s.Description)));
    }

    [Fact]
    public void UnchangedCaseReportsNoChange()
    {
        var (_, body) = Golden(InsertCastsPass.PassId, "unchanged");
        var model = Parse(body);
        var report = Run(model, "insert-casts");
        Assert.False(report.Passes[0].Changed);
        Assert.Equal(IrPrinter.Print(Parse(body)), IrPrinter.Print(model));
    }

    /// <summary>After insert-casts every golden graph has consistent types, one Cast per (value, type, graph), no Cast of a constant, and fp32 I/O.</summary>
    [Theory]
    [MemberData(nameof(GoldenNames))]
    public void ResultIsTypeConsistent(string name)
    {
        var (run, body) = Golden(InsertCastsPass.PassId, name);
        var original = Parse(body);
        var model = Parse(body);
        Run(model, run);
        Assert.Empty(Verifier.Verify(model));

        foreach (var g in model.Graph.SelfAndSubgraphs())
        {
            var casts = g.Nodes.Where(n => n.OpType == "Cast").Select(n => (n.Inputs[0], n.GetInt("to", 0))).ToList();
            Assert.True(casts.Distinct().Count() == casts.Count, $"{name}: two Casts of one value to one type in graph {g.Name}");
            Assert.DoesNotContain(g.Nodes, n => n.OpType == "Cast" && n.Inputs[0] is { Kind: ValueKind.Constant });
            foreach (var c in g.Captures) Assert.Equal(c.Outer!.Type, c.Type);
            foreach (var n in g.Nodes)
            {
                var low = PrecisionAnnotations.PrecisionOf(n) switch { "bf16" => DataType.BFloat16, "fp16" => DataType.Float16, _ => (DataType?)null };
                if (low is { } l && n.OpType is not ("Cast" or "Loop" or "Scan" or "Resize"))
                    foreach (var v in n.Inputs.Concat(n.Outputs))
                        if (v?.Type is TensorType { ElementType: var e } && e.Facts().IsFloat) Assert.Equal(l, e);
                if (low is null && n.OpType != "Cast")
                    foreach (var v in n.Inputs)
                        if (v?.Type is TensorType { ElementType: DataType.BFloat16 or DataType.Float16 }) Assert.Fail($"{name}: fp32 node {n} reads {v.Type}");
                if (n.OpType == "If")
                    foreach (var body2 in n.Subgraphs)
                        Assert.Equal(n.Outputs.Select(o => o.Type), body2.Outputs.Select(o => o.Type));
                if (n.OpType == "Loop")
                {
                    var loopBody = n.Subgraphs.Single();
                    Assert.Equal(n.Inputs.Skip(2).Select(v => v!.Type), loopBody.Inputs.Skip(2).Select(v => v.Type));
                    Assert.Equal(n.Outputs.Select(o => o.Type), loopBody.Outputs.Skip(1).Select(o => o.Type));
                }
            }
        }
        if (!run.Contains("keep-io-types=false", StringComparison.Ordinal))
        {
            Assert.Equal(original.Graph.Inputs.Select(v => (v.Name, v.Type)), model.Graph.Inputs.Select(v => (v.Name, v.Type)));
            Assert.Equal(original.Graph.Outputs.Select(v => (v.Name, v.Type)), model.Graph.Outputs.Select(v => (v.Name, v.Type)));
        }
    }

    [Fact]
    public void ResizeScalesAndRoiStayFp32()
    {
        var model = Parse(Golden(InsertCastsPass.PassId, "resize").Body);
        Run(model, "insert-casts");
        var resize = model.Graph.Nodes.Single(n => n.OpType == "Resize");
        Assert.Equal(DataType.BFloat16, CastGraphElem(resize.Inputs[0]));
        Assert.Equal(DataType.Float, CastGraphElem(resize.Inputs[1]));
        Assert.Equal(DataType.Float, CastGraphElem(resize.Inputs[2]));
        Assert.Equal(ValueKind.Constant, resize.Inputs[2]!.Kind);
        Assert.Equal("scales", resize.Inputs[2]!.Name);
    }

    private static DataType? CastGraphElem(Value? v) => (v?.Type as TensorType)?.ElementType;

    [Fact]
    public void FanOutToMixedConsumersSharesOneCastEachWay()
    {
        var model = Parse(Golden(InsertCastsPass.PassId, "fanout-mixed").Body);
        var report = Run(model, "insert-casts");
        var g = model.Graph;
        // %x feeds two bf16 nodes through one Cast; %2 feeds two fp32 nodes through one Cast; 4 outputs go back to f32.
        Assert.Single(g.Nodes, n => n.OpType == "Cast" && n.Inputs[0]!.Name == "x");
        Assert.Single(g.Nodes, n => n.OpType == "Cast" && n.Inputs[0]!.Name == "2");
        var toF32 = g.Nodes.Single(n => n.OpType == "Cast" && n.Inputs[0]!.Name == "2").Outputs[0];
        Assert.Equal(2, toF32.Uses.Count);
        Assert.Equal(4, Stat(report, "insert-casts", "casts-inserted"));
    }

    [Fact]
    public void SharedConstantIsConvertedOncePerTypeAndOverflowIsReported()
    {
        var model = Parse(Golden(InsertCastsPass.PassId, "shared-constant").Body);
        var report = Run(model, "insert-casts");
        Assert.Equal(3, Stat(report, "insert-casts", "constants-converted")); // %w → bf16, %k → bf16 and f16
        var wBf16 = model.Graph.Constants.Single(c => c.Name == "w_bf16");
        Assert.Equal(2, wBf16.Uses.Count);
        Assert.Contains(model.Graph.Constants, c => c.Name == "w" && c.ElementType == DataType.Float); // the fp32 MatMul still reads it
        Assert.DoesNotContain(model.Graph.Constants, c => c.Name == "k");
        Assert.Contains(report.Diagnostics, d => d.Severity == DiagnosticSeverity.Warning && d.Message.Contains("infinity", StringComparison.Ordinal));
    }

    [Fact]
    public void ExistingCastsAreRetargetedNotStacked()
    {
        var model = Parse(Golden(InsertCastsPass.PassId, "existing-casts").Body);
        var report = Run(model, "insert-casts");
        var g = model.Graph;
        // Relu(fp16) reads the f16 input directly (the Cast to f32 is gone); the bf16 Cast of i8 now casts to bf16.
        Assert.Equal("h", g.Nodes.Single(n => n.OpType == "Relu").Inputs[0]!.Name);
        Assert.Equal((long)DataType.BFloat16, g.Nodes.Single(n => n.OpType == "Cast" && n.Inputs[0]!.Name == "i").GetInt("to", 0));
        Assert.True(Stat(report, "insert-casts", "casts-retargeted") >= 3);
        Assert.Empty(CastAudit.Scan(model).ExactPairs);
    }

    [Fact]
    public void UnknownOperandTypeIsReportedAndLeft()
    {
        const string text = """
            module {ir_version = 8, opsets = {"" = 17}}

            graph @g(%x: f32[4]) -> (%y) {
              %0 = Foo %x : ?
              %y = Relu %0 {prec = bf16} : ?
              return %y
            }
            """;
        var model = Parse(text);
        var report = Run(model, "insert-casts");
        Assert.Equal(1, Stat(report, "insert-casts", "unknown-operand-types"));
        Assert.Contains(report.Diagnostics, d => d.Severity == DiagnosticSeverity.Warning && d.Message.Contains("no known element type", StringComparison.Ordinal));
        Assert.Equal("0", model.Graph.Nodes.Single(n => n.OpType == "Relu").Inputs[0]!.Name);
    }

    [Fact]
    public void RunningTwiceChangesNothing()
    {
        foreach (var (name, run, body) in GoldenCases(InsertCastsPass.PassId))
        {
            var model = Parse(body);
            Run(model, run);
            var once = IrPrinter.Print(model);
            var report = Run(model, run);
            Assert.False(report.Passes[0].Changed, $"{name}: second run changed the IR");
            Assert.Equal(once, IrPrinter.Print(model));
        }
    }

    [Fact]
    public void CapturedConstantIsConvertedOnceAndTheFp32CopyGoes()
    {
        var model = Parse(Golden(InsertCastsPass.PassId, "loop-body").Body);
        Run(model, "insert-casts");
        var w = model.Graph.Constants.Single(c => c.Name == "w");
        Assert.Equal(DataType.BFloat16, w.Constant!.ElementType);
        Assert.DoesNotContain(model.Graph.Constants, c => c.Name != "w" && c.Name != "true");
    }

    [Fact]
    public void UnknownOptionIsRejected()
    {
        Assert.Throws<PipelineSyntaxException>(() => StandardPasses.CreateRegistry().Build("insert-casts(keep-io=false)"));
        Assert.Throws<PipelineSyntaxException>(() => StandardPasses.CreateRegistry().Build("fold-casts(lossy=true)"));
    }
}
