using System.Buffers.Binary;
using System.Text;

namespace Alloy.TorchScript.Tests;

/// <summary>Writes protocol-2 pickle opcodes, for hand-made test archives.</summary>
public sealed class PickleWriter
{
    private readonly List<byte> _bytes = [0x80, 0x02];

    public byte[] ToArray() => [.. _bytes];
    public PickleWriter Op(char op) { _bytes.Add((byte)op); return this; }
    public PickleWriter Op(byte op) { _bytes.Add(op); return this; }
    public PickleWriter Mark() => Op('(');
    public PickleWriter Global(string module, string name)
    {
        _bytes.Add((byte)'c');
        _bytes.AddRange(Encoding.UTF8.GetBytes(module + "\n" + name + "\n"));
        return this;
    }
    public PickleWriter Str(string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        _bytes.Add((byte)'X');
        Span<byte> n = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(n, b.Length);
        _bytes.AddRange(n.ToArray());
        _bytes.AddRange(b);
        return this;
    }
    public PickleWriter Int(int v)
    {
        _bytes.Add((byte)'J');
        Span<byte> n = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(n, v);
        _bytes.AddRange(n.ToArray());
        return this;
    }
    public PickleWriter Float(double v)
    {
        _bytes.Add((byte)'G');
        Span<byte> n = stackalloc byte[8];
        BinaryPrimitives.WriteDoubleBigEndian(n, v);
        _bytes.AddRange(n.ToArray());
        return this;
    }
    public PickleWriter Bool(bool v) => Op(v ? (byte)0x88 : (byte)0x89);
    public PickleWriter Stop() => Op('.');

    /// <summary>A TorchScript object: NEWOBJ of <c>__torch__.&lt;type&gt;</c>, then BUILD with the attributes the callback writes (key, value pairs).</summary>
    public PickleWriter Object(string module, string type, Action<PickleWriter> attributes)
    {
        Global(module, type).Op(')').Op(0x81).Op('}').Mark();
        attributes(this);
        return Op('u').Op('b');
    }

    /// <summary>A float tensor over storage <paramref name="key"/> of <paramref name="numel"/> elements.</summary>
    public PickleWriter Tensor(string key, int numel, int offset, int[] sizes, int[] strides)
    {
        Global("torch._utils", "_rebuild_tensor_v2").Mark();
        Mark().Str("storage").Global("torch", "FloatStorage").Str(key).Str("cpu").Int(numel).Op('t').Op('Q');
        Int(offset);
        Mark(); foreach (var s in sizes) Int(s); Op('t');
        Mark(); foreach (var s in strides) Int(s); Op('t');
        Bool(false);
        Global("collections", "OrderedDict").Op(')').Op('R');
        return Op('t').Op('R');
    }
}
