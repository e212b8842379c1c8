using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Alloy.Runtime.Kernels.Managed;

/// <summary>Lane masks of the integer kernels: the first n lanes of a vector (for masked loads and stores).</summary>
internal static class Int8Vectors
{
    /// <summary>The first <paramref name="n"/> (≤ 64) byte lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> FirstBytes(long n) => Vector512.LessThan(Vector512<byte>.Indices, Vector512.Create((byte)Math.Min(64, n)));

    /// <summary>The first <paramref name="n"/> (≤ 32) int16 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<short> FirstShorts(long n) => Vector512.LessThan(Vector512<short>.Indices, Vector512.Create((short)Math.Min(32, n)));
}
