using Alloy.Runtime.Numerics;

namespace Alloy.Runtime.Tests.Conformance;

/// <summary>Compares an actual tensor with an expected one: type and shape exactly, values within tolerance.</summary>
public static class TensorComparer
{
    /// <summary>Null when they agree; otherwise a description of the first differences.</summary>
    public static string? Compare(Tensor? actual, Tensor expected, Tolerance tol)
    {
        if (actual is null) return "no output produced";
        if (actual.Type != expected.Type) return $"element type {actual.Type.Name()}, expected {expected.Type.Name()}";
        if (!actual.Shape.SequenceEqual(expected.Shape)) return $"shape {actual.ShapeText}, expected {expected.ShapeText}";
        if (expected.Type == ElementType.String)
        {
            for (int i = 0; i < expected.Length; i++)
                if (actual.Strings[i] != expected.Strings[i]) return $"element {i}: \"{actual.Strings[i]}\", expected \"{expected.Strings[i]}\"";
            return null;
        }
        int bad = 0;
        string? first = null;
        double worst = 0;
        for (long i = 0; i < expected.Length; i++)
        {
            if (expected.Type.IsFloat())
            {
                double a = ElementConvert.GetDouble(actual, i), e = ElementConvert.GetDouble(expected, i);
                if (double.IsNaN(e) && double.IsNaN(a)) continue;
                if (a == e) continue;
                double err = Math.Abs(a - e);
                if (!double.IsNaN(err) && err <= tol.Absolute + tol.Relative * Math.Abs(e)) continue;
                worst = Math.Max(worst, double.IsNaN(err) ? double.PositiveInfinity : err);
                first ??= $"element {i}: {a}, expected {e}";
            }
            else
            {
                long a = ElementConvert.GetLong(actual, i), e = ElementConvert.GetLong(expected, i);
                if (a == e) continue;
                first ??= $"element {i}: {a}, expected {e}";
            }
            bad++;
        }
        return bad == 0 ? null : $"{bad} of {expected.Length} elements differ (max abs error {worst:G4}); first: {first}";
    }
}
