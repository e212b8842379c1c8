using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Text.Json;
using Alloy.IR;

namespace Alloy.Passes.Precision;

/// <summary>A calibrated range of a value: the smallest and the largest element seen.</summary>
public readonly record struct ValueRange(double Min, double Max)
{
    public double MaxAbs => Math.Max(Math.Abs(Min), Math.Abs(Max));
}

/// <summary>
/// Calibrated ranges by value name, read from a JSON object mapping each value name to <c>[min, max]</c>
/// (<c>{"conv1_out": [-3.5, 812.0], "input": [0, 1]}</c>).
/// </summary>
public static class ValueRanges
{
    public static IReadOnlyDictionary<string, ValueRange> Load(string path) => Parse(ReadFile(path), path);

    /// <summary>The text of a ranges file; an unreadable file is a <see cref="FormatException"/> naming it.</summary>
    internal static string ReadFile(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FormatException($"cannot read the ranges file '{path}': {e.Message}", e);
        }
    }

    public static IReadOnlyDictionary<string, ValueRange> Parse(string json, string source = "ranges")
    {
        var result = new Dictionary<string, ValueRange>(StringComparer.Ordinal);
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new FormatException($"{source}: expected a JSON object mapping value names to [min, max]");
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                var a = p.Value;
                if (a.ValueKind != JsonValueKind.Array || a.GetArrayLength() != 2)
                    throw new FormatException($"{source}: the range of '{p.Name}' must be [min, max]");
                double lo = Number(a[0], p.Name, source), hi = Number(a[1], p.Name, source);
                if (lo > hi) throw new FormatException($"{source}: the range of '{p.Name}' has min {lo.ToString(CultureInfo.InvariantCulture)} above max {hi.ToString(CultureInfo.InvariantCulture)}");
                result[p.Name] = new ValueRange(lo, hi);
            }
        }
        catch (JsonException e)
        {
            throw new FormatException($"{source}: not valid JSON: {e.Message}", e);
        }
        return result;
    }

    private static double Number(JsonElement e, string name, string source) =>
        e.ValueKind == JsonValueKind.Number ? e.GetDouble() : throw new FormatException($"{source}: the range of '{name}' must hold two numbers");
}

/// <summary>
/// What is known of a tensor's values: the largest magnitude, whether every element is an integer, and whether
/// the magnitude was measured (data or calibration) rather than bounded by an integer source type.
/// </summary>
internal readonly record struct TensorFacts(double MaxAbs, bool IntegerValued, bool Measured = true);

internal static class TensorScan
{
    /// <summary>Largest magnitude and integrality of an FP32 constant's elements; null when its bytes are not available.</summary>
    public static TensorFacts? Scan(TensorConstant c)
    {
        if (c.ElementType != DataType.Float || !c.Data.HasBytes) return null;
        long length = c.Data.ByteLength;
        if (length != c.ElementCount * 4) return null;
        float maxAbs = 0;
        bool integral = true;
        const int chunk = 1 << 22;
        for (long off = 0; off < length; off += chunk)
        {
            var floats = MemoryMarshal.Cast<byte, float>(c.Data.Slice(off, (int)Math.Min(chunk, length - off)));
            if (!Scan(floats, ref maxAbs, ref integral)) return new TensorFacts(double.PositiveInfinity, false);
        }
        return new TensorFacts(maxAbs, integral);
    }

    /// <summary>
    /// Folds <paramref name="floats"/> into the largest magnitude and integrality seen so far, a vector at a time;
    /// false at a NaN or infinity.
    /// </summary>
    private static bool Scan(ReadOnlySpan<float> floats, ref float maxAbs, ref bool integral)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && floats.Length >= Vector<float>.Count)
        {
            var max = Vector<float>.Zero;
            var fractional = Vector<int>.Zero;
            var finiteLimit = new Vector<float>(float.MaxValue);
            var vectors = MemoryMarshal.Cast<float, Vector<float>>(floats);
            foreach (var v in vectors)
            {
                var a = Vector.Abs(v);
                // NaN fails every comparison, so "not below or at the largest finite value" catches NaN and infinities.
                if (!Vector.LessThanOrEqualAll(a, finiteLimit)) return false;
                max = Vector.Max(max, a);
                fractional |= ~Vector.Equals(Vector.Floor(v), v);
            }
            for (int k = 0; k < Vector<float>.Count; k++) maxAbs = Math.Max(maxAbs, max[k]);
            if (fractional != Vector<int>.Zero) integral = false;
            i = vectors.Length * Vector<float>.Count;
        }
        for (; i < floats.Length; i++)
        {
            var f = floats[i];
            if (!float.IsFinite(f)) return false;
            var a = Math.Abs(f);
            if (a > maxAbs) maxAbs = a;
            if (integral && MathF.Floor(f) != f) integral = false;
        }
        return true;
    }
}
