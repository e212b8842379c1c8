using System.Buffers.Binary;
using System.Collections.Immutable;

namespace Alloy.IR.Tests;

internal static class TestUtil
{
    public static TensorType F32(params Dim[] dims) => new(DataType.Float, new Shape(dims));

    public static TensorConstant F32Const(long[] dims, params float[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        return new TensorConstant(DataType.Float, [.. dims], new ArrayTensorData(bytes));
    }

    public static TensorConstant I64Const(long[] dims, params long[] values)
    {
        var bytes = new byte[values.Length * 8];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(i * 8), values[i]);
        return new TensorConstant(DataType.Int64, [.. dims], new ArrayTensorData(bytes));
    }

    /// <summary>Parses a model text, checks it prints back identically and verifies cleanly.</summary>
    public static Model RoundTripModel(string text)
    {
        var m = IrParser.ParseModel(text);
        Assert.Equal(text, IrPrinter.Print(m));
        Assert.Empty(Verifier.Verify(m));
        var again = IrParser.ParseModel(IrPrinter.Print(m));
        Assert.Equal(text, IrPrinter.Print(again));
        return m;
    }

    public static Graph RoundTripGraph(string text)
    {
        var g = IrParser.ParseGraph(text);
        Assert.Equal(text, IrPrinter.Print(g));
        Assert.Empty(Verifier.Verify(g));
        return g;
    }

    /// <summary>Prints a model, parses the text, and checks the text is stable and verifies cleanly.</summary>
    public static string PrintStable(Model m)
    {
        var text = IrPrinter.Print(m);
        var parsed = IrParser.ParseModel(text);
        Assert.Equal(text, IrPrinter.Print(parsed));
        Assert.Empty(Verifier.Verify(parsed));
        return text;
    }

    public static ImmutableArray<long> Dims(params long[] d) => [.. d];
}
