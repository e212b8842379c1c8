using Alloy.IR;
using Alloy.Passes.Precision;
using Alloy.Testing;
using Xunit;

namespace Alloy.Passes.Tests.Precision;

public sealed class PrecisionPolicyTests
{
    [Fact]
    public void EveryEntryHasAReasonAndBothTypesListTheSameOps()
    {
        var bf16 = PrecisionPolicy.Bf16.Entries.ToList();
        var fp16 = PrecisionPolicy.Fp16.Entries.ToList();
        Assert.Equal(bf16.Select(e => e.OpType), fp16.Select(e => e.OpType));
        Assert.All(bf16.Concat(fp16), e => Assert.False(string.IsNullOrWhiteSpace(e.Reason), e.OpType));
        Assert.Equal(bf16.Count, bf16.Select(e => e.OpType).Distinct().Count());
    }

    [Theory]
    [InlineData("MatMul"), InlineData("Gemm"), InlineData("Conv"), InlineData("ConvTranspose"), InlineData("Einsum"), InlineData("LSTM"), InlineData("GRU"), InlineData("RNN")]
    public void ContractionsAreAllowedAndAccumulateInFp32(string op)
    {
        foreach (var p in new[] { PrecisionPolicy.Bf16, PrecisionPolicy.Fp16 })
        {
            var e = p.Lookup("", op)!;
            Assert.Equal(PrecisionColor.Allow, e.Color);
            Assert.True(e.AccumulatesInF32);
        }
    }

    [Theory]
    [InlineData("Softmax", PrecisionColor.Infer, PrecisionColor.Deny)]
    [InlineData("ReduceSum", PrecisionColor.Infer, PrecisionColor.Deny)]
    [InlineData("ReduceMean", PrecisionColor.Infer, PrecisionColor.Deny)]
    [InlineData("Reciprocal", PrecisionColor.Infer, PrecisionColor.Deny)]
    [InlineData("LayerNormalization", PrecisionColor.Deny, PrecisionColor.Deny)]
    [InlineData("GroupNormalization", PrecisionColor.Deny, PrecisionColor.Deny)]
    [InlineData("InstanceNormalization", PrecisionColor.Deny, PrecisionColor.Deny)]
    [InlineData("LogSoftmax", PrecisionColor.Deny, PrecisionColor.Deny)]
    [InlineData("Exp", PrecisionColor.Deny, PrecisionColor.Deny)]
    [InlineData("Log", PrecisionColor.Deny, PrecisionColor.Deny)]
    [InlineData("Pow", PrecisionColor.Deny, PrecisionColor.Deny)]
    [InlineData("Add", PrecisionColor.Infer, PrecisionColor.Infer)]
    [InlineData("Relu", PrecisionColor.Clear, PrecisionColor.Clear)]
    [InlineData("Resize", PrecisionColor.Clear, PrecisionColor.Clear)]
    [InlineData("TopK", PrecisionColor.Clear, PrecisionColor.Clear)]
    [InlineData("Range", PrecisionColor.Deny, PrecisionColor.Deny)]
    public void ColorsPerType(string op, PrecisionColor bf16, PrecisionColor fp16)
    {
        Assert.Equal(bf16, PrecisionPolicy.Bf16.Lookup("", op)!.Color);
        Assert.Equal(fp16, PrecisionPolicy.Fp16.Lookup("", op)!.Color);
    }

    [Fact]
    public void OtherDomainsAndUnknownOpsAreUnlisted()
    {
        Assert.Null(PrecisionPolicy.Bf16.Lookup("com.microsoft", "MatMul"));
        Assert.Null(PrecisionPolicy.Bf16.Lookup("", "Sin"));
        Assert.NotNull(PrecisionPolicy.Bf16.Lookup("ai.onnx", "MatMul"));
    }

    [Fact]
    public void SchemaFixedOperands()
    {
        var g = IrParser.ParseGraph("""
            graph @g(%x: f32[1,1,2,2], %roi: f32[0], %scales: f32[4], %sizes: i64[4], %starts: i64[1], %s: f32[], %l: f32[], %d: f32[], %w: f32[2,2]) -> (%a, %b, %c, %e, %f) {
              %a = Resize %x, %roi, %scales, %sizes : f32[*]
              %b = Slice %x, %starts, %starts, %starts, %starts : f32[*]
              %c = Range %s, %l, %d : f32[*]
              %e = MatMul %w, %w : f32[2,2]
              %f = com.example::Foo %x, %scales : f32[*]
              return %a, %b, %c, %e, %f
            }
            """);
        var n = g.Nodes.ToList();
        Assert.False(PrecisionPolicy.KeepsFp32Operand(n[0], 0));
        Assert.True(PrecisionPolicy.KeepsFp32Operand(n[0], 1));
        Assert.True(PrecisionPolicy.KeepsFp32Operand(n[0], 2));
        Assert.True(PrecisionPolicy.KeepsFp32Operand(n[0], 3));
        Assert.False(PrecisionPolicy.KeepsFp32Operand(n[1], 0));
        Assert.All(Enumerable.Range(1, 4), i => Assert.True(PrecisionPolicy.KeepsFp32Operand(n[1], i)));
        Assert.All(Enumerable.Range(0, 3), i => Assert.True(PrecisionPolicy.KeepsFp32Operand(n[2], i)));
        Assert.False(PrecisionPolicy.KeepsFp32Operand(n[3], 0));
        Assert.False(PrecisionPolicy.KeepsFp32Operand(n[3], 1));
        Assert.False(PrecisionPolicy.KeepsFp32Operand(n[4], 1));
    }

    [Fact]
    public void KernelAvailabilityByTarget()
    {
        // The reference kernels run every op in both types on every target.
        foreach (var target in KernelTargets.Names)
        {
            Assert.True(KernelTargets.Availability(target)("MatMul", DataType.BFloat16));
            Assert.True(KernelTargets.Availability(target)("Conv", DataType.Float16));
        }
        // Native-only availability follows the ISA features.
        var icelake = KernelTargets.Availability("icelake", nativeOnly: true);
        var spr = KernelTargets.Availability("sapphirerapids", nativeOnly: true);
        Assert.False(icelake("MatMul", DataType.BFloat16));
        Assert.False(icelake("Conv", DataType.Float16));
        Assert.True(icelake("Relu", DataType.BFloat16));
        Assert.True(spr("MatMul", DataType.BFloat16));
        Assert.True(spr("Gemm", DataType.Float16));
        Assert.True(KernelTargets.Availability("reference", nativeOnly: true)("MatMul", DataType.Float16));
        var native = KernelTargets.Features("native");
        Assert.Equal(native.Contains("avx512_bf16") || native.Contains("amx_bf16"), KernelTargets.Availability("native", nativeOnly: true)("MatMul", DataType.BFloat16));
        Assert.Throws<ArgumentException>(() => KernelTargets.Features("pentium"));
    }

    /// <summary>docs/precision-policy.md lists every entry exactly as the code has it (generated rows).</summary>
    [Fact]
    public void PolicyDocumentMatchesTheTable()
    {
        var doc = File.ReadAllText(Path.Combine(RepoPaths.Root, "docs", "precision-policy.md"));
        foreach (var line in PolicyDocRows())
            Assert.Contains(line, doc);
    }

    internal static IEnumerable<string> PolicyDocRows()
    {
        var fp16 = PrecisionPolicy.Fp16.Entries.ToDictionary(e => e.OpType);
        foreach (var b in PrecisionPolicy.Bf16.Entries)
        {
            var f = fp16[b.OpType];
            string Word(PolicyEntry e) => e.Why == PrecisionAnnotations.Why.SchemaFp32 ? "deny (schema)" : e.Color.ToString().ToLowerInvariant();
            yield return $"| {b.OpType} | {Word(b)} | {Word(f)} | {(b.AccumulatesInF32 ? "f32" : "")} | {b.Reason} |";
        }
    }
}
