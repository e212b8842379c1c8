using static Alloy.IR.Tests.TestUtil;

namespace Alloy.IR.Tests;

/// <summary>Hand-written texts in printed form: parsing then printing gives the same text.</summary>
public class RoundTripTests
{
    [Fact]
    public void ModelWithSubgraphsAndFunction()
    {
        var m = RoundTripModel("""
            module {ir_version = 8, opsets = {"" = 13, "com.microsoft" = 1}, producer_name = "pytorch", producer_version = "1.13.1", domain = "ai.example", model_version = 3, doc = "a \"doc\"\nline", metadata = {"k" = "v", "k2" = "v2"}}

            graph @main(%x: f32[N,3,8,8], %w0: f32[4] = dense<[1.0, 2.0, 3.0, 4.0]>, %cond: bool[]) -> (%y: f32[N,10] doc("the output"), %x: f32[N,3,8,8]) {
              %w = const f32[4,3,3,3] dense<sha256:1f2e3d4c5b6a7980, 432 bytes>
              %"onnx::Conv_1" = const i64[2] dense<[1, 2]>
              %1 = Conv %x, %w {pads = [1, 1, 1, 1], strides = [1, 1]} : f32[N,4,8,8] loc("conv1")
              %2 = Relu %1 {prec = bf16} : f32[N,4,8,8]
              %a, _, %c = com.microsoft::Foo %2, _, %x : ?, ?, f32[*]
              Print %c
              %y = If %cond {then_branch = graph @then() captures(%2) -> (%t: f32[*]) {
                  %t = Identity %2 : f32[*]
                  return %t
                }, else_branch = graph @else() -> (%e) {
                  %e = Constant {value = f32[] dense<[0.0]>} : ?
                  return %e
                }} : f32[N,10]
              return %y, %x
            }

            func com.example::MyFn(%a, %b) -> (%c) attrs [alpha, beta = 1.0] opsets {"" = 13} {
              %c = Add %a, %b {alpha = ref<alpha, float>} : ?
              return %c
            }

            """);
        Assert.Equal(8, m.IrVersion);
        Assert.Equal(3, m.ModelVersion);
        Assert.Equal("a \"doc\"\nline", m.DocString);
        Assert.Equal("the output", m.Graph.Outputs[0].DocString);
        Assert.Equal(2, m.Graph.Outputs.Count);
        Assert.Same(m.Graph.Inputs[0], m.Graph.Outputs[1]);
    }

    [Fact]
    public void EveryAttributeKind()
    {
        var g = RoundTripGraph("""
            graph @attrs() -> () {
              Foo {i = 5, neg = -3, f = 1.0, small = 1e-05, big = 1e+20, pinf = inf, ninf = -inf, qnan = nan, nnan = -nan, odd = nan(0x7fc00001), s = "hello\tworld", t = f32[2] dense<[1.5, -2.5e-07]> name("t0") tensor_doc("td") tensor_meta {"a" = "b"}, sp = sparse(values: f32[2] dense<[1.0, 2.0]>, indices: i64[2] dense<[0, 5]>, dims: [2, 3]), ty = type<f32[N,?,"a b"]>, tn = type<?>, is = [1, 2, 3], fs = [1.0, 2.5], ss = ["a", "b\n"], ts = [i32[] dense<[7]>, u8[2] dense<[0, 255]>], sps = [sparse(values: i32[1] dense<[1]>, indices: i64[1] dense<[0]>, dims: [4])], tys = [type<seq<f32[*]>>, type<opt<seq<?>>>, type<map<i64, f32[*]>>, type<opaque<"dom", "name">>, type<sparse<f32[3,4]>>, type<?[3]>, type<?>], e1 = ints[], e2 = floats[], e3 = strings[], e4 = tensors[], e5 = graphs[], e6 = sparse_tensors[], e7 = types[], gs = [graph @g1() -> () {
                  return
                }, graph @g2(%p: i64[]) -> (%p: i64[]) {
                  return %p
                }], documented = 3 doc("attr doc"), "quoted name" = 1, r = ref<"odd name", type_protos>, acc = f32, kernel = avx512_bf16, note = !"two words", prec = bf16}
              return
            }

            """);
        var n = g.FirstNode!;
        Assert.Equal(4, n.Annotations.Count);
        Assert.Equal(AttrKind.Int, n.Attributes[0].Kind);
        Assert.Equal(AttrKind.Float, n.FindAttribute("small")!.Kind);
        Assert.Equal(AttrKind.SparseTensor, n.FindAttribute("sp")!.Kind);
        Assert.Equal(AttrKind.TypeProto, n.FindAttribute("ty")!.Kind);
        Assert.Null(((TypeAttr)n.FindAttribute("tn")!.Value).Value);
        Assert.Equal(AttrKind.Graphs, n.FindAttribute("gs")!.Kind);
        Assert.Equal(AttrKind.Ints, n.FindAttribute("e1")!.Kind);
        Assert.Equal(AttrKind.TypeProtos, n.FindAttribute("e7")!.Kind);
        Assert.Equal(new RefAttr("odd name", AttrKind.TypeProtos), n.FindAttribute("r")!.Value);
        Assert.Equal("attr doc", n.FindAttribute("documented")!.DocString);
        Assert.All(((GraphsAttr)n.FindAttribute("gs")!.Value).Value, sub => Assert.Same(n, sub.OwnerNode));
    }

    [Fact]
    public void TensorDataForms()
    {
        var g = RoundTripGraph("""
            graph @data() -> () {
              %f16 = const f16[2] dense<0x003C0040>
              %bf = const bf16[2] dense<0x803F0040>
              %i4 = const i4[3] dense<0x2103>
              %c64 = const c64[1] dense<0x0000803F00000000>
              %f8 = const f8e4m3fn[2] dense<0x3840>
              %str = const str[2] dense<["a\"b", "\xFF\x00ok é"]>
              %bool = const bool[3] dense<[1, 0, 1]>
              %i8 = const i8[2] dense<[-128, 127]>
              %u16 = const u16[2] dense<[0, 65535]>
              %u32 = const u32[1] dense<[4294967295]>
              %u64 = const u64[1] dense<[18446744073709551615]>
              %i64 = const i64[] dense<[-9223372036854775808]>
              %f64 = const f64[3] dense<[0.1, 5e-324, -0.0]>
              %scalar = const f32[] dense<[3.0]>
              %nanp = const f32[2] dense<0x0100C07F0000C07F>
              %empty = const f32[0] dense<[]>
              %emptys = const str[2,0] dense<[]>
              %big = const f32[100] dense<sha256:0123456789abcdef, 400 bytes>
              %bigs = const str[100] dense<sha256:fedcba9876543210, 0 bytes>
              %und = const ?[2] dense<0x0102>
              %typed = const f32[1] dense<[1.0]> : f32[N]
              %sp = sparse_const values: f32[2] dense<[1.0, 2.0]>, indices: i64[2,2] dense<[0, 1, 2, 3]>, dims: [3, 4]
              %sp2 = sparse_const values: f32[1] dense<[1.0]>, indices: i64[1] dense<[0]>, dims: [3] : ?
              return
            }

            """);
        Assert.Equal(23, g.Constants.Count);
        Assert.Equal(DataType.Undefined, g.FindLocal("und")!.Constant!.ElementType);
        Assert.NotNull(g.FindLocal("sp")!.SparseConstant);
        Assert.Null(g.FindLocal("sp2")!.Type);
        Assert.Equal(new TensorType(DataType.Float, new Shape(Dim.Named("N"))), g.FindLocal("typed")!.Type);
        Assert.Equal([0xFF, 0x00, (byte)'o', (byte)'k', (byte)' ', 0xC3, 0xA9], ((StringTensorData)g.FindLocal("str")!.Constant!.Data).Strings[1]);
    }

    [Fact]
    public void QuotedNamesDomainsAndOmittedValues()
    {
        var g = RoundTripGraph("""
            graph @"my graph"(%0: f32[2], %"a b", %"é": f32[*]) -> (%"x:y": f32[2]) {
              %"x:y", %1.weight = ai.onnx::Relu:v2 %0 : f32[2], ?
              _ = "my domain"::"My Op" %"a b" : ?
              %_ = "const" %"é" : ?
              %r = "return" : ?
              NoResult
              Op2 %1.weight, _ loc("n \"q\"") doc("d") meta {"m" = "1"}
              "sha256":"x y" %r
              _, _ = Two {k = -1} : ?, ?
              return %"x:y"
            }

            """);
        Assert.Equal("my graph", g.Name);
        var relu = g.FirstNode!;
        Assert.Equal(("ai.onnx", "Relu", "v2"), (relu.Domain, relu.OpType, relu.Overload));
        var my = relu.Next!;
        Assert.Equal(("my domain", "My Op"), (my.Domain, my.OpType));
        Assert.Equal("", my.Outputs[0].Name);
        var op2 = g.Nodes.Single(n => n.OpType == "Op2");
        Assert.Equal(("n \"q\"", "d"), (op2.Name, op2.DocString));
        Assert.Null(op2.Inputs[1]);
        Assert.Equal("const", g.Nodes.ElementAt(2).OpType);
    }

    [Fact]
    public void NestedCapturesTwoLevels()
    {
        var g = RoundTripGraph("""
            graph @loop(%n: i64[], %cond: bool[], %x: f32[N]) -> (%out: f32[N]) {
              %k = const f32[] dense<[2.0]>
              %s = Mul %x, %k : f32[N]
              %out = Loop %n, %cond {body = graph @body(%i: i64[], %c: bool[]) captures(%s, %k) -> (%c: bool[], %r: f32[N]) {
                  %r = If %c {then_branch = graph @inner() captures(%s, %kk = %k) -> (%z: f32[N]) {
                      %z = Add %s, %kk : f32[N]
                      return %z
                    }, else_branch = graph @inner2() captures(%s) -> (%s: f32[N]) {
                      return %s
                    }} : f32[N]
                  return %c, %r
                }} : f32[N]
              return %out
            }

            """);
        var body = g.LastNode!.Subgraphs.Single();
        var inner = body.LastNode!.Subgraphs.First();
        Assert.Equal(["s", "kk"], inner.Captures.Select(c => c.Name));
        Assert.Same(body.Captures[1], inner.Captures[1].Outer);
        Assert.Same(g.FindLocal("k"), body.Captures[1].Outer);
    }

    [Fact]
    public void CapturedValueWithOwnTypeAndDirectOuterOutput()
    {
        RoundTripGraph("""
            graph @outer(%x: f32[2], %c: bool[]) -> (%y: f32[2]) {
              %y = If %c {then_branch = graph @t() captures(%x: ?) -> (%x) {
                  return %x
                }, else_branch = graph @e() -> (%x: f32[2]) {
                  return %x
                }} : f32[2]
              return %y
            }

            """);
    }

    [Fact]
    public void InputDefaultsWithPlaceholders()
    {
        var g = RoundTripGraph("""
            graph @defaults(%a: f32[2] = dense<[1.0, 2.0]>, %b: f32[2] = dense<[3.0, 4.0]>, %c = i64[1] dense<[7]>, %d: f32[N] = f32[1] dense<[0.5]>) -> (%a: f32[2]) {
              %c = const default
              %k = const i64[1] dense<[1]>
              %b = const default
              %d = const default
              return %a
            }

            """);
        Assert.Equal(["a", "c", "k", "b", "d"], g.Constants.Select(c => c.Name));
        Assert.All(g.Inputs, i => Assert.NotNull(i.Constant));
    }

    [Fact]
    public void GraphAttributesAndFunctionExtras()
    {
        var m = RoundTripModel("""
            module {ir_version = 10}

            graph @main(%x: f32[3] doc("input")) -> (%y: f32[3]) attributes {doc = "graph doc", metadata = {"a" = "1"}, quantization = ["x" = {"SCALE_TENSOR" = "s", "ZERO_POINT_TENSOR" = "z"}]} {
              %y = local::Square:ov1 %x : f32[3]
              return %y
            }

            func local::Square:ov1(%a, %b: f32[3]) -> (%r) attrs [p, q, r = [1, 2] doc("r doc"), g = graph @gdef() -> () {
                return
              }] opsets {"" = 13, "local" = 1} doc("squares") meta {"fm" = "1"} body @sq attributes {doc = "body doc"} {
              %r = Mul %a, %a {p = ref<p, int>, q = ref<q, tensor>} : ?
              return %r
            }

            func Plain() -> () {
              return
            }

            """);
        var f = m.Functions[0];
        Assert.Equal(("local", "Square", "ov1", "sq"), (f.Domain, f.Name, f.Overload, f.Body.Name));
        Assert.Equal(["p", "q"], f.AttributeNames);
        Assert.Equal(["r", "g"], f.AttributeDefaults.Select(a => a.Name));
        Assert.Equal("input", m.Graph.Inputs[0].DocString);
        Assert.Equal("x", m.Graph.QuantizationAnnotations[0].TensorName);
        Assert.Equal("", m.Functions[1].Domain);
    }

    [Fact]
    public void ModelWithoutHeaderGetsDefaults()
    {
        var m = IrParser.ParseModel("graph @g() -> () {\n  return\n}\n");
        Assert.Equal(10, m.IrVersion);
        Assert.Equal("module {ir_version = 10}\n\ngraph @g() -> () {\n  return\n}\n", IrPrinter.Print(m));
    }

    [Fact]
    public void ImplicitCapturesAndCommentsAreAccepted()
    {
        var g = IrParser.ParseGraph("""
            // RUN: nothing
            graph @main(%x: f32[2], %c: bool[]) -> (%y: f32[2]) {
              %a = Relu %x : f32[2]   // a comment
              %y = If %c {then_branch = graph @t() -> (%z: f32[2]) {
                  %z = If %c {then_branch = graph @tt() -> (%q: f32[2]) {
                      %q = Add %a, %x : f32[2]
                      return %q
                    }} : f32[2]
                  return %z
                }} : f32[2]
              return %y
            }
            """);
        Assert.Empty(Verifier.Verify(g));
        var t = g.LastNode!.Subgraphs.Single();
        Assert.Equal(["c", "a", "x"], t.Captures.Select(c => c.Name));
        Assert.Equal(["a", "x"], t.LastNode!.Subgraphs.Single().Captures.Select(c => c.Name));
    }

    [Fact]
    public void DecimalValuesForHalfTypesAreAccepted()
    {
        var g = IrParser.ParseGraph("graph @g() -> () {\n  %h = const f16[2] dense<[1.0, 2.0]>\n  %b = const bf16[2] dense<[1.0, 2.0]>\n  return\n}\n");
        Assert.Equal("0x003C0040", "0x" + Convert.ToHexString(g.FindLocal("h")!.Constant!.Data.AsSpan()));
        Assert.Equal("0x803F0040", "0x" + Convert.ToHexString(g.FindLocal("b")!.Constant!.Data.AsSpan()));
    }
}
