namespace Alloy.Runtime.Numerics;

/// <summary>
/// The arithmetic of ONNX QuantizeLinear / DequantizeLinear for one value, matching the ONNX reference
/// implementation and ONNX Runtime:
/// <list type="bullet">
/// <item>Quantize to an integer type: <c>q = clamp(round_half_even(x / scale) + zero_point, min, max)</c>, with
/// <c>x / scale</c> evaluated in float32 (x of any input type — f32, f16, bf16, int32 — is widened to float32
/// first, as ONNX Runtime does). NaN, which has no integer image, quantizes to the zero point.</item>
/// <item>Quantize to a float8 type: <c>x / scale</c> (float32) rounded to the format with
/// <see cref="MiniFloat.Encode(double, ElementType, bool)"/> and the <c>saturate</c> attribute. ONNX requires
/// the zero point to be 0 for float8; a non-zero one is an error.</item>
/// <item>Quantize to float4 E2M1: <c>x / scale + zero_point</c> in float32, then rounded (always saturating).</item>
/// <item>Dequantize: <c>(x − zero_point) × scale</c> with the subtraction exact and the product in float32;
/// the caller stores the float32 result into the output type (f32, or one more rounding to f16 / bf16, as the
/// reference implementation does). Float8 and float4 inputs ignore the zero point (it must be 0 for float8).</item>
/// </list>
/// </summary>
public static class Quantization
{
    /// <summary>True for the integer types QuantizeLinear can produce: int8, uint8, int16, uint16, int4, uint4.</summary>
    public static bool IsIntegerTarget(ElementType type) => type is ElementType.Int8 or ElementType.UInt8 or ElementType.Int16
        or ElementType.UInt16 or ElementType.Int4 or ElementType.UInt4;

    /// <summary>True for every type QuantizeLinear can produce: the integer targets, the float8 types and float4 E2M1.</summary>
    public static bool IsTarget(ElementType type) => IsIntegerTarget(type) || MiniFloat.IsMiniFloat(type);

    /// <summary>The saturation range of an integer target.</summary>
    public static (long Min, long Max) Range(ElementType type) => type switch
    {
        ElementType.Int8 => (sbyte.MinValue, sbyte.MaxValue),
        ElementType.UInt8 => (byte.MinValue, byte.MaxValue),
        ElementType.Int16 => (short.MinValue, short.MaxValue),
        ElementType.UInt16 => (ushort.MinValue, ushort.MaxValue),
        ElementType.Int4 => (-8, 7),
        ElementType.UInt4 => (0, 15),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, $"{type.Name()} is not an integer quantization type (int8, uint8, int16, uint16, int4, uint4)"),
    };

    /// <summary>QuantizeLinear of one value to an integer target: the quantized integer, inside the target's range.</summary>
    public static long QuantizeToInteger(float x, float scale, long zeroPoint, ElementType target)
    {
        var (min, max) = Range(target);
        float scaled = x / scale; // float32 division, one rounding
        double q = float.IsNaN(scaled) ? zeroPoint : Math.Round((double)scaled, MidpointRounding.ToEven) + zeroPoint; // exact
        return q <= min ? min : q >= max ? max : (long)q;
    }

    /// <summary>
    /// QuantizeLinear of one value to a float8 or float4 target: the code (byte for float8, nibble for float4).
    /// <paramref name="zeroPoint"/> is the zero point's value; it must be 0 for float8.
    /// </summary>
    public static int QuantizeToMiniFloat(float x, float scale, ElementType target, bool saturate = true, float zeroPoint = 0)
    {
        if (!MiniFloat.IsMiniFloat(target))
            throw new ArgumentOutOfRangeException(nameof(target), target, $"{target.Name()} is not a float8 or float4 type");
        float scaled = x / scale;
        if (target == ElementType.Float4E2M1) return MiniFloat.Encode(scaled + zeroPoint, target);
        if (zeroPoint != 0) throw new ArgumentException($"the zero point of a {target.Name()} quantization must be 0, not {zeroPoint}", nameof(zeroPoint));
        return MiniFloat.Encode(scaled, target, saturate);
    }

    /// <summary>
    /// QuantizeLinear of one value, stored as element <paramref name="index"/> of <paramref name="y"/> (whose element
    /// type is the target). <paramref name="zeroPoint"/> is the zero point's value (read with
    /// <see cref="ElementConvert.GetDouble"/>); <paramref name="saturate"/> applies to float8 targets.
    /// </summary>
    public static void QuantizeInto(Tensor y, long index, float x, float scale, double zeroPoint, bool saturate = true)
    {
        if (IsIntegerTarget(y.Type))
        {
            if (zeroPoint != Math.Floor(zeroPoint)) throw new ArgumentException($"integer zero point {zeroPoint} is not an integer", nameof(zeroPoint));
            ElementConvert.SetLong(y, index, QuantizeToInteger(x, scale, (long)zeroPoint, y.Type));
        }
        else if (MiniFloat.IsMiniFloat(y.Type)) ElementConvert.SetCode(y, index, QuantizeToMiniFloat(x, scale, y.Type, saturate, (float)zeroPoint));
        else throw new ArgumentException($"QuantizeLinear cannot produce {y.Type.Name()}: the targets are int8, uint8, int16, uint16, int4, uint4, the float8 types and float4e2m1", nameof(y));
    }

    /// <summary>DequantizeLinear of one integer value: <c>(q − zero_point) × scale</c>, the product in float32.</summary>
    public static float Dequantize(long q, long zeroPoint, float scale) => (float)(q - zeroPoint) * scale;

    /// <summary>DequantizeLinear of one float8 / float4 code: <c>value × scale</c> in float32.</summary>
    public static float DequantizeMiniFloat(int code, ElementType type, float scale) => MiniFloat.Decode(code, type) * scale;

    /// <summary>
    /// DequantizeLinear of element <paramref name="index"/> of <paramref name="x"/> (integer, float8 or float4; int32
    /// is accepted as ONNX allows it). <paramref name="zeroPoint"/> is the zero point's value; for float8 it must be 0
    /// and for float4 it is ignored, as in the ONNX reference implementation.
    /// </summary>
    public static float DequantizeFrom(Tensor x, long index, float scale, double zeroPoint)
    {
        if (IsIntegerTarget(x.Type) || x.Type == ElementType.Int32)
        {
            if (zeroPoint != Math.Floor(zeroPoint)) throw new ArgumentException($"integer zero point {zeroPoint} is not an integer", nameof(zeroPoint));
            return Dequantize(ElementConvert.GetLong(x, index), (long)zeroPoint, scale);
        }
        if (MiniFloat.IsMiniFloat(x.Type))
        {
            if (x.Type != ElementType.Float4E2M1 && zeroPoint != 0)
                throw new ArgumentException($"the zero point of a {x.Type.Name()} dequantization must be 0, not {zeroPoint}", nameof(zeroPoint));
            return DequantizeMiniFloat(ElementConvert.GetCode(x, index), x.Type, scale);
        }
        throw new ArgumentException($"DequantizeLinear cannot read {x.Type.Name()}: the inputs are int8, uint8, int16, uint16, int32, int4, uint4, the float8 types and float4e2m1", nameof(x));
    }
}
