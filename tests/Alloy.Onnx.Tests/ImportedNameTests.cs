using System.Buffers;
using System.Text;
using Alloy.IR;
using Alloy.Onnx.Proto;
using Google.Protobuf;
using Xunit;
using static Alloy.Onnx.Tests.ProtoBuilder;

namespace Alloy.Onnx.Tests;

/// <summary>
/// Names read from a model stay UTF-8 bytes of the model until asked for: they must compare, hash, print and write
/// exactly as the decoded strings would, whatever the script, and bytes that are not UTF-8 must behave as before
/// (decoded with replacement characters). Also: export into a caller's buffer, and attributes shared between nodes.
/// </summary>
public sealed class ImportedNameTests
{
    private static readonly string[] Names = ["a", "é", "漢字", "🙂x", "x\u0000y", "名前_with_ascii", new string('n', 300), "ü" + new string('m', 200)];

    /// <summary>A chain through one node per name: node i is named "node " + name, produces name i, and consumes the
    /// previous name (and the weight "w", looked up in the name table).</summary>
    private static ModelProto ChainOf(IReadOnlyList<string> names)
    {
        var nodes = new List<NodeProto>();
        string previous = "x";
        foreach (var name in names)
        {
            nodes.Add(Node("Add", "node " + name, [previous, "w"], [name]));
            previous = name;
        }
        var g = Graph("g", [Tensor("x", Float, 2)], [Tensor(previous, Float, 2)], nodes, [FloatTensor("w", [2], [1, 2])]);
        foreach (var name in names.SkipLast(1)) g.ValueInfo.Add(Tensor(name, Float, 2));
        return Model(g);
    }

    [Fact]
    public void NamesInAnyScriptResolveCompareAndRoundTripExactly()
    {
        var proto = ChainOf(Names);
        var bytes = proto.ToByteArray();
        using var m = OnnxImporter.FromBytes(bytes, "names.onnx", ".");
        var g = m.Graph;

        // Export straight from the kept bytes equals Google.Protobuf's encoding of the same model.
        Assert.Equal(bytes, OnnxWireWriter.ToBytes(m));

        // Lookups by string find the values; every operand resolved to its producer; value_info applied by name.
        var nodes = g.Nodes.ToList();
        Assert.Equal(Names.Length, nodes.Count);
        for (int i = 0; i < Names.Length; i++)
        {
            var v = g.FindLocal(Names[i]);
            Assert.NotNull(v);
            Assert.Same(nodes[i].Outputs[0], v);
            Assert.Same(v, g.Lookup(Names[i].AsSpan()));
            Assert.Equal(Names[i], v!.Name);
            Assert.Equal("node " + Names[i], nodes[i].Name);
            Assert.Same(i == 0 ? g.Inputs[0] : nodes[i - 1].Outputs[0], nodes[i].Inputs[0]);
            Assert.NotNull(v.Type);
        }
        Assert.Null(g.FindLocal("漢"));
        Assert.Null(g.FindLocal("漢字 "));
        Assert.Empty(Verifier.Verify(g));

        // Once every name has been read as a string, export writes the same bytes from the strings.
        Assert.Equal(bytes, OnnxWireWriter.ToBytes(m));
    }

    /// <summary>Names are copied out of the model's bytes: the imported model does not keep the (possibly large)
    /// byte array alive.</summary>
    [Fact]
    public void TheModelDoesNotKeepTheFileBytesAlive()
    {
        var (model, bytes) = ImportAndForget();
        using (model)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            Assert.False(bytes.TryGetTarget(out _), "the model's byte array is still reachable from the model");
            Assert.Equal(Names, model.Graph.Nodes.Select(n => n.Outputs[0].Name));
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static (Model, WeakReference<byte[]>) ImportAndForget()
    {
        var bytes = ChainOf(Names).ToByteArray();
        return (OnnxImporter.FromBytes(bytes, "names.onnx", "."), new WeakReference<byte[]>(bytes));
    }

    [Fact]
    public void ImportedNamesCanBeRenamedAndRemoved()
    {
        var bytes = ChainOf(["p", "q", "r"]).ToByteArray();
        using var m = OnnxImporter.FromBytes(bytes, "rename.onnx", ".");
        var g = m.Graph;
        var q = g.FindLocal("q")!;
        g.Rename(q, "q_renamed");
        Assert.Null(g.FindLocal("q"));
        Assert.Same(q, g.FindLocal("q_renamed"));
        Assert.Equal("q", g.FreshName("q"));
        Assert.Throws<IrException>(() => g.Rename(q, "r"));
        Assert.Empty(Verifier.Verify(g));

        var expected = ChainOf(["p", "q", "r"]);
        expected.Graph.Node[1].Output[0] = "q_renamed";
        expected.Graph.Node[2].Input[0] = "q_renamed";
        expected.Graph.ValueInfo[1].Name = "q_renamed";
        Assert.Equal(expected.ToByteArray(), OnnxWireWriter.ToBytes(m));
    }

    /// <summary>Name bytes that are not UTF-8 decode with replacement characters, as strings read from the model
    /// always did: an operand spelled with other invalid bytes still finds the output, and two outputs whose bytes
    /// decode alike are two definitions of one name.</summary>
    [Fact]
    public void NamesThatAreNotUtf8BehaveAsTheirDecodedText()
    {
        // "Z\u0001" (two bytes) is patched to Z 0xFF in the producer and Z 0xFE in the consumer.
        var proto = Model(Graph("g", [Tensor("x", Float, 2)], [Tensor("y", Float, 2)],
            [Node("Relu", "first", ["x"], ["Z\u0001"]), Node("Neg", "second", ["Z\u0002"], ["y"])]));
        var bytes = Patch(proto.ToByteArray(), "Z\u0001", [(byte)'Z', 0xFF]);
        bytes = Patch(bytes, "Z\u0002", [(byte)'Z', 0xFE]);
        using (var m = OnnxImporter.FromBytes(bytes, "invalid.onnx", "."))
        {
            var first = m.Graph.FirstNode!;
            Assert.Equal("Z\uFFFD", first.Outputs[0].Name);
            Assert.Same(first.Outputs[0], first.Next!.Inputs[0]);
            Assert.Same(first.Outputs[0], m.Graph.FindLocal("Z\uFFFD"));
            var written = ModelProto.Parser.ParseFrom(OnnxWireWriter.ToBytes(m));
            Assert.Equal("Z\uFFFD", written.Graph.Node[0].Output[0]);
            Assert.Equal("Z\uFFFD", written.Graph.Node[1].Input[0]);
        }

        var twice = Model(Graph("g", [Tensor("x", Float, 2)], [Tensor("y", Float, 2)],
            [Node("Relu", "first", ["x"], ["Z\u0001"]), Node("Neg", "second", ["x"], ["Z\u0002"]), Node("Add", "third", ["Z\u0001", "Z\u0002"], ["y"])]));
        var dup = Patch(Patch(twice.ToByteArray(), "Z\u0001", [(byte)'Z', 0xFF]), "Z\u0002", [(byte)'Z', 0xFE]);
        var e = Assert.Throws<OnnxImportException>(() => OnnxImporter.FromBytes(dup, "dup.onnx", "."));
        Assert.Contains("two definitions", e.Message);
        Assert.Contains("second", e.Message);
    }

    /// <summary>Replaces every occurrence of <paramref name="text"/>'s UTF-8 bytes by <paramref name="bytes"/> (same length).</summary>
    private static byte[] Patch(byte[] data, string text, byte[] bytes)
    {
        var find = Encoding.UTF8.GetBytes(text);
        Assert.Equal(find.Length, bytes.Length);
        var copy = (byte[])data.Clone();
        int found = 0;
        for (int i = 0; i + find.Length <= copy.Length; i++)
        {
            if (!copy.AsSpan(i, find.Length).SequenceEqual(find)) continue;
            bytes.CopyTo(copy, i);
            found++;
        }
        Assert.True(found > 0, $"'{text}' not found");
        return copy;
    }

    [Fact]
    public void WritingIntoABufferWriterGivesTheSameBytes()
    {
        var bytes = ChainOf(Names).ToByteArray();
        using var m = OnnxImporter.FromBytes(bytes, "names.onnx", ".");
        var expected = OnnxWireWriter.ToBytes(m);

        // A writer's own array, reused.
        var writer = new ArrayBufferWriter<byte>();
        for (int round = 0; round < 2; round++)
        {
            writer.ResetWrittenCount();
            Assert.Equal(expected.Length, OnnxWireWriter.WriteTo(m, writer));
            Assert.Equal(expected, writer.WrittenSpan.ToArray());
        }

        // After bytes already written (the model goes after them).
        var after = new ArrayBufferWriter<byte>();
        after.Write<byte>([1, 2, 3]);
        Assert.Equal(expected.Length, OnnxWireWriter.WriteTo(m, after));
        Assert.Equal([1, 2, 3, .. expected], after.WrittenSpan.ToArray());
    }

    /// <summary>Nodes with identical attributes share the attribute objects; changing one node's attribute leaves the
    /// others' as they were.</summary>
    [Fact]
    public void SharedAttributesStayIndependentPerNode()
    {
        static AttributeProto Perm(params long[] p)
        {
            var a = new AttributeProto { Name = "perm", Type = AttributeProto.Types.AttributeType.Ints };
            a.Ints.AddRange(p);
            return a;
        }
        var proto = Model(Graph("g", [Tensor("x", Float, 2, 3)], [Tensor("z", Float, 2, 3)],
            [Node("Transpose", "t1", ["x"], ["y"], Perm(1, 0)), Node("Transpose", "t2", ["y"], ["z"], Perm(1, 0))]));
        var bytes = proto.ToByteArray();
        using var m = OnnxImporter.FromBytes(bytes, "perm.onnx", ".");
        var t1 = m.Graph.FirstNode!;
        var t2 = t1.Next!;
        Assert.Equal([1L, 0L], ((IntsAttr)t2.FindAttribute("perm")!.Value).Value.ToArray());

        t1.SetAttribute(Attr.Ints("perm", 0, 1));
        t1.SetAttribute(Attr.Int("extra", 7));
        Assert.Equal([0L, 1L], ((IntsAttr)t1.FindAttribute("perm")!.Value).Value.ToArray());
        Assert.Equal([1L, 0L], ((IntsAttr)t2.FindAttribute("perm")!.Value).Value.ToArray());
        Assert.Single(t2.Attributes);
        Assert.Equal(["perm", "extra"], t1.Attributes.Select(a => a.Name));
        Assert.True(t1.RemoveAttribute("perm"));
        Assert.Equal(["extra"], t1.Attributes.Select(a => a.Name));
        Assert.True(t1.RemoveAttribute("extra"));
        Assert.Empty(t1.Attributes);

        var expected = Model(Graph("g", [Tensor("x", Float, 2, 3)], [Tensor("z", Float, 2, 3)],
            [Node("Transpose", "t1", ["x"], ["y"]), Node("Transpose", "t2", ["y"], ["z"], Perm(1, 0))]));
        Assert.Equal(expected.ToByteArray(), OnnxWireWriter.ToBytes(m));
    }
}
