using System.Buffers.Binary;
using static Alloy.IR.Tests.TestUtil;

namespace Alloy.IR.Tests;

public class PrinterTests
{
    private static Model ReferenceModel()
    {
        var nchw = F32(Dim.Named("N"), 4, 8, 8);
        var g = new Graph("main");
        var x = g.AddInput("x", F32(Dim.Named("N"), 3, 8, 8));
        var scale = g.AddInput("scale", F32(1));
        var cond = g.AddInput("cond", new TensorType(DataType.Bool, Shape.Scalar));
        g.SetInputDefault(scale, F32Const([1], 0.5f));
        var w = g.AddConstant("w", new TensorConstant(DataType.Float, Dims(4, 3, 3, 3), new ArrayTensorData(new byte[432])));
        var k = g.AddConstant("onnx::Conv_1", I64Const([2], 1, 2));

        var conv = g.AddNode("Conv", [x, w], ["0"], attributes: [Attr.Ints("pads", 1, 1, 1, 1), Attr.Ints("strides", 1, 1)]);
        conv.Name = "conv1";
        conv.Outputs[0].Type = nchw;
        var relu = g.AddNode("Relu", [conv.Outputs[0]], ["1"]);
        relu.Annotate("prec", "bf16");
        relu.Outputs[0].Type = nchw;
        g.AddNode("Foo", [relu.Outputs[0], null, k], ["2", ""], domain: "com.microsoft", attributes: [Attr.Float("alpha", 1e-5f)]);

        var then = new Graph("then", g);
        var captured = then.Capture(relu.Outputs[0]);
        var id = then.AddNode("Identity", [captured], ["t"]);
        id.Outputs[0].Type = new TensorType(DataType.Float, null);
        then.AddOutput(id.Outputs[0]);
        var els = new Graph("else", g);
        var e = els.AddNode("Constant", [], ["e"], attributes: [new Attr("value", new TensorAttr(F32Const([], 0f)))]);
        els.AddOutput(e.Outputs[0]);
        var iff = g.AddNode("If", [cond], ["z"], attributes: [new Attr("then_branch", new GraphAttr(then)), new Attr("else_branch", new GraphAttr(els))]);
        iff.Outputs[0].Type = nchw;

        var mul = g.AddNode("Mul", [iff.Outputs[0], scale], ["y"]);
        mul.Outputs[0].Type = nchw;
        mul.Outputs[0].DocString = "result";
        g.AddOutput(mul.Outputs[0]);

        var m = new Model(g) { IrVersion = 8, ProducerName = "pytorch", ProducerVersion = "1.13.1" };
        m.Opsets.Add(new OpsetImport("", 13));
        m.Opsets.Add(new OpsetImport("com.microsoft", 1));

        var body = new Graph("MyFn");
        var a = body.AddInput("a", null);
        var b = body.AddInput("b", null);
        var add = body.AddNode("Add", [a, b], ["c"], attributes: [new Attr("alpha", new RefAttr("alpha", AttrKind.Float))]);
        body.AddOutput(add.Outputs[0]);
        var f = new Function("com.example", "MyFn", body);
        f.AttributeNames.Add("alpha");
        f.AttributeDefaults.Add(Attr.Float("beta", 1f));
        f.Opsets.Add(new OpsetImport("", 13));
        m.Functions.Add(f);
        return m;
    }

    private const string ReferenceText = """
        module {ir_version = 8, opsets = {"" = 13, "com.microsoft" = 1}, producer_name = "pytorch", producer_version = "1.13.1"}

        graph @main(%x: f32[N,3,8,8], %scale: f32[1] = dense<[0.5]>, %cond: bool[]) -> (%y: f32[N,4,8,8] doc("result")) {
          %w = const f32[4,3,3,3] dense<sha256:1fe2373734955e60, 432 bytes>
          %"onnx::Conv_1" = const i64[2] dense<[1, 2]>
          %0 = Conv %x, %w {pads = [1, 1, 1, 1], strides = [1, 1]} : f32[N,4,8,8] loc("conv1")
          %1 = Relu %0 {prec = bf16} : f32[N,4,8,8]
          %2, _ = com.microsoft::Foo %1, _, %"onnx::Conv_1" {alpha = 1e-05} : ?, ?
          %z = If %cond {then_branch = graph @then() captures(%1) -> (%t: f32[*]) {
              %t = Identity %1 : f32[*]
              return %t
            }, else_branch = graph @else() -> (%e) {
              %e = Constant {value = f32[] dense<[0.0]>} : ?
              return %e
            }} : f32[N,4,8,8]
          %y = Mul %z, %scale : f32[N,4,8,8]
          return %y
        }

        func com.example::MyFn(%a, %b) -> (%c) attrs [alpha, beta = 1.0] opsets {"" = 13} {
          %c = Add %a, %b {alpha = ref<alpha, float>} : ?
          return %c
        }

        """;

    [Fact]
    public void ReferenceModelPrintsExactly()
    {
        var m = ReferenceModel();
        Assert.Empty(Verifier.Verify(m));
        Assert.Equal(ReferenceText, IrPrinter.Print(m));
    }

    [Fact]
    public void ReferenceModelRoundTrips()
    {
        var m = RoundTripModel(ReferenceText);
        var g = m.Graph;
        Assert.Equal(["scale", "w", "onnx::Conv_1"], g.Constants.Select(c => c.Name));
        var iff = g.Nodes.Single(n => n.OpType == "If");
        var then = ((GraphAttr)iff.Attributes[0].Value).Value;
        Assert.Same(g, then.Parent);
        Assert.Same(iff, then.OwnerNode);
        Assert.Same(g.FindLocal("1"), then.Captures[0].Outer);
        var foo = g.Nodes.Single(n => n.OpType == "Foo");
        Assert.Equal("com.microsoft", foo.Domain);
        Assert.Null(foo.Inputs[1]);
        Assert.Equal("", foo.Outputs[1].Name);
        Assert.Equal(1e-5f, ((FloatAttr)foo.Attributes[0].Value).Value);
        Assert.Equal("bf16", g.Nodes.Single(n => n.OpType == "Relu").Annotations["prec"]);
        Assert.False(g.FindLocal("w")!.Constant!.Data.HasBytes);
        Assert.Equal("com.example", m.Functions[0].Domain);
        Assert.Equal(["alpha"], m.Functions[0].AttributeNames);
    }

    [Fact]
    public void PrintGraphAloneEndsWithNewline()
    {
        var g = new Graph("g");
        var x = g.AddInput("x", null);
        g.AddOutput(x);
        Assert.Equal("graph @g(%x) -> (%x) {\n  return %x\n}\n", IrPrinter.Print(g));
    }

    [Fact]
    public void LargeTensorPrintsDigestAndParsesToDigestData()
    {
        var values = Enumerable.Range(0, 100).Select(i => (float)i).ToArray();
        var g = new Graph("g");
        var c = g.AddConstant("c", F32Const([100], values));
        g.AddOutput(c);
        var text = IrPrinter.Print(g);
        Assert.Contains("%c = const f32[100] dense<sha256:817cddd35bc80c1c, 400 bytes>", text);
        var parsed = IrParser.ParseGraph(text);
        var data = parsed.FindLocal("c")!.Constant!.Data;
        Assert.IsType<DigestTensorData>(data);
        Assert.Equal(400, data.ByteLength);
        Assert.Equal(text, IrPrinter.Print(parsed));
    }

    [Fact]
    public void SixteenElementsInlineSeventeenDigest()
    {
        var g = new Graph("g");
        g.AddConstant("a", F32Const([16], new float[16]));
        var b = g.AddConstant("b", F32Const([17], new float[17]));
        g.AddOutput(b);
        var text = IrPrinter.Print(g);
        Assert.Contains("%a = const f32[16] dense<[" + string.Join(", ", Enumerable.Repeat("0.0", 16)) + "]>", text);
        Assert.Contains("%b = const f32[17] dense<sha256:", text);
    }

    [Fact]
    public void LargeStringTensorUsesDigestAndReprints()
    {
        var g = new Graph("g");
        var strings = Enumerable.Range(0, 20).Select(i => System.Text.Encoding.UTF8.GetBytes("s" + i)).ToList();
        var c = g.AddConstant("s", new TensorConstant(DataType.String, Dims(20), new StringTensorData(strings)));
        g.AddOutput(c);
        var text = IrPrinter.Print(g);
        Assert.Matches(@"%s = const str\[20\] dense<sha256:[0-9a-f]{16}, 0 bytes>", text);
        var parsed = IrParser.ParseGraph(text);
        Assert.Equal(text, IrPrinter.Print(parsed));
    }

    [Fact]
    public void FloatValuesKeepExactBits()
    {
        float[] values = [1f, -2.5e-7f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, -0f, float.Epsilon, float.MaxValue, 0.1f, 16777216f, 1e20f];
        var g = new Graph("g");
        var c = g.AddConstant("c", F32Const([values.Length], values));
        g.AddOutput(c);
        var text = IrPrinter.Print(g);
        Assert.Contains("dense<[1.0, -2.5e-07, inf, -inf, -nan, -0.0, 1e-45, 3.4028235e+38, 0.1, 16777216.0, 1e+20]>", text);
        var back = IrParser.ParseGraph(text).FindLocal("c")!.Constant!.Data.AsSpan();
        Assert.True(back.SequenceEqual(g.FindLocal("c")!.Constant!.Data.AsSpan()));
    }

    [Fact]
    public void NaNPayloadFallsBackToHexForWholeTensor()
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, 0x7FC00001);
        BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4), 1f);
        var g = new Graph("g");
        var c = g.AddConstant("c", new TensorConstant(DataType.Float, Dims(2), new ArrayTensorData(bytes)));
        g.AddOutput(c);
        var text = IrPrinter.Print(g);
        Assert.Contains("dense<0x0100C07F0000803F>", text);
        var back = IrParser.ParseGraph(text).FindLocal("c")!.Constant!.Data.AsSpan();
        Assert.True(back.SequenceEqual(bytes));
    }

    [Fact]
    public void FloatAttributeNaNPayloadRoundTripsBitExactly()
    {
        var g = new Graph("g");
        var odd = BitConverter.UInt32BitsToSingle(0xFFC00123);
        g.AddNode("Foo", [], [], attributes: [Attr.Float("a", odd), Attr.Floats("b", float.NaN, 2f)]);
        var text = IrPrinter.Print(g);
        Assert.Contains("Foo {a = nan(0xffc00123), b = [-nan, 2.0]}", text);
        var n = IrParser.ParseGraph(text).FirstNode!;
        Assert.Equal(0xFFC00123u, BitConverter.SingleToUInt32Bits(((FloatAttr)n.Attributes[0].Value).Value));
        Assert.Equal(text, IrPrinter.Print(IrParser.ParseGraph(text)));
    }

    [Fact]
    public void StringBytesThatAreNotUtf8RoundTrip()
    {
        byte[][] strings = [[0xFF, 0x00, (byte)'a'], [0xC3, 0xA9], [0xED, 0xA0, 0x80], [0xC2, 0x85, (byte)'"', (byte)'\\', (byte)'\n']];
        var g = new Graph("g");
        var c = g.AddConstant("s", new TensorConstant(DataType.String, Dims(4), new StringTensorData(strings)));
        g.AddOutput(c);
        var text = IrPrinter.Print(g);
        Assert.Contains("""dense<["\xFF\x00a", "é", "\xED\xA0\x80", "\u0085\"\\\n"]>""", text);
        var back = (StringTensorData)IrParser.ParseGraph(text).FindLocal("s")!.Constant!.Data;
        for (int i = 0; i < strings.Length; i++) Assert.Equal(strings[i], back.Strings[i]);
    }

    [Fact]
    public void InputDefaultsKeepTheirPlaceInTheConstantList()
    {
        var g = new Graph("g");
        var a = g.AddInput("a", F32(1));
        var b = g.AddInput("b", F32(1));
        g.AddConstant("k", F32Const([1], 3f));
        g.SetInputDefault(b, F32Const([1], 2f));
        g.SetInputDefault(a, F32Const([1], 1f));
        g.AddOutput(a);
        var text = IrPrinter.Print(g);
        Assert.Equal("""
            graph @g(%a: f32[1] = dense<[1.0]>, %b: f32[1] = dense<[2.0]>) -> (%a: f32[1]) {
              %k = const f32[1] dense<[3.0]>
              %b = const default
              %a = const default
              return %a
            }

            """, text);
        var parsed = IrParser.ParseGraph(text);
        Assert.Equal(["k", "b", "a"], parsed.Constants.Select(c => c.Name));
        Assert.Equal(text, IrPrinter.Print(parsed));
    }

    [Fact]
    public void RenamedAndRetypedCapturesRoundTrip()
    {
        var g = new Graph("main");
        var x = g.AddInput("x", F32(2));
        var c = g.AddInput("c", new TensorType(DataType.Bool, Shape.Scalar));
        var sub = new Graph("body", g);
        var cap = sub.Capture(x);
        sub.AddOutput(cap);
        g.AddNode("If", [c], ["y"], attributes: [new Attr("then_branch", new GraphAttr(sub)), new Attr("else_branch", new GraphAttr(new Graph("e", g)))]);
        ((GraphAttr)g.FirstNode!.Attributes[1].Value).Value.AddOutput(x);
        g.Rename(x, "x2");
        x.Type = F32(Dim.Named("N"));
        g.AddOutput(g.FirstNode.Outputs[0]);
        var m = new Model(g);
        Assert.Empty(Verifier.Verify(m));
        var text = PrintStable(m);
        Assert.Contains("captures(%x: f32[2] = %x2) -> (%x: f32[2])", text);
        Assert.Contains("graph @e() -> (%x2: f32[N])", text);
    }

    [Fact]
    public void TensorAttributeSuffixesAndAttrDocAreDistinct()
    {
        var t = new TensorConstant(DataType.Int32, Dims(), new ArrayTensorData([7, 0, 0, 0])) { Name = "t", DocString = "tensor doc", Metadata = [new("k", "v")] };
        var g = new Graph("g");
        var n = g.AddNode("Constant", [], ["c"], attributes: [new Attr("value", new TensorAttr(t)) { DocString = "attr doc" }]);
        g.AddOutput(n.Outputs[0]);
        var text = IrPrinter.Print(g);
        Assert.Contains("""%c = Constant {value = i32[] dense<[7]> name("t") tensor_doc("tensor doc") tensor_meta {"k" = "v"} doc("attr doc")} : ?""", text);
        var back = IrParser.ParseGraph(text).FirstNode!.Attributes[0];
        Assert.Equal("attr doc", back.DocString);
        var bt = ((TensorAttr)back.Value).Value;
        Assert.Equal(("t", "tensor doc"), (bt.Name, bt.DocString));
        Assert.Equal(text, IrPrinter.Print(IrParser.ParseGraph(text)));
    }

    [Fact]
    public void AnnotationsThatAreNotWordsAreQuoted()
    {
        var g = new Graph("g");
        var n = g.AddNode("Foo", [], []);
        n.Annotate("kernel", "onednn conv");
        n.Annotate("a", "nan");
        n.Annotate("prec", "bf16");
        var text = IrPrinter.Print(g);
        Assert.Contains("""Foo {a = !"nan", kernel = !"onednn conv", prec = bf16}""", text);
        var back = IrParser.ParseGraph(text).FirstNode!;
        Assert.Equal("onednn conv", back.Annotations["kernel"]);
        Assert.Empty(back.Attributes);
    }

    [Fact]
    public void LargeGraphsRoundTripThroughText()
    {
        const int count = 100_000;
        var g = new Graph("big");
        var v = g.AddInput("x", F32(Dim.Named("N"), 16));
        for (int i = 0; i < count; i++)
        {
            var n = g.AddNode(i % 2 == 0 ? "Relu" : "Add", i % 2 == 0 ? [v] : [v, v], [i.ToString(System.Globalization.CultureInfo.InvariantCulture)],
                attributes: i % 3 == 0 ? [Attr.Int("axis", 1)] : null);
            n.Outputs[0].Type = F32(Dim.Named("N"), 16);
            if (i % 5 == 0) n.Annotate("prec", "bf16");
            v = n.Outputs[0];
        }
        g.AddOutput(v);
        var text = IrPrinter.Print(g);
        var parsed = IrParser.ParseGraph(text);
        Assert.Equal(count, parsed.NodeCount);
        Assert.Equal(text, IrPrinter.Print(parsed));
        Assert.Empty(Verifier.Verify(parsed));
    }
}
