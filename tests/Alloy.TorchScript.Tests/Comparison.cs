using Alloy.Runtime;
using Alloy.Runtime.Numerics;

namespace Alloy.TorchScript.Tests;

/// <summary>How far a tensor is from a reference: max |actual − reference| / max(1, max |reference|).</summary>
public static class Comparison
{
    public const double Tolerance = 1e-4;

    /// <summary>Null when within tolerance; otherwise what differs.</summary>
    public static string? Problem(string what, Tensor? actual, Tensor reference, double tolerance = Tolerance)
    {
        if (actual is null) return $"{what}: no value";
        if (actual.Type != reference.Type) return $"{what}: element type {actual.Type}, the reference is {reference.Type}";
        if (!actual.Shape.SequenceEqual(reference.Shape)) return $"{what}: shape {actual.ShapeText}, the reference is {reference.ShapeText}";
        double maxAbs = 0, maxRef = 0;
        for (long i = 0; i < reference.Length; i++)
        {
            double a = ElementConvert.GetDouble(actual, i), r = ElementConvert.GetDouble(reference, i);
            double diff = a == r ? 0 : Math.Abs(a - r);
            maxAbs = Math.Max(maxAbs, double.IsNaN(diff) ? double.PositiveInfinity : diff);
            maxRef = Math.Max(maxRef, Math.Abs(r));
        }
        double rel = maxAbs / Math.Max(1, maxRef);
        return rel <= tolerance ? null : $"{what}: max |diff| {maxAbs:G3}, max |ref| {maxRef:G4}, relative {rel:G3} > {tolerance:G2}";
    }
}
