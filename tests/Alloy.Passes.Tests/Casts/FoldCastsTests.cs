using System.Globalization;
using Alloy.IR;
using Alloy.Passes.Casts;
using Alloy.Runtime;
using Xunit;
using static Alloy.Passes.Tests.Casts.CastTestKit;

namespace Alloy.Passes.Tests.Casts;

public sealed class FoldCastsTests
{
    public static TheoryData<string> GoldenNames()
    {
        var data = new TheoryData<string>();
        foreach (var c in GoldenCases(FoldCastsPass.PassId))
            if (!c.Run.Contains("fold-lossy", StringComparison.Ordinal)) data.Add(c.Name);
        return data;
    }

    /// <summary>fold-casts is exact: every golden case gives bit-identical outputs before and after, on random inputs.</summary>
    [Theory]
    [MemberData(nameof(GoldenNames))]
    public void OutputsAreBitIdenticalOnGoldenCases(string name)
    {
        var (run, body) = Golden(FoldCastsPass.PassId, name);
        var before = Parse(body);
        var after = Parse(body);
        // Passes before fold-casts (insert-then-fold) run on both sides: only fold-casts is compared.
        var earlier = Alloy.Pipeline.PipelineParser.Parse(run).Where(p => p.Id != FoldCastsPass.PassId).Select(p => p.ToString()).ToList();
        if (earlier.Count > 0) Run(before, string.Join(",", earlier));
        Run(after, run);
        for (int seed = 0; seed < 4; seed++)
            AssertBitIdentical(before, after, seed);
    }

    private static void AssertBitIdentical(Model before, Model after, int seed)
    {
        var inputs = RandomInputs(before, seed);
        var expected = Execute(before, inputs);
        var actual = Execute(after, inputs);
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i].Type, actual[i].Type);
            Assert.Equal(expected[i].Shape, actual[i].Shape);
            Assert.True(expected[i].Bytes.SequenceEqual(actual[i].Bytes), $"output {i} differs (seed {seed})");
        }
    }

    private static readonly DataType[] ChainTypes =
    [
        DataType.Float, DataType.Double, DataType.Float16, DataType.BFloat16, DataType.Int8, DataType.UInt8, DataType.Int16,
        DataType.Int32, DataType.Int64, DataType.Bool,
    ];

    /// <summary>
    /// Every chain x:A → Cast(B) → Cast(C) over ten types: folded exactly when B represents A (the format facts), and
    /// the folded graph gives the same bits on random data (floats with NaN, infinities, subnormals, huge values).
    /// </summary>
    [Fact]
    public void ChainsFoldExactlyWhenTheIntermediateTypeRepresentsTheSource()
    {
        int folded = 0, kept = 0;
        foreach (var a in new[] { DataType.Float, DataType.Float16, DataType.BFloat16, DataType.Int8, DataType.Int32, DataType.Bool })
            foreach (var b in ChainTypes)
                foreach (var c in ChainTypes)
                {
                    if (a == b || b == c) continue;
                    var text = $$$"""
                        module {ir_version = 8, opsets = {"" = 17}}

                        graph @chain(%x: {{{a.ShortName()}}}[16]) -> (%y: {{{c.ShortName()}}}[16]) {
                          %0 = Cast %x {to = {{{(int)b}}}} : {{{b.ShortName()}}}[16]
                          %y = Cast %0 {to = {{{(int)c}}}} : {{{c.ShortName()}}}[16]
                          return %y
                        }
                        """;
                    var model = Parse(text);
                    var report = Run(model, "fold-casts");
                    int casts = CountOps(model, "Cast");
                    if (b.RepresentsExactly(a))
                    {
                        Assert.True(casts == 1, $"{a}→{b}→{c}: exact chain not folded");
                        Assert.Equal(1, Stat(report, "fold-casts", "casts-removed-chain"));
                        folded++;
                    }
                    else
                    {
                        Assert.True(casts == 2, $"{a}→{b}→{c}: rounding chain folded");
                        Assert.Equal(1, Stat(report, "fold-casts", "lossy-chains-kept"));
                        kept++;
                    }
                    var before = Parse(text);
                    var inputs = new Dictionary<string, Tensor> { ["x"] = SpecialValues(a) };
                    var e = Execute(before, inputs)[0];
                    var r = Execute(model, inputs)[0];
                    Assert.True(e.Bytes.SequenceEqual(r.Bytes), $"{a}→{b}→{c}: folded chain gives different bits");
                }
        Assert.True(folded > 20 && kept > 20, $"folded {folded}, kept {kept}");
    }

    /// <summary>16 values of a type that exercise rounding, overflow and special values.</summary>
    private static Tensor SpecialValues(DataType t)
    {
        double[] values = [0.0, -0.0, 1.0, -2.5, 0.1, 1e-6, 3.0e-41, 65504.0, 65520.0, 3.0e38, double.PositiveInfinity, double.NegativeInfinity, double.NaN, 300.0, -129.0, 255.0];
        var type = (ElementType)(int)t;
        var tensor = Tensor.Create(type, [16]);
        var bytes = tensor.Bytes;
        for (int i = 0; i < 16; i++)
        {
            double v = values[i];
            switch (t)
            {
                case DataType.Float: BitConverter.TryWriteBytes(bytes[(i * 4)..], (float)v); break;
                case DataType.Float16: BitConverter.TryWriteBytes(bytes[(i * 2)..], (Half)v); break;
                case DataType.BFloat16: BitConverter.TryWriteBytes(bytes[(i * 2)..], Alloy.Runtime.Numerics.BFloat16.FromDouble(v).Bits); break;
                case DataType.Int8: bytes[i] = unchecked((byte)(sbyte)(double.IsFinite(v) ? Math.Clamp(v, -128, 127) : 7)); break;
                case DataType.Int32: BitConverter.TryWriteBytes(bytes[(i * 4)..], double.IsFinite(v) ? (int)Math.Clamp(v, int.MinValue, int.MaxValue) : 17 * i); break;
                case DataType.Bool: bytes[i] = (byte)(i % 3 == 0 ? 0 : 1); break;
                default: throw new NotSupportedException(t.ToString());
            }
        }
        return tensor;
    }

    [Fact]
    public void RoundingChainStaysUnlessTheUserOptsIn()
    {
        const string text = """
            module {ir_version = 8, opsets = {"" = 17}}

            graph @g(%x: f32[8]) -> (%y: f32[8]) {
              %0 = Cast %x {to = 16} : bf16[8]
              %y = Cast %0 {to = 1} : f32[8]
              return %y
            }
            """;
        var kept = Parse(text);
        var report = Run(kept, "fold-casts");
        Assert.Equal(2, CountOps(kept, "Cast"));
        Assert.Equal(1, Stat(report, "fold-casts", "lossy-chains-kept"));
        Assert.False(report.Passes[0].Changed);
        Assert.Single(CastAudit.Scan(kept).LossyPairs);

        var folded = Parse(text);
        report = Run(folded, "fold-casts(fold-lossy=true)");
        Assert.Equal(1, Stat(report, "fold-casts", "casts-removed-lossy-chain"));
        Assert.True(report.Passes[0].Changed);
    }

    [Fact]
    public void StatisticsCountEachRule()
    {
        var dup = Parse(Golden(FoldCastsPass.PassId, "duplicates").Body);
        var r = Run(dup, "fold-casts");
        Assert.Equal(2, Stat(r, "fold-casts", "casts-removed-duplicate"));
        Assert.Equal(1, Stat(r, "fold-casts", "casts-removed-noop"));

        var pos = Parse(Golden(FoldCastsPass.PassId, "positive").Body);
        r = Run(pos, "fold-casts");
        Assert.Equal(3, Stat(r, "fold-casts", "casts-removed-chain")); // f16→f32→f16: both; bf16→f32→f64: the f32 Cast

        var consts = Parse(Golden(FoldCastsPass.PassId, "constants").Body);
        r = Run(consts, "fold-casts");
        Assert.Equal(2, Stat(r, "fold-casts", "casts-removed-constant"));
        Assert.Equal(0, CountOps(consts, "Cast"));

        var dq = Parse(Golden(FoldCastsPass.PassId, "dequantize-opset23").Body);
        r = Run(dq, "fold-casts");
        Assert.Equal(1, Stat(r, "fold-casts", "casts-removed-dequantize"));

        var dq13 = Parse(Golden(FoldCastsPass.PassId, "dequantize-opset13").Body);
        r = Run(dq13, "fold-casts");
        Assert.Equal(0, Stat(r, "fold-casts", "casts-removed-dequantize"));
        Assert.False(r.Passes[0].Changed);
    }

    [Fact]
    public void FoldedGoldenCasesLeaveNothingFoldable()
    {
        foreach (var (name, run, body) in GoldenCases(FoldCastsPass.PassId))
        {
            var model = Parse(body);
            Run(model, run);
            var audit = CastAudit.Scan(model);
            Assert.True(audit.Clean, $"{name}: {string.Join("; ", audit.ExactPairs.Select(p => p.ToString()).Concat(audit.NoOps).Concat(audit.Duplicates))}");
            // A second run changes nothing.
            var again = Run(model, run);
            Assert.False(again.Passes[^1].Changed, $"{name}: fold-casts is not idempotent");
        }
    }

    /// <summary>
    /// DequantizeLinear → Cast(bf16) folds into output_dtype only when rounding the product once to bf16 equals rounding it
    /// to f32 and then to bf16 for every quantized value. A scale can be built where it does not: (q − z)·s lands just
    /// above a bf16 tie and f32 rounds it onto the tie. Random scales that do fold give bit-identical outputs.
    /// </summary>
    [Fact]
    public void DequantizeFoldsOnlyWhenProvablyExact()
    {
        // s = the f32 just above (1 + 2^-8) / 3: 3·s lies above the bf16 tie 1 + 2^-8 by less than half an f32 ulp, so
        // f32 rounds it onto the tie, which then rounds to 1 (even), while rounding once gives 1 + 2^-7.
        float tricky = DoubleRoundingScale();
        Assert.Equal(0, FoldDequantize(tricky, out _));

        var rng = new Random(7);
        int foldedCount = 0;
        for (int i = 0; i < 40; i++)
        {
            float scale = (float)(rng.NextDouble() * 0.1 + 1e-3);
            if (FoldDequantize(scale, out var pair) == 1)
            {
                foldedCount++;
                for (int seed = 0; seed < 2; seed++) AssertBitIdentical(pair.Before, pair.After, seed);
            }
        }
        Assert.True(foldedCount > 30, $"only {foldedCount} of 40 random scales folded");
    }

    private static float DoubleRoundingScale()
    {
        double tie = 1 + Math.ScaleB(1, -8);
        float s = (float)(tie / 3);
        if (3.0 * s <= tie) s = MathF.BitIncrement(s);
        double d = 3.0 * s;
        Assert.NotEqual(Alloy.Runtime.Numerics.BFloat16.FromDouble(d).Bits, Alloy.Runtime.Numerics.BFloat16.FromFloat((float)d).Bits);
        return s;
    }

    private static long FoldDequantize(float scale, out (Model Before, Model After) pair)
    {
        string text = $$$"""
            module {ir_version = 10, opsets = {"" = 23}}

            graph @dq(%q: i8[N,16]) -> (%y: bf16[N,16]) {
              %scale = const f32[] dense<[{{{scale.ToString("R", CultureInfo.InvariantCulture)}}}]>
              %0 = DequantizeLinear %q, %scale : f32[N,16]
              %y = Cast %0 {to = 16} : bf16[N,16]
              return %y
            }
            """;
        var after = Parse(text);
        var report = Run(after, "fold-casts");
        pair = (Parse(text), after);
        return Stat(report, "fold-casts", "casts-removed-dequantize");
    }

    [Fact]
    public void CastOfConstantMatchesTheRuntimeCastBitForBit()
    {
        // Every f16 and bf16 bit pattern (NaNs, infinities, subnormals) and a spread of f32 values, cast to each float type.
        var f16 = Enumerable.Range(0, 65536).Select(i => (ushort)i).ToArray();
        var rng = new Random(3);
        var f32 = Enumerable.Range(0, 4096).Select(i => i < 64 ? BitConverter.UInt32BitsToSingle((uint)i * 0x0204_0811u) : (float)((rng.NextDouble() - 0.5) * Math.Pow(2, rng.Next(-140, 130)))).ToArray();
        CheckConstantCast(DataType.Float16, [65536], Tensor.FromArray(ElementType.Float16, [65536], f16.AsSpan()));
        CheckConstantCast(DataType.BFloat16, [65536], Tensor.FromArray(ElementType.BFloat16, [65536], f16.AsSpan()));
        CheckConstantCast(DataType.Float, [4096], Tensor.FromFloats([4096], f32));
        var ints = Enumerable.Range(-2000, 4000).Select(i => i * 4099).ToArray();
        CheckConstantCast(DataType.Int32, [4000], Tensor.FromArray(ElementType.Int32, [4000], ints.AsSpan()));
    }

    private static void CheckConstantCast(DataType from, long[] dims, Tensor data)
    {
        foreach (var to in new[] { DataType.Float, DataType.Double, DataType.Float16, DataType.BFloat16 })
        {
            if (to == from) continue;
            // The model takes the data as an input and casts it at run time ...
            var runtime = new Model(new Graph("g"));
            runtime.Opsets.Add(new OpsetImport("", 17));
            var x = runtime.Graph.AddInput("x", new TensorType(from, Shape.Of(dims)));
            var n = runtime.Graph.AddNode("Cast", [x], ["y"], attributes: [Attr.Int("to", (long)to)]);
            n.Outputs[0].Type = new TensorType(to, Shape.Of(dims));
            runtime.Graph.AddOutput(n.Outputs[0]);
            var expected = Execute(runtime, new Dictionary<string, Tensor> { ["x"] = data })[0];

            // ... and as a constant that fold-casts converts offline.
            var folded = new Model(new Graph("g"));
            folded.Opsets.Add(new OpsetImport("", 17));
            var c = folded.Graph.AddConstant("c", new TensorConstant(from, [.. dims], new ArrayTensorData(data.Bytes.ToArray())));
            var m = folded.Graph.AddNode("Cast", [c], ["y"], attributes: [Attr.Int("to", (long)to)]);
            m.Outputs[0].Type = new TensorType(to, Shape.Of(dims));
            folded.Graph.AddOutput(m.Outputs[0]);
            var report = Run(folded, "fold-casts");
            Assert.Equal(1, Stat(report, "fold-casts", "casts-removed-constant"));
            Assert.Equal(0, CountOps(folded, "Cast"));
            var actual = folded.Graph.Outputs[0].Constant!.Data.AsSpan();
            Assert.True(expected.Bytes.SequenceEqual(actual), $"{from} → {to}: converted constant differs from the runtime Cast");
        }
    }

    [Fact]
    public void NoOpCastOnAGraphOutputKeepsTheOutputName()
    {
        var model = Parse(Golden(FoldCastsPass.PassId, "graph-output-names").Body);
        Run(model, "fold-casts");
        Assert.Equal(["y", "z"], model.Graph.Outputs.Select(o => o.Name));
        Assert.Equal(2, CountOps(model, "Cast")); // both read graph inputs: kept to keep the interface
    }

    [Fact]
    public void DuplicateInsideABodyMergesWithTheEnclosingCast()
    {
        var model = Parse(Golden(FoldCastsPass.PassId, "if-body").Body);
        var report = Run(model, "fold-casts");
        Assert.True(Stat(report, "fold-casts", "casts-removed-duplicate") >= 1);
        Assert.Empty(Verifier.Verify(model));
        var then = model.Graph.Nodes.Single(n => n.OpType == "If").Subgraphs.First();
        Assert.DoesNotContain(then.Nodes, n => n.OpType == "Cast" && n.Inputs[0]!.Name == "0");
    }
}
