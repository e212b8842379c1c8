using System.Buffers.Binary;
using Alloy.IR;

namespace Alloy.Passes.ShapeInference;

/// <summary>
/// A small tensor whose elements the pass knows while inferring: integer (and bool) elements as dimensions —
/// a known number, a symbol such as <c>N</c> taken from a shape, or unknown — and floating-point elements as
/// numbers (all known). Shape computations (Shape → Gather → Concat → Reshape) are followed through these.
/// </summary>
internal sealed class KnownValue
{
    /// <summary>Largest element count the pass reads out of a constant or keeps while propagating.</summary>
    public const int MaxElements = 1024;

    private KnownValue(DataType type, long[] dims, Dim[]? ints, double[]? floats)
    {
        Type = type;
        Dims = dims;
        Ints = ints;
        Floats = floats;
    }

    public DataType Type { get; }
    public long[] Dims { get; }
    /// <summary>Elements of an integer or bool tensor.</summary>
    public Dim[]? Ints { get; }
    /// <summary>Elements of a floating-point tensor.</summary>
    public double[]? Floats { get; }

    public int Count => Ints?.Length ?? Floats?.Length ?? 0;
    public int Rank => Dims.Length;

    public static bool IsIntegerLike(DataType t) => t.Facts().Kind is NumberKind.Bool or NumberKind.SignedInteger or NumberKind.UnsignedInteger;
    public static bool IsFloatLike(DataType t) => t.Facts().Kind == NumberKind.BinaryFloat;

    public static KnownValue? OfInts(DataType type, long[] dims, Dim[] elements)
    {
        if (!IsIntegerLike(type) || elements.Length > MaxElements || Product(dims) != elements.Length) return null;
        return new KnownValue(type, dims, elements, null);
    }

    public static KnownValue? OfFloats(DataType type, long[] dims, double[] elements)
    {
        if (!IsFloatLike(type) || elements.Length > MaxElements || Product(dims) != elements.Length) return null;
        return new KnownValue(type, dims, null, elements);
    }

    /// <summary>A 1-D i64 tensor (what Shape produces).</summary>
    public static KnownValue Vector(IReadOnlyList<Dim> elements) => new(DataType.Int64, [elements.Count], [.. elements], null);

    public static long Product(long[] dims)
    {
        long n = 1;
        foreach (var d in dims) n *= d;
        return n;
    }

    public TensorType TensorType => new(Type, Shape.Of(Dims));

    /// <summary>Every element as a number when all are known integers.</summary>
    public long[]? AllInts()
    {
        if (Ints is null) return null;
        var r = new long[Ints.Length];
        for (int i = 0; i < r.Length; i++)
        {
            if (Ints[i].Size is not { } v) return null;
            r[i] = v;
        }
        return r;
    }

    /// <summary>Every element as a double when all are known.</summary>
    public double[]? AllNumbers()
    {
        if (Floats is not null) return Floats;
        var ints = AllInts();
        return ints?.Select(v => (double)v).ToArray();
    }

    public KnownValue WithDims(long[] dims) => new(Type, dims, Ints, Floats);

    /// <summary>The same elements converted to <paramref name="to"/> (Cast), when the conversion is representable here.</summary>
    public KnownValue? CastTo(DataType to)
    {
        if (IsIntegerLike(to))
        {
            if (Ints is not null)
            {
                if (to == DataType.Bool) return AllInts() is { } b ? OfInts(to, Dims, b.Select(v => Dim.Of(v != 0 ? 1 : 0)).ToArray()) : null;
                // Narrowing integer casts wrap; keep only values that fit.
                var f = to.Facts();
                if (Ints.Any(d => d.Size is { } v && (v < f.IntegerMin || v > f.IntegerMax))) return null;
                return OfInts(to, Dims, Ints);
            }
            if (Floats is not null)
            {
                var f = to.Facts();
                var r = new Dim[Floats.Length];
                for (int i = 0; i < r.Length; i++)
                {
                    double t = to == DataType.Bool ? (Floats[i] != 0 ? 1 : 0) : Math.Truncate(Floats[i]);
                    if (double.IsNaN(t) || t < f.IntegerMin || t > f.IntegerMax) return null;
                    r[i] = Dim.Of((long)t);
                }
                return OfInts(to, Dims, r);
            }
            return null;
        }
        if (IsFloatLike(to))
        {
            var numbers = AllNumbers();
            if (numbers is null) return null;
            return OfFloats(to, Dims, numbers.Select(v => Round(v, to)).ToArray());
        }
        return null;
    }

    /// <summary><paramref name="v"/> rounded to the precision of <paramref name="t"/> (f32 and f64 exactly; others kept as doubles).</summary>
    public static double Round(double v, DataType t) => t switch
    {
        DataType.Float => (float)v,
        DataType.Float16 => (double)(Half)v,
        _ => v,
    };

    /// <summary>Reads a constant's elements when it is small and of a type the pass follows.</summary>
    public static KnownValue? FromConstant(TensorConstant c)
    {
        long count = c.ElementCount;
        if (count > MaxElements || !c.Data.HasBytes || c.Data is StringTensorData) return null;
        var dims = c.Dims.AsSpan().ToArray();
        var t = c.ElementType;
        var f = t.Facts();
        if (f.IsSubByte) return null;
        int size = f.StorageBytes;
        if (c.Data.ByteLength != count * size) return null;
        var bytes = c.Data.Slice(0, (int)c.Data.ByteLength);
        if (IsIntegerLike(t))
        {
            var r = new Dim[count];
            for (int i = 0; i < count; i++)
            {
                var s = bytes.Slice(i * size, size);
                long v = t switch
                {
                    DataType.Bool or DataType.UInt8 => s[0],
                    DataType.Int8 => (sbyte)s[0],
                    DataType.UInt16 => BinaryPrimitives.ReadUInt16LittleEndian(s),
                    DataType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(s),
                    DataType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(s),
                    DataType.UInt32 => BinaryPrimitives.ReadUInt32LittleEndian(s),
                    DataType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(s),
                    DataType.UInt64 => (long)BinaryPrimitives.ReadUInt64LittleEndian(s),
                    _ => 0,
                };
                r[i] = Dim.Of(v);
            }
            return new KnownValue(t, dims, r, null);
        }
        if (t is DataType.Float or DataType.Double or DataType.Float16 or DataType.BFloat16)
        {
            var r = new double[count];
            for (int i = 0; i < count; i++)
            {
                var s = bytes.Slice(i * size, size);
                r[i] = t switch
                {
                    DataType.Float => BinaryPrimitives.ReadSingleLittleEndian(s),
                    DataType.Double => BinaryPrimitives.ReadDoubleLittleEndian(s),
                    DataType.Float16 => (double)BinaryPrimitives.ReadHalfLittleEndian(s),
                    _ => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(s) << 16),
                };
            }
            return new KnownValue(t, dims, null, r);
        }
        return null;
    }

    /// <summary>A tensor of <paramref name="dims"/> with every element <paramref name="fill"/> (ConstantOfShape, Expand of a scalar).</summary>
    public static KnownValue? Filled(DataType type, long[] dims, KnownValue fill)
    {
        long count = Product(dims);
        if (count > MaxElements || fill.Count != 1) return null;
        if (fill.Ints is { } i) return OfInts(type, dims, Enumerable.Repeat(i[0], (int)count).ToArray());
        if (fill.Floats is { } f) return OfFloats(type, dims, Enumerable.Repeat(f[0], (int)count).ToArray());
        return null;
    }
}
