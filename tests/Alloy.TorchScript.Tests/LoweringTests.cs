using Alloy.Backend;
using Alloy.IR;
using Alloy.Runtime;
using Alloy.Runtime.Execution;
using Alloy.Runtime.Kernels;
using Alloy.Testing;
using Xunit;

namespace Alloy.TorchScript.Tests;

/// <summary>
/// Lowering of language features on hand-written archives, each checked by running the IR against a computation
/// done here: data-dependent if / loops, tuples, strided parameter views, autocast marks.
/// </summary>
public sealed class LoweringTests
{
    private const string Header = """
        class M(Module):
          __parameters__ = []
          __buffers__ = []
          training : bool
          def forward(self: __torch__.M,
            x: Tensor) -> Tensor:

        """;

    private static float[][] Run(Model model, float[] x, long[] shape)
    {
        var plan = PlanCompiler.Compile(model, KernelRegistry.Reference());
        using var input = Tensor.FromFloats(shape, x);
        var outputs = new PlanExecutor(1).Run(plan, new Dictionary<string, Tensor> { ["x"] = input });
        try
        {
            return outputs.Select(t => t!.Span<float>().ToArray()).ToArray();
        }
        finally
        {
            foreach (var t in outputs) t?.Dispose();
        }
    }

    /// <summary>Exports to ONNX, checks it with onnx.checker and runs it in ONNX Runtime.</summary>
    private static float[][] RunOnnxRuntime(Model model, float[] x, long[] shape)
    {
        var dir = Directory.CreateTempSubdirectory("alloy-ts-ort-");
        try
        {
            var path = Path.Combine(dir.FullName, "m.onnx");
            Onnx.OnnxExporter.Save(model, path);
            Assert.Null(OnnxChecker.Check(path));
            using var session = new OnnxRuntime.OrtSession(path, 1);
            using var input = Tensor.FromFloats(shape, x);
            var outputs = session.Run(new Dictionary<string, Tensor> { ["x"] = input });
            var result = outputs.Select(t => t.Span<float>().ToArray()).ToArray();
            foreach (var t in outputs) t.Dispose();
            return result;
        }
        finally
        {
            dir.Delete(true);
        }
    }

    [Fact]
    public void DataDependentIfBecomesAnIfNode()
    {
        using var a = new TestArchive();
        a.Module(Header.TrimEnd() + """

                if bool(torch.gt(torch.sum(x), 0.)):
                  y = torch.relu(x)
                  z = 1
                else:
                  y = torch.neg(x)
                  z = 2
                return torch.mul(y, z)

            """);
        using var model = TorchScriptImporter.Load(a.Path, TorchScriptImportOptions.Parse(["x=f32[4]"]));
        var ifNode = Assert.Single(model.Graph.Nodes, n => n.OpType == "If");
        Assert.Equal(2, ifNode.Outputs.Count);
        Assert.Equal([0f, 1, 0, 3], Run(model, [-1, 1, -2, 3], [4])[0]);   // sum 1 > 0: relu(x) * 1
        Assert.Equal([2f, -2, 4, 6], Run(model, [-1, 1, -2, -3], [4])[0]); // sum -5: -x * 2
        Assert.Equal([2f, -2, 4, 6], RunOnnxRuntime(model, [-1, 1, -2, -3], [4])[0]);
    }

    [Fact]
    public void ALoopWithARunTimeTripCountBecomesALoopNode()
    {
        using var a = new TestArchive();
        a.Module(Header.TrimEnd() + """

                y = x
                n = 0
                for i in range(torch.size(x, 0)):
                  y = torch.add(y, x)
                  n = torch.add(n, i)
                return torch.mul(y, n)

            """);
        using var model = TorchScriptImporter.Load(a.Path, TorchScriptImportOptions.Parse(["x=f32[N,2]"]));
        Assert.Single(model.Graph.Nodes, n => n.OpType == "Loop");
        // N = 3: y = 4x, n = 0 + 1 + 2 = 3.
        Assert.Equal([12f, 24, 36, 48, 60, 72], Run(model, [1, 2, 3, 4, 5, 6], [3, 2])[0]);
        Assert.Equal([12f, 24, 36, 48, 60, 72], RunOnnxRuntime(model, [1, 2, 3, 4, 5, 6], [3, 2])[0]);
    }

    [Fact]
    public void ConstantConditionsAndLoopsFoldAway()
    {
        using var a = new TestArchive();
        a.Module(Header.TrimEnd() + """

                training = self.training
                if training:
                  y = torch.dropout(x, 0.5, True)
                else:
                  y = x
                for i in range(torch.sub(torch.len(torch.size(y)), 1)):
                  y = torch.add(y, 1)
                k = 0
                while torch.lt(k, 3):
                  k = torch.add(k, 1)
                return torch.mul(y, k)

            """);
        using var model = TorchScriptImporter.Load(a.Path, TorchScriptImportOptions.Parse(["x=f32[2,2]"]));
        Assert.DoesNotContain(model.Graph.Nodes, n => n.OpType is "If" or "Loop");
        Assert.Equal([6f, 9, 12, 15], Run(model, [1, 2, 3, 4], [2, 2])[0]);
    }

    [Fact]
    public void TupleResultsAreNumberedOutputs()
    {
        using var a = new TestArchive();
        a.Module(Header.TrimEnd() + """

                a, b, = torch.chunk(x, 2, 1)
                return (torch.relu(b), a)

            """);
        using var model = TorchScriptImporter.Load(a.Path, TorchScriptImportOptions.Parse(["x=f32[1,4]"]));
        Assert.Equal(["output_0", "output_1"], model.Graph.Outputs.Select(o => o.Name));
        var r = Run(model, [1, -2, -3, 4], [1, 4]);
        Assert.Equal([0f, 4], r[0]);
        Assert.Equal([1f, -2], r[1]);
    }

    [Fact]
    public void StoredParametersStayMappedAndTheTopFolderComesFromTheEntries()
    {
        using var a = new TestArchive();
        var pickle = new PickleWriter().Object("__torch__", "M", p => p.Str("training").Bool(false).Str("w").Tensor("0", 4, 0, [2, 2], [2, 1])).Stop().ToArray();
        var weights = new byte[16];
        Buffer.BlockCopy(new float[] { 1, 2, 3, 4 }, 0, weights, 0, 16);
        a.Write(new Dictionary<string, byte[]>
        {
            [".data/version"] = "10\n"u8.ToArray(),
            ["data.pkl"] = pickle,
            ["data/0"] = weights,
            ["code/__torch__.py"] = System.Text.Encoding.UTF8.GetBytes(Header.TrimEnd() + "\n    w = self.w\n    return torch.matmul(x, w)\n"),
        }, topFolder: "archive");
        using var model = TorchScriptImporter.Load(a.Path, TorchScriptImportOptions.Parse(["x=f32[1,2]"]));
        var w = Assert.Single(model.Graph.Constants, c => c.Name == "w");
        Assert.IsType<MappedTensorData>(w.Constant!.Data);
        Assert.Equal([7f, 10], Run(model, [1, 2], [1, 2])[0]);
    }

    [Fact]
    public void StridedParameterViewsAreGathered()
    {
        using var a = new TestArchive();
        // w is the transpose (stride [1, 3]) of the 3x2... storage [0..5] read as a 2x3 view starting at element 1.
        a.Module(Header.TrimEnd() + "\n    w = self.w\n    return torch.add(x, w)\n", storage: [0, 1, 2, 3, 4, 5, 6],
            attributes: p => p.Str("w").Tensor("0", 7, 1, [2, 3], [1, 2]));
        using var model = TorchScriptImporter.Load(a.Path, TorchScriptImportOptions.Parse(["x=f32[2,3]"]));
        // element (i, j) = storage[1 + i*1 + j*2]
        Assert.Equal([1f, 3, 5, 2, 4, 6], Run(model, new float[6], [2, 3])[0]);
    }

    [Fact]
    public void AutocastLeavesPrecisionMarksNotCasts()
    {
        using var a = new TestArchive();
        a.Module(Header.TrimEnd() + """

                _0 = torch._autocast_to_reduced_precision(x, False, True, 5, 15)
                y = torch.matmul(_0, _0)
                z = torch._autocast_to_full_precision(y, False, True)
                return torch.relu(z)

            """);
        using var model = TorchScriptImporter.Load(a.Path, TorchScriptImportOptions.Parse(["x=f32[2,2]"]));
        Assert.DoesNotContain(model.Graph.Nodes, n => n.OpType == "Cast");
        var matmul = Assert.Single(model.Graph.Nodes, n => n.OpType == "MatMul");
        Assert.Equal("bf16", matmul.Annotations["prec"]);
        Assert.Equal("autocast", matmul.Annotations["why"]);
        Assert.Equal("fp32", Assert.Single(model.Graph.Nodes, n => n.OpType == "Relu").Annotations["prec"]);
        Assert.Equal([7f, 10, 15, 22], Run(model, [1, 2, 3, 4], [2, 2])[0]);
    }

    [Fact]
    public void FinalClassConstantsHelpersAndKeywordArguments()
    {
        using var a = new TestArchive();
        a.Module("""
            class M(Module):
              __parameters__ = []
              __buffers__ = []
              training : bool
              scale : Final[float] = 2.5
              dims : Final[Tuple[int, int]] = (1, 0)
              def forward(self: __torch__.M,
                x: Tensor) -> Tensor:
                _0 = __torch__.helper
                y = _0(x, self.scale, )
                return torch.permute(y, [self.dims[0], self.dims[1]])
            def helper(x: Tensor,
                s: float,
                bias: Optional[float]=None) -> Tensor:
              if torch.__is__(bias, None):
                b = 1.
              else:
                b = unchecked_cast(float, bias)
              return torch.add(torch.mul(x, s), b, alpha=2)
            """);
        using var model = TorchScriptImporter.Load(a.Path, TorchScriptImportOptions.Parse(["x=f32[2,2]"]));
        // permute(2.5 x + 2): [[a, b], [c, d]] -> [[a, c], [b, d]]
        Assert.Equal([4.5f, 9.5f, 7, 12], Run(model, [1, 2, 3, 4], [2, 2])[0]);
    }
}
