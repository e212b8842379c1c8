using Alloy.IR;
using Alloy.Pipeline;
using Xunit;

namespace Alloy.Pipeline.Tests;

public sealed class PipelineTests
{
    /// <summary>Renames every Relu to "Rectify" and counts them.</summary>
    private sealed class RenameRelu : IPass
    {
        public string Id => "rename-relu";
        public string Description => "renames Relu";
        public void Run(Model model, PassContext context)
        {
            var renamed = context.Statistic("renamed", "Relu nodes renamed");
            foreach (var n in model.Graph.Nodes.Where(n => n.OpType == "Relu").ToList())
            {
                n.OpType = "Rectify";
                renamed.Add();
                context.MarkChanged();
            }
        }
    }

    /// <summary>Leaves the IR broken: a node whose result is used before it is defined.</summary>
    private sealed class BreakOrder : IPass
    {
        public string Id => "break-order";
        public string Description => "moves the last node first";
        public void Run(Model model, PassContext context) => model.Graph.Move(model.Graph.LastNode!, model.Graph.FirstNode);
    }

    private sealed class Complain : IPass
    {
        public string Id => "complain";
        public string Description => "reports an error";
        public void Run(Model model, PassContext context) => context.Error(model.Graph.FirstNode, "something is wrong");
    }

    private static Model Chain()
    {
        var g = new Graph("g");
        var m = new Model(g);
        var x = g.AddInput("x", new TensorType(DataType.Float, Shape.Of(2)));
        var a = g.AddNode("Relu", [x], ["a"]).Outputs[0];
        var b = g.AddNode("Neg", [a], ["b"]).Outputs[0];
        g.AddOutput(g.AddNode("Relu", [b], ["c"]).Outputs[0]);
        return m;
    }

    [Fact]
    public void ParsesPassesWithOptions()
    {
        var specs = PipelineParser.Parse("infer-shapes, insert-casts(keep-io-types=false, x), fold-casts");
        Assert.Equal(["infer-shapes", "insert-casts", "fold-casts"], specs.Select(s => s.Id));
        Assert.Equal("false", specs[1].Options["keep-io-types"]);
        Assert.Equal("true", specs[1].Options["x"]);
        Assert.Empty(specs[2].Options);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("a,,b", "expected a pass id")]
    [InlineData("a(b=1", "not closed")]
    [InlineData("a(b=1,b=2)", "given twice")]
    [InlineData("a b", "expected ','")]
    public void RejectsMalformedPipelines(string text, string fragment)
    {
        var e = Assert.Throws<PipelineSyntaxException>(() => PipelineParser.Parse(text));
        Assert.Contains(fragment, e.Message);
    }

    [Fact]
    public void UnknownPassAndUnknownOptionAreNamed()
    {
        var r = new PassRegistry();
        r.Register("rename-relu", "renames", o =>
        {
            var opts = new PassOptions("rename-relu", o);
            opts.Bool("verbose", false);
            opts.RejectUnknown();
            return new RenameRelu();
        });
        Assert.Contains("unknown pass 'nope'", Assert.Throws<PipelineSyntaxException>(() => r.Build("nope")).Message);
        Assert.Contains("has no option 'colour'", Assert.Throws<PipelineSyntaxException>(() => r.Build("rename-relu(colour=red)")).Message);
        Assert.Contains("must be true or false", Assert.Throws<PipelineSyntaxException>(() => r.Build("rename-relu(verbose=maybe)")).Message);
        Assert.Single(r.Build("rename-relu(verbose=true)").Passes);
    }

    [Fact]
    public void ReportsStatisticsTimesAndPrintsOnlyAfterChanges()
    {
        var m = Chain();
        var printed = new List<(int, string)>();
        var report = new PassManager([new RenameRelu(), new RenameRelu()]).Run(m, new PassManagerOptions
        {
            PrintIr = PrintIrMode.AfterChange,
            IrSink = (i, id, text) => printed.Add((i, text)),
        });
        Assert.Equal(2, report.Passes.Count);
        Assert.Equal(("renamed", "Relu nodes renamed", 2L), report.Passes[0].Statistics.Single());
        Assert.Equal(0L, report.Passes[1].Statistics.Single().Value);
        Assert.True(report.Passes[0].Changed);
        Assert.False(report.Passes[1].Changed);
        var only = Assert.Single(printed);
        Assert.Equal(0, only.Item1);
        Assert.Contains("Rectify", only.Item2);
        Assert.DoesNotContain("Relu", only.Item2);
    }

    [Fact]
    public void PrintsAfterEveryPassWhenAsked()
    {
        var printed = new List<string>();
        new PassManager([new RenameRelu(), new RenameRelu()]).Run(Chain(), new PassManagerOptions
        {
            PrintIr = PrintIrMode.AfterAll,
            IrSink = (_, id, _) => printed.Add(id),
        });
        Assert.Equal(["rename-relu", "rename-relu"], printed);
    }

    [Fact]
    public void VerifierStopsAPassThatBreaksTheIr()
    {
        var e = Assert.Throws<PipelineException>(() => new PassManager([new RenameRelu(), new BreakOrder()]).Run(Chain()));
        Assert.Contains("pass 'break-order' left invalid IR", e.Message);
        Assert.Contains("used before it is defined", e.Message);
        Assert.Equal(2, e.Report.Passes.Count);
    }

    [Fact]
    public void VerificationCanBeTurnedOff()
    {
        var m = Chain();
        new PassManager([new BreakOrder()]).Run(m, new PassManagerOptions { Verify = false });
        Assert.NotEmpty(Verifier.Verify(m));
    }

    [Fact]
    public void ErrorDiagnosticsStopThePipeline()
    {
        var e = Assert.Throws<PipelineException>(() => new PassManager([new Complain(), new RenameRelu()]).Run(Chain()));
        Assert.Contains("something is wrong", e.Message);
        Assert.Single(e.Report.Passes);
    }

    [Fact]
    public void CancellationIsHonoured()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.Throws<OperationCanceledException>(() => new PassManager([new RenameRelu()]).Run(Chain(), new PassManagerOptions { Cancellation = cts.Token }));
    }
}
