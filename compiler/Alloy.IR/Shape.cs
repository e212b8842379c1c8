using System.Collections.Immutable;

namespace Alloy.IR;

/// <summary>One dimension: a known size, a named symbol (<c>N</c>), or unknown.</summary>
public readonly record struct Dim(long? Size, string? Symbol)
{
    public static Dim Unknown => default;
    public static Dim Of(long size) => new(size, null);
    public static Dim Named(string symbol) => new(null, symbol);
    public bool IsKnown => Size.HasValue;
    public bool IsUnknown => Size is null && Symbol is null;

    public override string ToString() => Size?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? Symbol ?? "?";

    public static implicit operator Dim(long size) => Of(size);
}

/// <summary>A tensor shape of known rank; each dimension may be symbolic or unknown.</summary>
public sealed class Shape : IEquatable<Shape>
{
    public static readonly Shape Scalar = new(ImmutableArray<Dim>.Empty);

    public Shape(ImmutableArray<Dim> dims) => Dims = dims.IsDefault ? ImmutableArray<Dim>.Empty : dims;
    public Shape(params Dim[] dims) : this(ImmutableArray.Create(dims)) { }
    public static Shape Of(params long[] sizes) => new(sizes.Select(Dim.Of).ToImmutableArray());

    public ImmutableArray<Dim> Dims { get; }
    public int Rank => Dims.Length;
    public Dim this[int i] => Dims[i];
    public bool IsFullyKnown => Dims.All(d => d.IsKnown);

    /// <summary>Element count when every dimension is known.</summary>
    public long? ElementCount
    {
        get
        {
            long n = 1;
            foreach (var d in Dims)
            {
                if (d.Size is not { } s) return null;
                n *= s;
            }
            return n;
        }
    }

    public bool Equals(Shape? other) => other is not null && Dims.SequenceEqual(other.Dims);
    public override bool Equals(object? obj) => Equals(obj as Shape);
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var d in Dims) h.Add(d);
        return h.ToHashCode();
    }

    public override string ToString() => "[" + string.Join(",", Dims) + "]";
}
