using System.Buffers.Binary;
using System.Collections.Immutable;
using Alloy.IR;

namespace Alloy.Passes.Casts;

/// <summary>
/// Converts constant tensors to another element type offline, with exactly the numerics of ONNX Cast in the
/// reference runtime: float to float rounds once to nearest even (overflow to infinity, NaN kept); integers and
/// bool to float round once (only values exact in a double, |v| ≤ 2^53, are accepted); integers to integers or
/// bool only when every value fits. Other conversions (float to integer, 4-bit, float8, strings, complex) are
/// refused with a reason, and the caller keeps a runtime Cast or leaves the graph as it is.
/// </summary>
internal static class ConstantConversion
{
    private const int ChunkElements = 1 << 16;

    /// <summary>The dense data a value stands for when it is an initializer (possibly through captures) or the result of a <c>Constant</c> node holding a tensor.</summary>
    public static TensorConstant? ConstantData(Value? v)
    {
        while (v is { Kind: ValueKind.Capture, Outer: { } outer }) v = outer;
        if (v is null) return null;
        if (v.Kind == ValueKind.Constant) return v.Constant;
        if (v.Kind == ValueKind.NodeResult && v.Producer is { OpType: "Constant", IsDefaultDomain: true } p && p.Outputs.Count == 1
            && p.Attributes.Count == 1 && p.Attributes[0] is { Name: "value", Value: TensorAttr t })
            return t.Value;
        return null;
    }

    public static bool TryConvert(TensorConstant source, DataType to, out TensorConstant? result, out string? reason) =>
        TryConvert(source, to, out result, out reason, out _);

    /// <summary><see cref="TryConvert(TensorConstant, DataType, out TensorConstant?, out string?)"/>, also counting finite values that became infinite.</summary>
    public static bool TryConvert(TensorConstant source, DataType to, out TensorConstant? result, out string? reason, out long overflowed)
    {
        result = null;
        overflowed = 0;
        var from = source.ElementType;
        if (!source.Data.HasBytes)
        {
            reason = "its bytes are not available (the constant was read from IR text that holds only its digest)";
            return false;
        }
        bool floatSource = FloatFormat.IsSupported(from);
        bool intSource = FloatFormat.IsWholeByteInteger(from);
        bool floatTarget = FloatFormat.IsSupported(to);
        bool intTarget = FloatFormat.IsWholeByteInteger(to);
        if (!(floatSource || intSource) || !(floatTarget || intTarget) || (floatSource && intTarget))
        {
            reason = $"converting {from.ShortName()} to {to.ShortName()} offline is not supported";
            return false;
        }
        long count = source.ElementCount;
        int inSize = from.Facts().StorageBytes, outSize = to.Facts().StorageBytes;
        if (source.Data.ByteLength != count * inSize)
        {
            reason = $"its data holds {source.Data.ByteLength} bytes, not {count} {from.ShortName()} elements";
            return false;
        }
        if (count * outSize > Array.MaxLength)
        {
            reason = $"the converted tensor ({count * outSize} bytes) does not fit one array";
            return false;
        }
        var bytes = new byte[count * outSize];
        for (long start = 0; start < count; start += ChunkElements)
        {
            int n = (int)Math.Min(ChunkElements, count - start);
            var input = source.Data.Slice(start * inSize, n * inSize);
            var output = bytes.AsSpan((int)(start * outSize), n * outSize);
            if (!ConvertChunk(input, from, output, to, n, ref overflowed, out reason)) return false;
        }
        result = new TensorConstant(to, source.Dims, new ArrayTensorData(bytes));
        reason = null;
        return true;
    }

    private static bool ConvertChunk(ReadOnlySpan<byte> input, DataType from, Span<byte> output, DataType to, int n, ref long overflowed, out string? reason)
    {
        reason = null;
        int outSize = to.Facts().StorageBytes;
        if (from == DataType.Float && to == DataType.BFloat16)
        {
            for (int i = 0; i < n; i++)
            {
                float v = BinaryPrimitives.ReadSingleLittleEndian(input[(i * 4)..]);
                ushort bits = FloatFormat.BFloat16Bits(v);
                if ((bits & 0x7FFF) == 0x7F80 && float.IsFinite(v)) overflowed++;
                BinaryPrimitives.WriteUInt16LittleEndian(output[(i * 2)..], bits);
            }
            return true;
        }
        if (from == DataType.Float && to == DataType.Float16)
        {
            for (int i = 0; i < n; i++)
            {
                float v = BinaryPrimitives.ReadSingleLittleEndian(input[(i * 4)..]);
                var h = (Half)v;
                if (Half.IsInfinity(h) && float.IsFinite(v)) overflowed++;
                BinaryPrimitives.WriteHalfLittleEndian(output[(i * 2)..], h);
            }
            return true;
        }
        if (FloatFormat.IsSupported(from))
        {
            for (int i = 0; i < n; i++)
            {
                double v = FloatFormat.ReadFloat(input, from, i);
                double r = double.IsNaN(v) ? v : FloatFormat.Round(v, to);
                if (double.IsInfinity(r) && double.IsFinite(v)) overflowed++;
                FloatFormat.Write(r, to, output[(i * outSize)..]);
            }
            return true;
        }
        var target = to.Facts();
        for (int i = 0; i < n; i++)
        {
            if (!FloatFormat.TryReadInteger(input, from, i, out long v))
            {
                reason = $"a {from.ShortName()} value does not fit 64-bit signed arithmetic";
                return false;
            }
            if (FloatFormat.IsSupported(to))
            {
                if (Math.Abs((double)v) > 9007199254740992.0)
                {
                    reason = $"the integer {v} is beyond 2^53";
                    return false;
                }
                double r = FloatFormat.Round(v, to);
                if (double.IsInfinity(r)) overflowed++;
                FloatFormat.Write(r, to, output[(i * outSize)..]);
            }
            else if (to == DataType.Bool)
            {
                FloatFormat.WriteInteger(v, to, output[(i * outSize)..]);
            }
            else
            {
                if (v < target.IntegerMin || v > target.IntegerMax)
                {
                    reason = $"the value {v} does not fit {to.ShortName()}";
                    return false;
                }
                FloatFormat.WriteInteger(v, to, output[(i * outSize)..]);
            }
        }
        return true;
    }

    /// <summary>Every element of a float or whole-byte integer constant as a double (exact), or null when not readable.</summary>
    public static double[]? ReadAsDoubles(TensorConstant c, long limit)
    {
        long count = c.ElementCount;
        if (count > limit || !c.Data.HasBytes) return null;
        var t = c.ElementType;
        int size = t.Facts().StorageBytes;
        if (c.Data.ByteLength != count * size || !(FloatFormat.IsSupported(t) || FloatFormat.IsWholeByteInteger(t))) return null;
        var data = c.Data.Slice(0, (int)(count * size));
        var values = new double[count];
        for (int i = 0; i < count; i++)
        {
            if (FloatFormat.IsSupported(t)) values[i] = FloatFormat.ReadFloat(data, t, i);
            else if (FloatFormat.TryReadInteger(data, t, i, out long v)) values[i] = v;
            else return null;
        }
        return values;
    }

    /// <summary>A shape from constant dims.</summary>
    public static Shape ShapeOf(ImmutableArray<long> dims) => new(dims.Select(Dim.Of).ToImmutableArray());
}
