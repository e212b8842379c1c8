using System.Runtime.InteropServices;

namespace Alloy.Runtime;

/// <summary>
/// A dense tensor: element type, shape, and data in 64-byte aligned native memory (strings in a managed array).
/// Disposing frees the memory; a finalizer frees it if the owner forgets.
/// </summary>
public sealed unsafe class Tensor : IDisposable
{
    public const int Alignment = 64;
    private void* _data;
    private readonly string[]? _strings;
    private ITensorMemory? _owner;

    /// <summary>
    /// Where tensors created on this thread take their memory (null: the native heap). The plan executor sets it to
    /// its memory plan's arena while a step runs, so kernels' outputs land in preassigned, reused buffers.
    /// </summary>
    [ThreadStatic] private static ITensorMemory? t_memory;

    internal static ITensorMemory? CurrentMemory
    {
        get => t_memory;
        set => t_memory = value;
    }

    private Tensor(ElementType type, long[] shape, bool clear = true)
    {
        Type = type;
        Shape = shape;
        long n = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"negative dimension {d} in shape [{string.Join(",", shape)}]");
            n = checked(n * d);
        }
        Length = n;
        if (type == ElementType.String)
        {
            _strings = new string[n];
            Array.Fill(_strings, "");
            return;
        }
        ByteLength = type.ByteCount(n);
        if (t_memory is { } memory && ByteLength > 0 && memory.TryRent(ByteLength, out var rented))
        {
            _data = rented;
            _owner = memory;
        }
        else
        {
            _data = NativeMemory.AlignedAlloc((nuint)Math.Max(ByteLength, 1), Alignment);
            if (ByteLength > 0) GC.AddMemoryPressure(ByteLength);
        }
        if (clear) NativeMemory.Clear(_data, (nuint)ByteLength);
    }

    ~Tensor() => Free();

    public ElementType Type { get; }
    /// <summary>The dimensions; callers must not modify the array.</summary>
    public long[] Shape { get; }
    public int Rank => Shape.Length;
    /// <summary>Number of elements.</summary>
    public long Length { get; }
    public long ByteLength { get; }

    /// <summary>A zero-filled tensor.</summary>
    public static Tensor Create(ElementType type, ReadOnlySpan<long> shape) => new(type, shape.ToArray());

    /// <summary>A tensor whose elements are not initialized: for kernels that write every element.</summary>
    internal static Tensor CreateUninitialized(ElementType type, ReadOnlySpan<long> shape) =>
        type == ElementType.String ? Create(type, shape) : new(type, shape.ToArray(), clear: false);

    /// <summary>Whether the data lives in memory handed out by <paramref name="memory"/>.</summary>
    internal bool IsOwnedBy(ITensorMemory memory) => ReferenceEquals(_owner, memory);

    public static Tensor FromArray<T>(ElementType type, ReadOnlySpan<long> shape, ReadOnlySpan<T> data) where T : unmanaged
    {
        var t = Create(type, shape);
        var dst = t.Bytes;
        var src = MemoryMarshal.AsBytes(data);
        if (src.Length != dst.Length) throw new ArgumentException($"{src.Length} bytes of data for a {type.Name()} tensor of {dst.Length} bytes");
        src.CopyTo(dst);
        return t;
    }

    public static Tensor FromFloats(ReadOnlySpan<long> shape, ReadOnlySpan<float> data) => FromArray(ElementType.Float, shape, data);

    public static Tensor FromStrings(ReadOnlySpan<long> shape, ReadOnlySpan<string> data)
    {
        var t = Create(ElementType.String, shape);
        if (data.Length != t.Length) throw new ArgumentException($"{data.Length} strings for a tensor of {t.Length} elements");
        data.CopyTo(t._strings);
        return t;
    }

    /// <summary>The raw bytes (ONNX little-endian layout; sub-byte types packed, low nibble first).</summary>
    public Span<byte> Bytes
    {
        get
        {
            ObjectDisposedException.ThrowIf(_data == null && _strings is null, this);
            if (_strings is not null) throw new InvalidOperationException("a string tensor has no raw bytes");
            return new Span<byte>(_data, checked((int)ByteLength));
        }
    }

    /// <summary>The elements viewed as <typeparamref name="T"/>, whose size must match the element size.</summary>
    public Span<T> Span<T>() where T : unmanaged
    {
        if (Type.Bits() != sizeof(T) * 8)
            throw new InvalidOperationException($"a {Type.Name()} tensor cannot be viewed as {typeof(T).Name}");
        return MemoryMarshal.Cast<byte, T>(Bytes);
    }

    public string[] Strings => _strings ?? throw new InvalidOperationException($"a {Type.Name()} tensor holds no strings");

    public void* Pointer => _data;

    public T[] ToArray<T>() where T : unmanaged => Span<T>().ToArray();

    public string ShapeText => "[" + string.Join(",", Shape) + "]";

    public override string ToString() => $"{Type.Name()}{ShapeText}";

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    private void Free()
    {
        if (_data == null) return;
        if (_owner is { } owner) owner.Return(_data, ByteLength);
        else
        {
            NativeMemory.AlignedFree(_data);
            if (ByteLength > 0) GC.RemoveMemoryPressure(ByteLength);
        }
        _data = null;
        _owner = null;
    }
}
