using System.Diagnostics;
using System.Globalization;
using Alloy.IR;
using Alloy.Passes.Precision;
using Xunit;

namespace Alloy.Passes.Tests.Precision;

/// <summary>
/// The ONNX type-constraint table against the operator schemas of Debian's python3-onnx 1.12 (opsets 1–17): for every
/// row and every opset where the op exists, the table admits bfloat16 / float16 exactly when the named type
/// constraint of <c>onnx.defs.get_schema(op, opset)</c> (the first of the row's '|'-separated names the version has) lists the type.
/// </summary>
public sealed class OnnxTypeSupportTests
{
    private const string Python = "/usr/bin/python3";

    /// <summary>The newest opset python3-onnx 1.12 knows.</summary>
    private const int CheckedThrough = 17;

    private const string Script = """
        import sys, onnx.defs as d
        for line in sys.stdin:
            op, param = (line.rstrip('\n').split(' ') + [''])[:2]
            for v in range(1, int(sys.argv[1]) + 1):
                try:
                    s = d.get_schema(op, v)
                except Exception:
                    continue
                allowed = set()
                byname = {tc.type_param_str: tc for tc in s.type_constraints}
                for name in param.split('|'):
                    if name in byname:
                        allowed = set(byname[name].allowed_type_strs)
                        break
                print(op, v, int('tensor(bfloat16)' in allowed), int('tensor(float16)' in allowed), int('tensor(float)' in allowed))
        """;

    [Fact]
    public void EveryRowMatchesTheOnnxSchemasThroughOpset17()
    {
        var facts = RunPython();
        var mismatches = new List<string>();
        int checkedRows = 0;
        foreach (var row in OnnxTypeSupport.Rows)
        {
            var known = facts.Where(f => f.Op == row.Op).ToList();
            if (known.Count > 0) checkedRows++;
            foreach (var (op, opset, bf16, fp16, fp32) in known)
            {
                if (OnnxTypeSupport.Admits(op, DataType.BFloat16, opset) != bf16) mismatches.Add($"{op}-{opset} bfloat16: onnx says {bf16}");
                if (OnnxTypeSupport.Admits(op, DataType.Float16, opset) != fp16) mismatches.Add($"{op}-{opset} float16: onnx says {fp16}");
                // The named constraint is the float one wherever the op has float data (not for a float-less early version).
                if (row.TypeParameter.Length > 0 && (bf16 || fp16) && !fp32) mismatches.Add($"{op}-{opset}: constraint {row.TypeParameter} admits a low type but not float");
            }
        }
        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
        // Every op onnx 1.12 knows is checked (the others come from later opsets: Attention, Gelu, GroupNormalization, CenterCropPad, Mish).
        var unknownTo112 = OnnxTypeSupport.Rows.Where(r => facts.All(f => f.Op != r.Op)).Select(r => r.Op).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["Attention", "CenterCropPad", "Gelu", "GroupNormalization", "Mish"], unknownTo112);
        Assert.True(checkedRows > 140, $"only {checkedRows} rows were checked");
        // Those newer ops admit the low types only from opsets onnx 1.12 does not know.
        foreach (var op in unknownTo112)
            Assert.True(OnnxTypeSupport.Find(op)!.Bfloat16Since > CheckedThrough, op);
    }

    [Fact]
    public void EveryPolicyOpHasARow()
    {
        var missing = PrecisionPolicy.For(DataType.BFloat16).Entries.Select(e => e.OpType).Where(op => OnnxTypeSupport.Find(op) is null).ToList();
        Assert.Empty(missing);
    }

    [Theory]
    [InlineData("Conv", 17, false)]
    [InlineData("Conv", 21, false)]
    [InlineData("Conv", 22, true)]
    [InlineData("GRU", 13, false)]
    [InlineData("MatMul", 12, false)]
    [InlineData("MatMul", 13, true)]
    [InlineData("LeakyRelu", 15, false)]
    [InlineData("LeakyRelu", 16, true)]
    [InlineData("Unknown", 22, false)]
    public void AdmitsBfloat16ByOpset(string op, long opset, bool admitted) =>
        Assert.Equal(admitted, OnnxTypeSupport.Admits(op, DataType.BFloat16, opset));

    private static List<(string Op, long Opset, bool Bf16, bool Fp16, bool Fp32)> RunPython()
    {
        var psi = new ProcessStartInfo(Python)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(Script);
        psi.ArgumentList.Add(CheckedThrough.ToString(CultureInfo.InvariantCulture));
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {Python}");
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEndAsync();
        foreach (var row in OnnxTypeSupport.Rows) p.StandardInput.WriteLine($"{row.Op} {row.TypeParameter}");
        p.StandardInput.Close();
        Assert.True(p.WaitForExit(120_000), "python3-onnx did not answer within 120 s");
        Assert.True(p.ExitCode == 0, $"python3-onnx failed (run scripts/setup-test-deps.sh): {stderr.Result}");
        var list = new List<(string, long, bool, bool, bool)>();
        foreach (var line in stdout.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split(' ');
            list.Add((f[0], long.Parse(f[1], CultureInfo.InvariantCulture), f[2] == "1", f[3] == "1", f[4] == "1"));
        }
        return list;
    }
}
