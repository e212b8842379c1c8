using System.Collections.Immutable;
using Alloy.IR;

namespace Alloy.Passes.ShapeInference;

/// <summary>
/// Arithmetic on dimensions. A symbolic dimension is read as a monomial: a positive coefficient times a product
/// of symbols (<c>N</c>, <c>4*N</c>, <c>N*T</c>); products and exact quotients of monomials stay symbolic, so
/// <c>N × 4</c> gives the symbol <c>4*N</c> and <c>(4*N) / 4</c> gives <c>N</c> back. Anything not derivable
/// (sums of different symbols, inexact division, unknown operands) is an unknown dimension.
/// </summary>
internal static class DimMath
{
    /// <summary>A monomial: <see cref="Coefficient"/> × the product of <see cref="Symbols"/> (sorted, ordinal).</summary>
    private readonly record struct Monomial(long Coefficient, ImmutableArray<string> Symbols)
    {
        public bool IsNumber => Symbols.IsEmpty;
    }

    private static Monomial? ToMonomial(Dim d)
    {
        if (d.Size is { } s) return new Monomial(s, []);
        if (d.Symbol is not { } sym) return null;
        long coef = 1;
        var symbols = ImmutableArray.CreateBuilder<string>();
        foreach (var part in sym.Split('*'))
        {
            var p = part.Trim();
            if (p.Length == 0) return new Monomial(1, [sym]);
            if (long.TryParse(p, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var c))
            {
                try { coef = checked(coef * c); }
                catch (OverflowException) { return null; }
            }
            else symbols.Add(p);
        }
        symbols.Sort(StringComparer.Ordinal);
        return new Monomial(coef, symbols.ToImmutable());
    }

    private static Dim FromMonomial(Monomial m)
    {
        if (m.IsNumber) return Dim.Of(m.Coefficient);
        if (m.Coefficient == 0) return Dim.Of(0);
        if (m.Coefficient < 0) return Dim.Unknown;
        var text = string.Join("*", m.Symbols);
        return Dim.Named(m.Coefficient == 1 ? text : m.Coefficient.ToString(System.Globalization.CultureInfo.InvariantCulture) + "*" + text);
    }

    /// <summary>Same known size, or the same monomial (so <c>4*N</c> equals <c>N*4</c>).</summary>
    public static bool SameDim(Dim a, Dim b)
    {
        if (a.Size is { } x && b.Size is { } y) return x == y;
        if (a.IsUnknown || b.IsUnknown || a.IsKnown || b.IsKnown) return false;
        if (a.Symbol == b.Symbol) return true;
        return ToMonomial(a) is { } ma && ToMonomial(b) is { } mb && ma.Coefficient == mb.Coefficient && ma.Symbols.SequenceEqual(mb.Symbols);
    }

    public static Dim Mul(Dim a, Dim b)
    {
        if (a.Size is { } x && b.Size is { } y)
        {
            try { return Dim.Of(checked(x * y)); }
            catch (OverflowException) { return Dim.Unknown; }
        }
        if (a.Size == 0 || b.Size == 0) return Dim.Of(0);
        if (ToMonomial(a) is not { } ma || ToMonomial(b) is not { } mb) return Dim.Unknown;
        long coef;
        try { coef = checked(ma.Coefficient * mb.Coefficient); }
        catch (OverflowException) { return Dim.Unknown; }
        var symbols = ma.Symbols.AddRange(mb.Symbols).Sort(StringComparer.Ordinal);
        return FromMonomial(new Monomial(coef, symbols));
    }

    /// <summary>The product of <paramref name="dims"/> (1 for none).</summary>
    public static Dim Product(IEnumerable<Dim> dims)
    {
        Dim p = Dim.Of(1);
        foreach (var d in dims) p = Mul(p, d);
        return p;
    }

    /// <summary>An exact quotient; for two numbers, integer division truncating toward zero (as ONNX Div on integers).</summary>
    public static Dim Div(Dim a, Dim b)
    {
        if (a.Size is { } x && b.Size is { } y) return y == 0 ? Dim.Unknown : (x == long.MinValue && y == -1 ? Dim.Unknown : Dim.Of(x / y));
        return ExactDiv(a, b);
    }

    /// <summary>The quotient only when it is exact (used where a dimension must divide evenly).</summary>
    public static Dim ExactDiv(Dim a, Dim b)
    {
        if (a.Size is { } x && b.Size is { } y) return y != 0 && x % y == 0 ? Dim.Of(x / y) : Dim.Unknown;
        if (a.Size == 0 && b.Size != 0 && !b.IsUnknown) return Dim.Of(0);
        if (ToMonomial(a) is not { } ma || ToMonomial(b) is not { } mb) return Dim.Unknown;
        if (mb.Coefficient == 0 || ma.Coefficient % mb.Coefficient != 0) return Dim.Unknown;
        var rest = ma.Symbols.ToList();
        foreach (var s in mb.Symbols)
            if (!rest.Remove(s)) return Dim.Unknown;
        return FromMonomial(new Monomial(ma.Coefficient / mb.Coefficient, [.. rest]));
    }

    public static Dim Add(Dim a, Dim b)
    {
        if (a.Size is { } x && b.Size is { } y)
        {
            try { return Dim.Of(checked(x + y)); }
            catch (OverflowException) { return Dim.Unknown; }
        }
        if (a.Size == 0) return b;
        if (b.Size == 0) return a;
        if (ToMonomial(a) is { IsNumber: false } ma && ToMonomial(b) is { IsNumber: false } mb && ma.Symbols.SequenceEqual(mb.Symbols))
            return FromMonomial(new Monomial(ma.Coefficient + mb.Coefficient, ma.Symbols));
        return Dim.Unknown;
    }

    public static Dim Sub(Dim a, Dim b)
    {
        if (a.Size is { } x && b.Size is { } y)
        {
            try { return Dim.Of(checked(x - y)); }
            catch (OverflowException) { return Dim.Unknown; }
        }
        if (b.Size == 0) return a;
        if (ToMonomial(a) is { IsNumber: false } ma && ToMonomial(b) is { IsNumber: false } mb && ma.Symbols.SequenceEqual(mb.Symbols))
            return FromMonomial(new Monomial(ma.Coefficient - mb.Coefficient, ma.Symbols));
        return Dim.Unknown;
    }

    /// <summary>Multidirectional (numpy) broadcast of two dimensions.</summary>
    public static Dim Broadcast(Dim a, Dim b)
    {
        if (a.Size == 1) return b;
        if (b.Size == 1) return a;
        if (a.IsKnown) return a; // b is a's size, or 1 (excluded), or the graph is invalid
        if (b.IsKnown) return b;
        if (SameDim(a, b)) return a;
        return Dim.Unknown;
    }

    /// <summary>The one dimension both sides agree on, else unknown (merging the branches of an If).</summary>
    public static Dim Join(Dim a, Dim b) => SameDim(a, b) ? a : Dim.Unknown;
}
