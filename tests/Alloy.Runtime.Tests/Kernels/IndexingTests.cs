using Alloy.Runtime.Kernels;
using Alloy.Runtime.Numerics;
using Xunit;
using static Alloy.Runtime.Tests.Kernels.ShapeTestKit;

namespace Alloy.Runtime.Tests.Kernels;

public sealed class IndexingTests
{
    [Theory]
    [MemberData(nameof(Types), MemberType = typeof(ShapeTestKit))]
    public void GatherTakesSlicesOfEveryType(ElementType type)
    {
        var x = Iota(type, 3, 17);
        var y = Run("Gather", 13, A(("axis", 1L)), x, I64([2, 2], 16, 0, -1, 5));
        var map = new long[3 * 4];
        long[] cols = [16, 0, 16, 5];
        for (int r = 0; r < 3; r++) for (int c = 0; c < 4; c++) map[r * 4 + c] = r * 17 + cols[c];
        AssertTaken(x, y, [3, 2, 2], map);
    }

    [Fact]
    public void GatherAxis0AndBounds()
    {
        var x = F32([3, 2], 1, 2, 3, 4, 5, 6);
        var y = Run("Gather", 13, null, x, I32([2], 2, 0));
        Assert.Equal([5.0, 6, 1, 2], D(y));
        AssertShape([2, 2], y);
        AssertShape([2], Run("Gather", 13, null, x, Scalar(-1)));
        Fails("Gather", 13, null, x, I64(3));
        Fails("Gather", 13, null, x, I64(-4));
        Fails("Gather", 13, null, x, F32([1], 0));
    }

    [Fact]
    public void GatherElementsPicksAlongTheAxis()
    {
        var x = F32([2, 2], 1, 2, 3, 4);
        Assert.Equal([1.0, 1, 4, 3], D(Run("GatherElements", 13, A(("axis", 1L)), x, I64([2, 2], 0, 0, 1, 0))));
        var m = Iota(ElementType.String, 3, 3);
        var y = Run("GatherElements", 13, null, m, I64([2, 3], 1, 2, 0, 2, 0, -1));
        AssertTaken(m, y, [2, 3], [3, 7, 2, 6, 1, 8]);
        Fails("GatherElements", 13, null, x, I64([2, 2], 0, 2, 0, 0));
    }

    [Fact]
    public void GatherNDSpecExamples()
    {
        var d2 = I32([2, 2], 0, 1, 2, 3);
        Assert.Equal([0L, 3], L(Run("GatherND", 13, null, d2, I64([2, 2], 0, 0, 1, 1))));
        var y = Run("GatherND", 13, null, d2, I64([2, 1], 1, 0));
        AssertShape([2, 2], y);
        Assert.Equal([2L, 3, 0, 1], L(y));
        var d3 = Iota(ElementType.Float16, 2, 2, 2);
        AssertTaken(d3, Run("GatherND", 13, null, d3, I64([2, 2], 0, 1, 1, 0)), [2, 2], [2, 3, 4, 5]);
        AssertTaken(d3, Run("GatherND", 13, null, d3, I64([2, 1, 2], 0, 1, 1, 0)), [2, 1, 2], [2, 3, 4, 5]);
        AssertTaken(d3, Run("GatherND", 13, A(("batch_dims", 1L)), d3, I64([2, 1], 1, 0)), [2, 2], [2, 3, 4, 5]);
        AssertTaken(d3, Run("GatherND", 13, A(("batch_dims", 1L)), d3, I64([2, 2], 1, -1, 0, 0)), [2], [3, 4]);
        Fails("GatherND", 13, null, d3, I64([1, 4], 0, 0, 0, 0));
        Fails("GatherND", 13, null, d3, I64([1, 1], 2));
    }

    [Fact]
    public void ScatterNDWithReductions()
    {
        var data = F32([8], 1, 2, 3, 4, 5, 6, 7, 8);
        var idx = I64([4, 1], 4, 3, 1, 7);
        var upd = F32([4], 9, 10, 11, 12);
        Assert.Equal([1.0, 11, 3, 10, 9, 6, 7, 12], D(Run("ScatterND", 13, null, data, idx, upd)));
        var dup = I64([2, 1], 4, -4);
        Assert.Equal([1.0, 2, 3, 4, 8, 6, 7, 8], D(Run("ScatterND", 16, A(("reduction", "add")), data, dup, F32([2], 1, 2))));
        Assert.Equal([1.0, 2, 3, 4, 10, 6, 7, 8], D(Run("ScatterND", 16, A(("reduction", "mul")), data, dup, F32([2], 1, 2))));
        Assert.Equal([1.0, 2, 3, 4, 7, 6, 7, 8], D(Run("ScatterND", 18, A(("reduction", "max")), data, dup, F32([2], 7, 3))));
        Assert.Equal([1.0, 2, 3, 4, 3, 6, 7, 8], D(Run("ScatterND", 18, A(("reduction", "min")), data, dup, F32([2], 7, 3))));
        // Slices: data [2, 3], one row replaced.
        var s = Str([2, 3], "a", "b", "c", "d", "e", "f");
        Assert.Equal(["a", "b", "c", "x", "y", "z"], Run("ScatterND", 13, null, s, I64([1, 1], 1), Str([1, 3], "x", "y", "z")).Strings);
        Fails("ScatterND", 13, null, data, idx, F32([3], 1, 2, 3));
        Assert.Null(Create("ScatterND", 16, A(("reduction", "xor")), 1, out _, data, idx, upd));
    }

    [Fact]
    public void ScatterReductionsRoundOnceInLowPrecision()
    {
        // f16 spacing at 2048 is 2: adding 1 then 1 step by step would round back to 2048 each time.
        var data = Of(ElementType.Float16, [2], 2048, 0);
        var y = Run("ScatterElements", 16, A(("reduction", "add")), data, I64([2], 0, 0), Of(ElementType.Float16, [2], 1, 1));
        Assert.Equal([2050.0, 0], D(y));
        var u = Run("ScatterElements", 18, A(("reduction", "max")), Tensor.FromArray(ElementType.UInt64, [2], new ulong[] { 1, ulong.MaxValue }),
            I64([2], 0, 1), Tensor.FromArray(ElementType.UInt64, [2], new ulong[] { ulong.MaxValue - 1, 5 }));
        Assert.Equal([ulong.MaxValue - 1, ulong.MaxValue], u.ToArray<ulong>());
        var i8 = Run("ScatterND", 16, A(("reduction", "add")), I8([2], 100, 0), I64([2, 1], 0, 0), I8([2], 20, 10));
        Assert.Equal([-126L, 0], L(i8)); // wraps like C
    }

    [Fact]
    public void ScatterElementsSpecExamplesAndScatter()
    {
        var data = F32([1, 5], 1, 2, 3, 4, 5);
        var y = Run("ScatterElements", 13, A(("axis", 1L)), data, I64([1, 2], 1, -2), F32([1, 2], 1.1f, 2.1f));
        Assert.Equal(new[] { 1, 1.1f, 3, 2.1f, 5 }.Select(v => (double)v), D(y));
        var z = F32([3, 3], new float[9]);
        var upd = F32([2, 3], 1, 1.1f, 1.2f, 2, 2.1f, 2.2f);
        var idx = I64([2, 3], 1, 0, 2, 0, 2, 1);
        var expected = new[] { 2, 1.1f, 0, 1, 0, 2.2f, 0, 2.1f, 1.2f }.Select(v => (double)v).ToArray();
        Assert.Equal(expected, D(Run("ScatterElements", 13, null, z, idx, upd)));
        Assert.Equal(expected, D(Run("Scatter", 9, null, z, idx, upd)));
        Fails("ScatterElements", 13, null, z, I64([2, 3], 1, 0, 3, 0, 2, 1), upd);
    }

    [Fact]
    public void CompressSelectsAlongAnAxisOrFlat()
    {
        var x = F32([3, 2], 1, 2, 3, 4, 5, 6);
        Assert.Equal([3.0, 4, 5, 6], D(Run("Compress", 11, A(("axis", 0L)), x, Bools([3], false, true, true))));
        Assert.Equal([2.0, 4, 6], D(Run("Compress", 11, A(("axis", -1L)), x, Bools([2], false, true))));
        Assert.Equal([2.0, 5], D(Run("Compress", 11, null, x, Bools([5], false, true, false, false, true))));
        Assert.Equal(["b"], Run("Compress", 11, null, Str([3], "a", "b", "c"), Bools([2], false, true)).Strings);
        Fails("Compress", 11, null, x, Bools([7], false, false, false, false, false, false, true));
    }

    [Fact]
    public void NonZeroListsCoordinates()
    {
        var y = Run("NonZero", 13, null, I32([2, 2], 1, 0, 1, 1));
        AssertShape([2, 3], y);
        Assert.Equal([0L, 1, 1, 0, 0, 1], L(y));
        Assert.Equal([1L, 2], L(Run("NonZero", 13, null, Str([3], "", "a", "b"))));
        Assert.Equal([0L, 2], L(Run("NonZero", 13, null, Of(ElementType.Float16, [3], double.NaN, 0, -0.5))));
        AssertShape([1, 0], Run("NonZero", 13, null, Bools([3], false, false, false)));
    }

    [Fact]
    public void TopKTiesTakeTheLowerIndex()
    {
        var x = F32([5], 3, 1, 3, 2, 1);
        var r = RunAll("TopK", 11, null, 2, x, I64(3));
        Assert.Equal([3.0, 3, 2], D(r[0]!));
        Assert.Equal([0L, 2, 3], L(r[1]!));
        r = RunAll("TopK", 11, A(("largest", 0L)), 2, x, I64(3));
        Assert.Equal([1.0, 1, 2], D(r[0]!));
        Assert.Equal([1L, 4, 3], L(r[1]!));
        r = RunAll("TopK", 1, A(("k", 2L)), 2, x);
        Assert.Equal([0L, 2], L(r[1]!));
        Assert.Throws<KernelException>(() => RunAll("TopK", 11, null, 2, x, I64(6)));
    }

    [Theory]
    [InlineData(ElementType.Float, true)]
    [InlineData(ElementType.BFloat16, false)]
    [InlineData(ElementType.Int8, true)]
    [InlineData(ElementType.UInt64, false)]
    public void TopKMatchesAStableSort(ElementType type, bool largest)
    {
        var rng = new Random(7);
        var values = Enumerable.Range(0, 3 * 17).Select(_ => (double)rng.Next(0, 9)).ToArray();
        var x = Of(type, [3, 17], values);
        var r = RunAll("TopK", 11, A(("axis", -1L), ("largest", largest ? 1L : 0L)), 2, x, I64(5));
        AssertShape([3, 5], r[0]!);
        for (int row = 0; row < 3; row++)
        {
            var order = Enumerable.Range(0, 17);
            var sorted = (largest ? order.OrderByDescending(i => values[row * 17 + i]) : order.OrderBy(i => values[row * 17 + i])).Take(5).ToArray();
            Assert.Equal(sorted.Select(i => (long)i), L(r[1]!).Skip(row * 5).Take(5));
            Assert.Equal(sorted.Select(i => values[row * 17 + i]), D(r[0]!).Skip(row * 5).Take(5));
        }
    }

    [Fact]
    public void OneHotAnyValueType()
    {
        var y = Run("OneHot", 11, null, I64(0, -1, 3, 5), Scalar(4), F32([2], 0, 1));
        AssertShape([4, 4], y);
        Assert.Equal([1.0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0], D(y));
        var s = Run("OneHot", 11, A(("axis", 0L)), F32([2], 1.7f, 0), F32([], 3), Str([2], "n", "y"));
        AssertShape([3, 2], s);
        Assert.Equal(["n", "y", "y", "n", "n", "n"], s.Strings);
        Fails("OneHot", 11, null, I64(0), Scalar(0), F32([2], 0, 1));
    }

    [Fact]
    public void ReverseSequenceSpecExamples()
    {
        var x = Iota(ElementType.Int64, 4, 4);
        Assert.Equal([12L, 9, 6, 3, 8, 5, 2, 7, 4, 1, 10, 11, 0, 13, 14, 15],
            L(Run("ReverseSequence", 10, A(("time_axis", 0L), ("batch_axis", 1L)), x, I64(4, 3, 2, 1))));
        Assert.Equal([0L, 1, 2, 3, 5, 4, 6, 7, 10, 9, 8, 11, 15, 14, 13, 12],
            L(Run("ReverseSequence", 10, A(("time_axis", 1L), ("batch_axis", 0L)), x, I64(1, 2, 3, 4))));
        Fails("ReverseSequence", 10, null, x, I64(5, 1, 1, 1));
    }

    [Theory]
    [InlineData(true, 0)]
    [InlineData(true, 2)]
    [InlineData(false, -1)]
    [InlineData(false, 0)]
    [InlineData(true, -7)]
    public void TriluKeepsOneTriangle(bool upper, long k)
    {
        var x = Iota(ElementType.Bool, 2, 3, 5);
        var v = Iota(ElementType.Int16, 2, 3, 5);
        var yb = Run("Trilu", 14, A(("upper", upper ? 1L : 0L)), x, Scalar(k));
        var yv = Run("Trilu", 14, A(("upper", upper ? 1L : 0L)), v, Scalar(k));
        for (long p = 0; p < 30; p++)
        {
            long i = p / 5 % 3, j = p % 5;
            bool keep = upper ? j - i >= k : j - i <= k;
            Assert.Equal(keep ? L(v)[p] : 0, L(yv)[p]);
            Assert.Equal(keep ? L(x)[p] : 0, L(yb)[p]);
        }
        if (k == 0) Assert.Equal(L(yv), L(Run("Trilu", 14, A(("upper", upper ? 1L : 0L)), v)));
    }

    [Fact]
    public void UniqueSpecExamples()
    {
        var x = F32([6], 2, 1, 1, 3, 4, 3);
        var r = RunAll("Unique", 11, null, 4, x);
        Assert.Equal([1.0, 2, 3, 4], D(r[0]!));
        Assert.Equal([1L, 0, 3, 4], L(r[1]!));
        Assert.Equal([1L, 0, 0, 2, 3, 2], L(r[2]!));
        Assert.Equal([2L, 1, 2, 1], L(r[3]!));
        r = RunAll("Unique", 11, A(("sorted", 0L)), 4, x);
        Assert.Equal([2.0, 1, 3, 4], D(r[0]!));
        Assert.Equal([0L, 1, 3, 4], L(r[1]!));
        Assert.Equal([0L, 1, 1, 2, 3, 2], L(r[2]!));
        Assert.Equal([1L, 2, 2, 1], L(r[3]!));
        r = RunAll("Unique", 11, A(("axis", 0L)), 4, I32([3, 3], 1, 0, 0, 1, 0, 0, 2, 3, 4));
        AssertShape([2, 3], r[0]!);
        Assert.Equal([1L, 0, 0, 2, 3, 4], L(r[0]!));
        Assert.Equal([0L, 2], L(r[1]!));
        Assert.Equal([0L, 0, 1], L(r[2]!));
        Assert.Equal([2L, 1], L(r[3]!));
        r = RunAll("Unique", 11, A(("axis", -1L)), 1, I32([2, 3], 2, 1, 2, 0, 5, 0));
        Assert.Equal([1L, 2, 5, 0], L(r[0]!));
        Assert.Equal(["a", "b"], Run("Unique", 11, null, Str([3], "b", "a", "b")).Strings);
    }
}
