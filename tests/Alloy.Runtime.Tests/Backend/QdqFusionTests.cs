using System.Diagnostics;
using System.Runtime.InteropServices;
using Alloy.Backend;
using Alloy.IR;
using Alloy.Onnx;
using Alloy.OnnxRuntime;
using Alloy.Runtime.Execution;
using Alloy.Runtime.Kernels;
using Alloy.Runtime.Kernels.Managed;
using Alloy.Testing;
using Xunit;
using DataType = Alloy.IR.DataType;

namespace Alloy.Runtime.Tests.Backend;

/// <summary>
/// The QDQ lowering (<see cref="QdqFusion"/>): QDQ groups built with the IR API are bound to the integer kernels
/// (the plan is inspected) and give the results of the reference execution of the same graph (DequantizeLinear →
/// float op → QuantizeLinear on the reference kernels, which the reference registry runs unfused):
/// <list type="bullet">
/// <item>exactly equal for the data-movement ops on integer data and for QLinearAdd (both compute what the float
/// chain computes, see the kernels' documentation);</item>
/// <item>within one quantisation step for Conv / Gemm / MatMul groups: the integer kernel rounds the exact
/// integer sum once, the float chain rounds a float32 sum of float32 products first, so a value lying within
/// float32 rounding of a rounding boundary may land on the neighbouring step. The tests also require most
/// values (≥ 95 %) to be equal.</item>
/// </list>
/// Whole QDQ models (resnet18_w32 and mobilenet_v2_w050 quantised by <c>tests/tools/make_qdq_model.py</c>) run fused
/// and agree with ONNX Runtime running the same QDQ file.
/// </summary>
public sealed class QdqFusionTests
{
    private static readonly KernelRegistry Managed = ManagedKernels.CreateRegistry();

    // ---------------------------------------------------------------------------------------------------------
    // Groups built with the IR API

    [Theory]
    [InlineData("relu", DataType.UInt8)]
    [InlineData("none", DataType.UInt8)]
    [InlineData("clip6", DataType.UInt8)]
    [InlineData("relu", DataType.Int8)]
    public void ConvGroupRunsAsOneIntegerKernel(string activation, DataType actType)
    {
        Model Build()
        {
            var m = NewModel(out var g);
            var x = g.AddInput("x", new TensorType(actType, Shape.Of(1, 5, 9, 9)));
            var (xs, xz) = (Scalar(g, "xs", 0.02f), ZeroPoint(g, "xz", actType, actType == DataType.UInt8 ? 117 : -3));
            var dx = Dq(g, x, xs, xz, "dx");
            var wScales = Enumerable.Range(0, 7).Select(i => 0.004f + 0.001f * i).ToArray();
            var w = g.AddConstant("w", Constant(DataType.Int8, [7, 5, 3, 3], RandomBytes(7 * 5 * 9, 1)));
            var ws = g.AddConstant("ws", Floats([7], wScales));
            var wz = g.AddConstant("wz", Constant(DataType.Int8, [7], new byte[7]));
            var dw = g.AddNode("DequantizeLinear", [w, ws, wz], ["dw"], attributes: [Attr.Int("axis", 0)]).Outputs[0];
            var bias = Enumerable.Range(0, 7).Select(i => i * 331 - 1000).ToArray();
            var b = g.AddConstant("b", Constant(DataType.Int32, [7], MemoryMarshal.AsBytes(bias.AsSpan()).ToArray()));
            var bs = g.AddConstant("bs", Floats([7], wScales.Select(s => 0.02f * s).ToArray()));
            var db = g.AddNode("DequantizeLinear", [b, bs], ["db"], attributes: [Attr.Int("axis", 0)]).Outputs[0];
            var conv = g.AddNode("Conv", [dx, dw, db], ["conv"], attributes: [Attr.Ints("pads", [1, 1, 1, 1])]).Outputs[0];
            var act = activation switch
            {
                "relu" => g.AddNode("Relu", [conv], ["act"]).Outputs[0],
                "clip6" => g.AddNode("Clip", [conv, g.AddConstant("lo", Floats([], [0f])), g.AddConstant("hi", Floats([], [6f]))], ["act"]).Outputs[0],
                _ => conv,
            };
            // clip6: a range of [0, 4] so 6 saturates and the Clip acts as a Relu.
            var ys = Scalar(g, "ys", activation == "clip6" ? 4f / 255 : 0.03f);
            var yz = ZeroPoint(g, "yz", actType, activation == "clip6" ? (actType == DataType.UInt8 ? 0 : -128) : actType == DataType.UInt8 ? 100 : 5);
            var y = g.AddNode("QuantizeLinear", [act, ys, yz], ["y"]).Outputs[0];
            g.AddOutput(y);
            return m;
        }

        using var input = RandomTensor(actType, [1, 5, 9, 9], 2);
        var (fused, reference, plan) = RunBoth(Build, input);
        Assert.Equal([$"{Int8Kernels.Domain}::QLinearConv"], Ops(plan));
        Assert.Equal(activation != "none", plan.Steps[0].Node.Attributes.GetInt("relu", 0) == 1);
        AssertWithinOneStep(reference, fused, actType);
    }

    [Theory]
    [InlineData("Gemm", true)]
    [InlineData("Gemm", false)]
    [InlineData("MatMul", false)]
    public void GemmAndMatMulGroupsRunAsOneIntegerKernel(string op, bool transB)
    {
        const int rows = 3, k = 40, n = 11;
        Model Build()
        {
            var m = NewModel(out var g);
            var x = g.AddInput("x", new TensorType(DataType.UInt8, Shape.Of(rows, k)));
            var dx = Dq(g, x, Scalar(g, "xs", 0.05f), ZeroPoint(g, "xz", DataType.UInt8, 128), "dx");
            var scales = Enumerable.Range(0, n).Select(i => 0.003f + 0.0005f * i).ToArray();
            long[] wShape = transB ? [n, k] : [k, n];
            var w = g.AddConstant("w", Constant(DataType.Int8, wShape, RandomBytes(n * k, 3)));
            var dw = g.AddNode("DequantizeLinear", [w, g.AddConstant("ws", Floats([n], scales)), g.AddConstant("wz", Constant(DataType.Int8, [n], new byte[n]))],
                ["dw"], attributes: [Attr.Int("axis", transB ? 0 : 1)]).Outputs[0];
            Value result;
            if (op == "Gemm")
            {
                // A float bias: the lowering quantises it to x_scale · w_scale.
                var c = g.AddConstant("c", Floats([n], Enumerable.Range(0, n).Select(i => 0.1f * i - 0.5f).ToArray()));
                result = g.AddNode("Gemm", [dx, dw, c], ["gemm"], attributes: [Attr.Int("transB", transB ? 1 : 0)]).Outputs[0];
            }
            else result = g.AddNode("MatMul", [dx, dw], ["mm"]).Outputs[0];
            var y = g.AddNode("QuantizeLinear", [result, Scalar(g, "ys", 0.04f), ZeroPoint(g, "yz", DataType.UInt8, 120)], ["y"]).Outputs[0];
            g.AddOutput(y);
            return m;
        }

        using var input = RandomTensor(DataType.UInt8, [rows, k], 4);
        var (fused, reference, plan) = RunBoth(Build, input);
        Assert.Equal([$"{Int8Kernels.Domain}::QLinearMatMul"], Ops(plan));
        AssertWithinOneStep(reference, fused, DataType.UInt8);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ResidualAddIsExact(bool relu)
    {
        Model Build()
        {
            var m = NewModel(out var g);
            var a = g.AddInput("a", new TensorType(DataType.UInt8, Shape.Of(1, 8, 5, 5)));
            var b = g.AddInput("b", new TensorType(DataType.UInt8, Shape.Of(1, 8, 5, 5)));
            var da = Dq(g, a, Scalar(g, "as", 0.031f), ZeroPoint(g, "az", DataType.UInt8, 100), "da");
            var db = Dq(g, b, Scalar(g, "bs", 0.017f), ZeroPoint(g, "bz", DataType.UInt8, 140), "db");
            var sum = g.AddNode("Add", [da, db], ["sum"]).Outputs[0];
            if (relu) sum = g.AddNode("Relu", [sum], ["act"]).Outputs[0];
            g.AddOutput(g.AddNode("QuantizeLinear", [sum, Scalar(g, "ys", 0.05f), ZeroPoint(g, "yz", DataType.UInt8, 90)], ["y"]).Outputs[0]);
            return m;
        }
        using var a = RandomTensor(DataType.UInt8, [1, 8, 5, 5], 5);
        using var b = RandomTensor(DataType.UInt8, [1, 8, 5, 5], 6);
        var inputs = new Dictionary<string, Tensor> { ["a"] = a, ["b"] = b };
        var (fused, reference, plan) = RunBoth(Build, inputs);
        Assert.Equal([$"{Int8Kernels.Domain}::QLinearAdd"], Ops(plan));
        Assert.Equal(reference.ToArray<byte>(), fused.ToArray<byte>());
    }

    [Theory]
    [InlineData("MaxPool")]
    [InlineData("Reshape")]
    [InlineData("Transpose")]
    [InlineData("Flatten")]
    public void DataMovementRunsOnIntegerDataExactly(string op)
    {
        Model Build()
        {
            var m = NewModel(out var g);
            var x = g.AddInput("x", new TensorType(DataType.UInt8, Shape.Of(1, 4, 7, 7)));
            var dx = Dq(g, x, Scalar(g, "xs", 0.02f), ZeroPoint(g, "xz", DataType.UInt8, 77), "dx");
            var moved = op switch
            {
                "MaxPool" => g.AddNode("MaxPool", [dx], ["moved"], attributes: [Attr.Ints("kernel_shape", [3, 3]), Attr.Ints("strides", [2, 2]), Attr.Ints("pads", [1, 1, 1, 1])]),
                "Reshape" => g.AddNode("Reshape", [dx, g.AddConstant("shape", Constant(DataType.Int64, [2], MemoryMarshal.AsBytes(new long[] { 4, 49 }.AsSpan()).ToArray()))], ["moved"]),
                "Transpose" => g.AddNode("Transpose", [dx], ["moved"], attributes: [Attr.Ints("perm", [0, 2, 3, 1])]),
                _ => g.AddNode("Flatten", [dx], ["moved"]),
            };
            // The QuantizeLinear repeats the DequantizeLinear's parameters (separate constants, same values).
            g.AddOutput(g.AddNode("QuantizeLinear", [moved.Outputs[0], Scalar(g, "ys", 0.02f), ZeroPoint(g, "yz", DataType.UInt8, 77)], ["y"]).Outputs[0]);
            return m;
        }
        using var input = RandomTensor(DataType.UInt8, [1, 4, 7, 7], 7);
        var (fused, reference, plan) = RunBoth(Build, input);
        Assert.Equal([op], Ops(plan));
        Assert.Equal(ElementType.UInt8, plan.Steps[0].Node.InputTypes[0]);
        Assert.Equal(reference.Shape, fused.Shape);
        Assert.Equal(reference.ToArray<byte>(), fused.ToArray<byte>());
    }

    [Fact]
    public void GroupsThatDoNotMatchStayInFloat()
    {
        using var m = NewModel(out var g);
        var x = g.AddInput("x", new TensorType(DataType.UInt8, Shape.Of(1, 4, 6, 6)));
        var dx = Dq(g, x, Scalar(g, "xs", 0.02f), ZeroPoint(g, "xz", DataType.UInt8, 10), "dx");
        // A MaxPool whose QuantizeLinear uses another scale, and a Conv whose result is also a graph output.
        var pooled = g.AddNode("MaxPool", [dx], ["pooled"], attributes: [Attr.Ints("kernel_shape", [2, 2])]).Outputs[0];
        g.AddOutput(g.AddNode("QuantizeLinear", [pooled, Scalar(g, "ps", 0.03f), ZeroPoint(g, "pz", DataType.UInt8, 10)], ["p"]).Outputs[0]);
        var w = g.AddConstant("w", Constant(DataType.Int8, [2, 4, 1, 1], RandomBytes(8, 8)));
        var dw = g.AddNode("DequantizeLinear", [w, Scalar(g, "ws", 0.01f)], ["dw"]).Outputs[0];
        var conv = g.AddNode("Conv", [dx, dw], ["conv"]).Outputs[0];
        g.AddOutput(conv);
        g.AddOutput(g.AddNode("QuantizeLinear", [conv, Scalar(g, "ys", 0.03f)], ["y"]).Outputs[0]);
        Assert.Equal(0, QdqFusion.Apply(g).Total);
        Assert.Empty(Verifier.Verify(m));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Whole QDQ models

    [Theory]
    [InlineData("resnet18_w32")]
    [InlineData("mobilenet_v2_w050")]
    public void QdqCorpusModelsRunOnIntegerKernelsAndAgreeWithOnnxRuntime(string name)
    {
        var dir = Path.Combine(RepoPaths.CorpusModels, "untrained", name);
        var qdq = Path.Combine(Path.GetTempPath(), $"alloy-qdq-test-{Environment.ProcessId}-{name}.onnx");
        try
        {
            MakeQdq(Path.Combine(dir, $"{name}.opset13.onnx"), qdq, Path.Combine(dir, "ref_input.npy"));
            using var model = OnnxImporter.Load(qdq);
            var before = IrPrinter.Print(model);
            var plan = PlanCompiler.Compile(model, Managed);
            // The fusion works on a private copy: the caller's model (which it may export) is unchanged.
            Assert.Equal(before, IrPrinter.Print(model));
            var ops = Ops(plan);
            Assert.DoesNotContain("Conv", ops);
            Assert.DoesNotContain("Gemm", ops);
            Assert.Contains($"{Int8Kernels.Domain}::QLinearConv", ops);
            Assert.Contains($"{Int8Kernels.Domain}::QLinearMatMul", ops);
            Assert.Contains($"{Int8Kernels.Domain}::QLinearAdd", ops);
            // What stays float: the input QuantizeLinear, GlobalAveragePool between its pair, the output DequantizeLinear.
            Assert.True(ops.Count(o => o == "DequantizeLinear") <= 2, string.Join(", ", ops));

            using var input = Alloy.Runtime.IO.NpyFile.Read(Path.Combine(dir, "ref_input.npy"));
            var inputs = new Dictionary<string, Tensor> { ["input"] = input };
            var alloy = new PlanExecutor(2).Run(plan, inputs);
            using var ort = new OrtSession(qdq, 2, OrtGraphOptimization.All);
            var expected = ort.Run(inputs);
            try
            {
                var a = alloy[0]!.ToArray<float>();
                var e = expected[0].ToArray<float>();
                double dot = 0, na = 0, ne = 0;
                for (int i = 0; i < a.Length; i++) { dot += a[i] * e[i]; na += a[i] * a[i]; ne += e[i] * e[i]; }
                double cosine = dot / Math.Sqrt(na * ne);
                Assert.True(cosine >= 0.999, $"{name}: cosine {cosine} between Alloy's INT8 plan and ONNX Runtime on the QDQ model");
            }
            finally
            {
                foreach (var t in alloy) t?.Dispose();
                foreach (var t in expected) t.Dispose();
            }
        }
        finally
        {
            File.Delete(qdq);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Helpers

    internal static void MakeQdq(string model, string output, string? calib)
    {
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Path.Combine(RepoPaths.Root, "tests", "tools", "make_qdq_model.py"), model, output })
            psi.ArgumentList.Add(a);
        if (calib is not null) { psi.ArgumentList.Add("--calib"); psi.ArgumentList.Add(calib); }
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"make_qdq_model.py failed: {stdout}{stderr}");
    }

    private static (Tensor Fused, Tensor Reference, ExecutionPlan Plan) RunBoth(Func<Model> build, Tensor input) =>
        RunBoth(build, new Dictionary<string, Tensor> { ["x"] = input });

    private static (Tensor Fused, Tensor Reference, ExecutionPlan Plan) RunBoth(Func<Model> build, Dictionary<string, Tensor> inputs)
    {
        using var fusedModel = build();
        using var referenceModel = build();
        var printed = IrPrinter.Print(fusedModel);
        var plan = PlanCompiler.Compile(fusedModel, Managed);
        Assert.Equal(printed, IrPrinter.Print(fusedModel));
        var referencePlan = PlanCompiler.Compile(referenceModel, KernelRegistry.Reference());
        Assert.Contains(referencePlan.Steps, s => s.Node.OpType == "QuantizeLinear"); // the reference runs the float chain
        var fused = new PlanExecutor(2).Run(plan, inputs)[0]!;
        var reference = new PlanExecutor(1).Run(referencePlan, inputs)[0]!;
        Assert.Equal(reference.Type, fused.Type);
        return (fused, reference, plan);
    }

    private static string[] Ops(ExecutionPlan plan) =>
        plan.Steps.Select(s => s.Node.Domain.Length == 0 ? s.Node.OpType : $"{s.Node.Domain}::{s.Node.OpType}").ToArray();

    private static void AssertWithinOneStep(Tensor reference, Tensor fused, DataType type)
    {
        Assert.Equal(reference.Shape, fused.Shape);
        var r = reference.ToArray<byte>().Select(v => type == DataType.Int8 ? (int)(sbyte)v : v).ToArray();
        var f = fused.ToArray<byte>().Select(v => type == DataType.Int8 ? (int)(sbyte)v : v).ToArray();
        int equal = 0;
        for (int i = 0; i < r.Length; i++)
        {
            Assert.True(Math.Abs(r[i] - f[i]) <= 1, $"element {i}: fused {f[i]}, reference chain {r[i]}");
            if (r[i] == f[i]) equal++;
        }
        Assert.True(equal >= 0.95 * r.Length, $"only {equal} of {r.Length} values equal the reference chain");
        // The outputs must not be trivially saturated.
        Assert.True(r.Distinct().Count() > 10);
    }

    private static Model NewModel(out Graph g)
    {
        g = new Graph("qdq");
        var m = new Model(g) { IrVersion = 8 };
        m.Opsets.Add(new OpsetImport("", 17));
        return m;
    }

    private static Value Dq(Graph g, Value x, Value scale, Value zp, string name) => g.AddNode("DequantizeLinear", [x, scale, zp], [name]).Outputs[0];

    private static Value Scalar(Graph g, string name, float v) => g.AddConstant(name, Floats([], [v]));

    private static Value ZeroPoint(Graph g, string name, DataType type, int v) => g.AddConstant(name, Constant(type, [], [unchecked((byte)v)]));

    private static TensorConstant Floats(long[] dims, float[] values) => Constant(DataType.Float, dims, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    private static TensorConstant Constant(DataType type, long[] dims, byte[] bytes) => new(type, [.. dims], new ArrayTensorData(bytes));

    private static byte[] RandomBytes(int count, int seed)
    {
        var b = new byte[count];
        new Random(seed).NextBytes(b);
        return b;
    }

    private static Tensor RandomTensor(DataType type, long[] shape, int seed)
    {
        var t = Tensor.Create((ElementType)(int)type, shape);
        new Random(seed).NextBytes(t.Bytes);
        return t;
    }
}
