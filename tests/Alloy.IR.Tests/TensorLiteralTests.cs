using System.Collections.Immutable;
using static Alloy.IR.Tests.TestUtil;

namespace Alloy.IR.Tests;

public class TensorLiteralTests
{
    public static TheoryData<DataType> AllTypes()
    {
        var d = new TheoryData<DataType>();
        foreach (var t in Enum.GetValues<DataType>()) d.Add(t);
        return d;
    }

    private static TensorConstant Sample(DataType t, long count)
    {
        if (t == DataType.String)
            return new TensorConstant(t, [count], new StringTensorData([.. Enumerable.Range(0, (int)count).Select(i => new[] { (byte)('a' + i % 26), (byte)0xFE })]));
        long bytes = t == DataType.Undefined ? count : t.RawByteCount(count);
        var data = new byte[bytes];
        for (int i = 0; i < data.Length; i++) data[i] = (byte)(i * 37 + 11);
        if (t == DataType.Bool) Array.Fill(data, (byte)1);
        return new TensorConstant(t, [count], new ArrayTensorData(data));
    }

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void EveryElementTypeRoundTripsInline(DataType t)
    {
        var g = new Graph("g");
        var c = g.AddConstant("c", Sample(t, 3));
        g.AddNode("Foo", [], [], attributes: [new Attr("v", new TensorAttr(Sample(t, 2))), new Attr("vs", new TensorsAttr([Sample(t, 1), Sample(t, 0)]))]);
        g.AddOutput(c);
        var text = IrPrinter.Print(g);
        Assert.DoesNotContain("sha256", text);
        var back = IrParser.ParseGraph(text);
        Assert.Equal(text, IrPrinter.Print(back));
        var orig = g.FindLocal("c")!.Constant!;
        var parsed = back.FindLocal("c")!.Constant!;
        Assert.Equal(orig.ElementType, parsed.ElementType);
        Assert.Equal(orig.Dims.ToArray(), parsed.Dims.ToArray());
        if (orig.Data is StringTensorData so)
            Assert.Equal(so.Strings, ((StringTensorData)parsed.Data).Strings);
        else
            Assert.True(orig.Data.AsSpan().SequenceEqual(parsed.Data.AsSpan()));
    }

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void EveryElementTypeRoundTripsAsDigest(DataType t)
    {
        var g = new Graph("g");
        var c = g.AddConstant("c", Sample(t, 40));
        g.AddOutput(c);
        var text = IrPrinter.Print(g);
        Assert.Contains("sha256:" + c.Constant!.Data.Sha256[..16], text);
        var back = IrParser.ParseGraph(text);
        Assert.IsType<DigestTensorData>(back.FindLocal("c")!.Constant!.Data);
        Assert.Equal(text, IrPrinter.Print(back));
    }

    [Fact]
    public void MismatchedByteLengthPrintsHexAndKeepsBytes()
    {
        var g = new Graph("g");
        var c = g.AddConstant("c", new TensorConstant(DataType.Float, Dims(4), new ArrayTensorData([1, 2, 3])));
        g.AddOutput(c);
        var text = IrPrinter.Print(g);
        Assert.Contains("%c = const f32[4] dense<0x010203>", text);
        Assert.Equal(text, IrPrinter.Print(IrParser.ParseGraph(text)));
    }

    [Fact]
    public void ConstantWhoseValueTypeDiffersKeepsItsType()
    {
        var g = new Graph("g");
        var c = g.AddConstant("c", F32Const([2], 1f, 2f));
        c.Type = new TensorType(DataType.Float, new Shape(Dim.Named("N")));
        g.AddOutput(c);
        var text = IrPrinter.Print(g);
        Assert.Contains("%c = const f32[2] dense<[1.0, 2.0]> : f32[N]", text);
        Assert.Equal(c.Type, IrParser.ParseGraph(text).FindLocal("c")!.Type);
    }

    [Fact]
    public void SparseAttributeAndConstantFromApi()
    {
        var sp = new SparseTensorConstant(F32Const([2], 1f, 2f), I64Const([2], 0, 3), ImmutableArray.Create(2L, 2L));
        var g = new Graph("g");
        var s = g.AddSparseConstant("s", sp);
        g.AddNode("Foo", [s], [], attributes: [new Attr("sp", new SparseTensorAttr(sp)), new Attr("sps", new SparseTensorsAttr([sp]))]);
        g.AddOutput(s);
        var m = new Model(g);
        var text = PrintStable(m);
        Assert.Contains("%s = sparse_const values: f32[2] dense<[1.0, 2.0]>, indices: i64[2] dense<[0, 3]>, dims: [2, 2]\n", text);
        Assert.Contains("Foo %s {sp = sparse(values: f32[2] dense<[1.0, 2.0]>, indices: i64[2] dense<[0, 3]>, dims: [2, 2]), sps = [sparse(", text);
        Assert.Contains("-> (%s: sparse<f32[2,2]>)", text);
    }
}
