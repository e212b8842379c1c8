using Alloy.Runtime.Kernels;
using Alloy.Runtime.Numerics;
using Xunit;
using static Alloy.Runtime.Tests.Kernels.ShapeTestKit;

namespace Alloy.Runtime.Tests.Kernels;

public sealed class ShapeTests
{
    [Fact]
    public void ShapeHonoursStartAndEnd()
    {
        var x = Iota(ElementType.Float, 2, 3, 17);
        Assert.Equal([2L, 3, 17], L(Run("Shape", 13, null, x)));
        Assert.Equal([3L, 17], L(Run("Shape", 15, A(("start", 1L)), x)));
        Assert.Equal([2L, 3], L(Run("Shape", 15, A(("end", -1L)), x)));
        Assert.Equal([2L, 3, 17], L(Run("Shape", 15, A(("start", -10L), ("end", 10L)), x)));
        Assert.Empty(L(Run("Shape", 15, A(("start", 2L), ("end", 1L)), x)));
        var s = Run("Shape", 15, null, Str([], "a"));
        AssertShape([0], s);
    }

    [Fact]
    public void SizeIsAnInt64Scalar()
    {
        var y = Run("Size", 13, null, Iota(ElementType.Int4, 3, 17));
        Assert.Equal(ElementType.Int64, y.Type);
        Assert.Empty(y.Shape);
        Assert.Equal([51L], L(y));
    }

    [Theory]
    [MemberData(nameof(Types), MemberType = typeof(ShapeTestKit))]
    public void ReshapeKeepsElementsOfEveryType(ElementType type)
    {
        var x = Iota(type, 3, 1, 17);
        var y = Run("Reshape", 14, null, x, I64(0, -1));
        AssertTaken(x, y, [3, 17], Enumerable.Range(0, 51).Select(i => (long)i).ToArray());
    }

    [Fact]
    public void ReshapeZeroCopiesUnlessAllowZero()
    {
        var x = Iota(ElementType.Float, 2, 3, 4);
        AssertShape([2, 12], Run("Reshape", 13, null, x, I64(0, -1)));
        AssertShape([4, 3, 2], Run("Reshape", 13, null, x, I64(-1, 3, 2)));
        AssertShape([2, 3, 4], Run("Reshape", 1, A(("shape", new long[] { 0, 0, 4 })), x));
        var empty = Tensor.Create(ElementType.Float, [0, 3]);
        AssertShape([3, 0], Run("Reshape", 14, A(("allowzero", 1L)), empty, I64(3, 0)));
        // Without allowzero the 0 copies dimension 1 (3): [3, 3] does not hold 0 elements.
        Fails("Reshape", 14, null, empty, I64(3, 0));
        Fails("Reshape", 14, null, x, I64(-1, -1));
        Fails("Reshape", 14, null, x, I64(5, -1));
        Fails("Reshape", 14, null, x, I64(2, 3, 5));
    }

    [Fact]
    public void FlattenSplitsAtTheAxis()
    {
        var x = Iota(ElementType.Float16, 2, 3, 5);
        AssertShape([1, 30], Run("Flatten", 13, A(("axis", 0L)), x));
        AssertShape([2, 15], Run("Flatten", 13, null, x));
        AssertShape([6, 5], Run("Flatten", 13, A(("axis", -1L)), x));
        var y = Run("Flatten", 13, A(("axis", 3L)), x);
        AssertTaken(x, y, [30, 1], Enumerable.Range(0, 30).Select(i => (long)i).ToArray());
        Fails("Flatten", 13, A(("axis", 4L)), x);
    }

    [Fact]
    public void SqueezeAndUnsqueezeAcrossOpsets()
    {
        var x = Iota(ElementType.Bool, 1, 3, 1, 17);
        AssertShape([3, 17], Run("Squeeze", 11, null, x));
        AssertShape([3, 1, 17], Run("Squeeze", 11, A(("axes", new long[] { 0 })), x));
        AssertShape([1, 3, 17], Run("Squeeze", 13, null, x, I64(-2)));
        AssertShape([3, 17], Run("Squeeze", 13, null, x, I64(0, 2)));
        AssertShape([3, 17], Run("Squeeze", 13, null, x, Tensor.Create(ElementType.Int64, [0])));
        Fails("Squeeze", 13, null, x, I64(1));

        var v = Iota(ElementType.String, 3, 17);
        AssertShape([1, 3, 17, 1], Run("Unsqueeze", 11, A(("axes", new long[] { 0, 3 })), v));
        AssertShape([3, 17, 1], Run("Unsqueeze", 13, null, v, I64(-1)));
        AssertShape([1, 3, 1, 17], Run("Unsqueeze", 13, null, v, I64(2, 0)));
        Assert.Throws<KernelException>(() => RunAll("Unsqueeze", 13, null, 1, v, I64(0, 0)));
        var y = Run("Unsqueeze", 13, null, v, I64(1));
        Assert.Equal(v.Strings, y.Strings);
    }

    [Theory]
    [MemberData(nameof(Types), MemberType = typeof(ShapeTestKit))]
    public void TransposeMovesElementsOfEveryType(ElementType type)
    {
        long[] shape = [3, 1, 17, 2];
        var x = Iota(type, shape);
        long[] perm = [2, 0, 3, 1];
        var outShape = perm.Select(p => shape[p]).ToArray();
        var map = new long[x.Length];
        for (long k = 0; k < map.Length; k++)
        {
            var o = Unflatten(k, outShape);
            var i = new long[4];
            for (int d = 0; d < 4; d++) i[perm[d]] = o[d];
            map[k] = Flatten(i, shape);
        }
        AssertTaken(x, Run("Transpose", 13, A(("perm", perm)), x), outShape, map);
    }

    [Fact]
    public void TransposeDefaultsToReversedAxes()
    {
        var x = F32([2, 3], 1, 2, 3, 4, 5, 6);
        var y = Run("Transpose", 13, null, x);
        AssertShape([3, 2], y);
        Assert.Equal([1.0, 4, 2, 5, 3, 6], D(y));
        Fails("Transpose", 13, A(("perm", new long[] { 0, 0 })), x);
    }

    [Theory]
    [InlineData(ElementType.Int4)]
    [InlineData(ElementType.String)]
    [InlineData(ElementType.BFloat16)]
    [InlineData(ElementType.Bool)]
    public void ConcatJoinsOddSizedInputs(ElementType type)
    {
        var a = Iota(type, 3, 1, 5);
        var b = Iota(type, 3, 3, 5);
        var c = Iota(type, 3, 0, 5);
        var y = Run("Concat", 13, A(("axis", -2L)), a, b, c);
        var map = new long[3 * 4 * 5];
        var src = new int[map.Length];
        for (long k = 0; k < map.Length; k++)
        {
            var o = Unflatten(k, [3, 4, 5]);
            if (o[1] == 0) { map[k] = Flatten([o[0], 0, o[2]], [3, 1, 5]); src[k] = 0; }
            else { map[k] = Flatten([o[0], o[1] - 1, o[2]], [3, 3, 5]); src[k] = 1; }
        }
        AssertShape([3, 4, 5], y);
        for (int k = 0; k < map.Length; k++) Assert.Equal(E(src[k] == 0 ? a : b, map[k]), E(y, k));
        Fails("Concat", 13, A(("axis", 0L)), a, b);
    }

    [Fact]
    public void SplitVariantsAcrossOpsets()
    {
        var x = Iota(ElementType.Int4, 2, 7);
        var parts = RunAll("Split", 11, A(("axis", 1L), ("split", new long[] { 2, 5 })), 2, x);
        AssertTaken(x, parts[0]!, [2, 2], [0, 1, 7, 8]);
        AssertTaken(x, parts[1]!, [2, 5], [2, 3, 4, 5, 6, 9, 10, 11, 12, 13]);

        parts = RunAll("Split", 13, A(("axis", -1L)), 3, x, I64(3, 0, 4));
        AssertShape([2, 0], parts[1]!);
        AssertTaken(x, parts[2]!, [2, 4], [3, 4, 5, 6, 10, 11, 12, 13]);

        // num_outputs (opset 18): chunks of ceil(7/3) = 3, the last one shorter.
        parts = RunAll("Split", 18, A(("axis", 1L), ("num_outputs", 3L)), 3, x);
        Assert.Equal([[2L, 3], [2, 3], [2, 1]], parts.Select(p => p!.Shape));
        AssertTaken(x, parts[2]!, [2, 1], [6, 13]);

        parts = RunAll("Split", 13, null, 2, Iota(ElementType.String, 4, 3));
        AssertTaken(Iota(ElementType.String, 4, 3), parts[1]!, [2, 3], [6, 7, 8, 9, 10, 11]);
        Assert.Throws<KernelException>(() => RunAll("Split", 13, A(("axis", 1L)), 3, x));
        Assert.Throws<KernelException>(() => RunAll("Split", 13, A(("axis", 1L)), 2, x, I64(3, 3)));
    }

    /// <summary>Python slicing of range(dim), written out independently (numpy semantics).</summary>
    private static List<long> PySlice(long dim, long start, long end, long step)
    {
        var r = new List<long>();
        long s = start < 0 ? Math.Max(start + dim, step < 0 ? -1 : 0) : Math.Min(start, step < 0 ? dim - 1 : dim);
        long e = end < 0 ? Math.Max(end + dim, step < 0 ? -1 : 0) : Math.Min(end, step < 0 ? dim - 1 : dim);
        if (step > 0) for (long i = s; i < e; i += step) r.Add(i);
        else for (long i = s; i > e; i += step) r.Add(i);
        return r;
    }

    [Theory]
    [InlineData(0, 17, 1)]
    [InlineData(3, -2, 4)]
    [InlineData(-1, long.MinValue, -1)]
    [InlineData(long.MaxValue, -100, -3)]
    [InlineData(5, 2, 1)]
    [InlineData(-100, 100, 5)]
    [InlineData(16, 0, -2)]
    [InlineData(20, -20, -1)]
    public void SliceMatchesPythonSlicing(long start, long end, long step)
    {
        var x = Iota(ElementType.Float16, 3, 17);
        var y = Run("Slice", 13, null, x, I64(start), I64(end), I64(-1), I64(step));
        var cols = PySlice(17, start, end, step);
        var map = Enumerable.Range(0, 3).SelectMany(r => cols.Select(c => r * 17 + c)).ToArray();
        AssertTaken(x, y, [3, cols.Count], map);
    }

    [Fact]
    public void SliceAttributesBeforeOpset10AndDefaults()
    {
        var x = Iota(ElementType.String, 4, 5);
        var y = Run("Slice", 1, A(("starts", new long[] { 1, 0 }), ("ends", new long[] { 3, -1 })), x);
        AssertTaken(x, y, [2, 4], [5, 6, 7, 8, 10, 11, 12, 13]);
        y = Run("Slice", 1, A(("starts", new long[] { 2 }), ("ends", new long[] { 100 }), ("axes", new long[] { 1 })), x);
        AssertTaken(x, y, [4, 3], [2, 3, 4, 7, 8, 9, 12, 13, 14, 17, 18, 19]);
        // Opset 10+: axes and steps omitted.
        y = Run("Slice", 10, null, x, I64(1), I64(2));
        AssertTaken(x, y, [1, 5], [5, 6, 7, 8, 9]);
        y = Run("Slice", 13, null, x, I32([1], 3), I32([1], 0), I32([1], 1), I32([1], -2));
        AssertTaken(x, y, [4, 2], [3, 1, 8, 6, 13, 11, 18, 16]);
        Fails("Slice", 13, null, x, I64(0), I64(1), I64(0), I64(0));
        // The spec clamps a negative-step start into [0, dim-1] (numpy would give an empty slice here).
        AssertTaken(x, Run("Slice", 13, null, x, I64(-100), I64(-200), I64(1), I64(-1)), [4, 1], [0, 5, 10, 15]);
    }

    [Fact]
    public void ExpandBroadcastsBothWays()
    {
        var x = Iota(ElementType.BFloat16, 3, 1);
        var y = Run("Expand", 13, null, x, I64(2, 1, 5));
        var map = new long[30];
        for (long k = 0; k < 30; k++) map[k] = Unflatten(k, [2, 3, 5])[1];
        AssertTaken(x, y, [2, 3, 5], map);
        AssertShape([3, 1], Run("Expand", 13, null, x, I64(1)));
        Fails("Expand", 13, null, x, I64(2, 2));
    }

    [Fact]
    public void TileRepeatsEachAxis()
    {
        var x = Iota(ElementType.Bool, 2, 3);
        var y = Run("Tile", 13, null, Iota(ElementType.Int32, 2, 3), I64(2, 3));
        var map = new long[36];
        for (long k = 0; k < 36; k++)
        {
            var o = Unflatten(k, [4, 9]);
            map[k] = o[0] % 2 * 3 + o[1] % 3;
        }
        AssertTaken(Iota(ElementType.Int32, 2, 3), y, [4, 9], map);
        AssertTaken(x, Run("Tile", 13, null, x, I64(1, 1)), [2, 3], [0, 1, 2, 3, 4, 5]);
        AssertShape([0, 3], Run("Tile", 13, null, x, I64(0, 1)));
        Fails("Tile", 13, null, x, I64(2));
    }

    [Fact]
    public void PadModes()
    {
        var x = F32([5], 1, 2, 3, 4, 5);
        Assert.Equal([9.0, 9, 1, 2, 3, 4, 5, 9], D(Run("Pad", 13, null, x, I64(2, 1), F32([], 9))));
        Assert.Equal([0.0, 0, 1, 2, 3, 4, 5, 0], D(Run("Pad", 13, null, x, I64(2, 1))));
        Assert.Equal([4.0, 3, 2, 1, 2, 3, 4, 5, 4, 3, 2, 1, 2], D(Run("Pad", 13, A(("mode", "reflect")), x, I64(3, 5))));
        Assert.Equal([1.0, 1, 1, 2, 3, 4, 5, 5], D(Run("Pad", 13, A(("mode", "edge")), x, I64(2, 1))));
        Assert.Equal([4.0, 5, 1, 2, 3, 4, 5, 1, 2, 3], D(Run("Pad", 19, A(("mode", "wrap")), x, I64(2, 3))));
        // Negative pads crop first; wrap then wraps within what is left.
        Assert.Equal([2.0, 3, 4, 5, 2, 3], D(Run("Pad", 19, A(("mode", "wrap")), x, I64(-1, 2))));
        Assert.Equal([3.0, 4], D(Run("Pad", 13, null, x, I64(-2, -1))));
        Assert.Equal([1.0, 1, 2, 3, 4, 5], D(Run("Pad", 2, A(("pads", new long[] { 1, 0 }), ("mode", "edge")), x)));
        Assert.Equal([7.5, 1, 2, 3, 4, 5], D(Run("Pad", 2, A(("pads", new long[] { 1, 0 }), ("value", 7.5f)), x)));
        Assert.Null(Create("Pad", 13, A(("mode", "wrap")), 1, out var reason, x, I64(1, 1)));
        Assert.Contains("wrap", reason);
    }

    [Fact]
    public void PadTwoDimensionsWithAxesAndStrings()
    {
        var x = Str([2, 3], "a", "b", "c", "d", "e", "f");
        var y = Run("Pad", 18, A(("mode", "reflect")), x, I64(1, 2), null, I64(-1));
        AssertShape([2, 6], y);
        Assert.Equal(["b", "a", "b", "c", "b", "a", "e", "d", "e", "f", "e", "d"], y.Strings);
        y = Run("Pad", 13, null, x, I64(1, 0, 0, 1), Str([], "z"));
        Assert.Equal(["z", "z", "z", "z", "a", "b", "c", "z", "d", "e", "f", "z"], y.Strings);
        var h = Iota(ElementType.Float16, 2, 3);
        y = Run("Pad", 13, A(("mode", "edge")), h, I64(0, 1, 1, 0));
        AssertTaken(h, y, [3, 4], [0, 0, 1, 2, 3, 3, 4, 5, 3, 3, 4, 5]);
        Fails("Pad", 13, A(("mode", "edge")), Tensor.Create(ElementType.Float, [0]), I64(1, 1));
    }

    [Theory]
    [InlineData("DCR")]
    [InlineData("CRD")]
    public void DepthToSpaceAndBack(string mode)
    {
        long b = 2, N = 1, C = 8, H = 3, W = 1;
        var x = Iota(ElementType.Int4, N, C, H, W);
        var y = Run("DepthToSpace", 13, A(("blocksize", b), ("mode", mode)), x);
        long c2 = C / (b * b);
        var map = new long[x.Length];
        for (long k = 0; k < map.Length; k++)
        {
            var o = Unflatten(k, [N, c2, H * b, W * b]);
            long i = o[2] % b, j = o[3] % b;
            // DCR: reshape [N, b, b, C', H, W] → transpose [0,3,4,1,5,2]; CRD: reshape [N, C', b, b, H, W] → [0,1,4,2,5,3].
            long[] src6 = mode == "DCR" ? [o[0], i, j, o[1], o[2] / b, o[3] / b] : [o[0], o[1], i, j, o[2] / b, o[3] / b];
            long[] shape6 = mode == "DCR" ? [N, b, b, c2, H, W] : [N, c2, b, b, H, W];
            map[k] = Flatten(src6, shape6);
        }
        AssertTaken(x, y, [N, c2, H * b, W * b], map);
        if (mode == "DCR")
            Assert.Equal(Elements(x), Elements(Run("SpaceToDepth", 13, A(("blocksize", b)), y)));
    }

    [Fact]
    public void SpaceToDepthExample()
    {
        var x = F32([1, 1, 2, 4], 0, 1, 2, 3, 4, 5, 6, 7);
        var y = Run("SpaceToDepth", 13, A(("blocksize", 2L)), x);
        AssertShape([1, 4, 1, 2], y);
        Assert.Equal([0.0, 2, 1, 3, 4, 6, 5, 7], D(y));
        Fails("SpaceToDepth", 13, A(("blocksize", 3L)), x);
    }

    [Fact]
    public void IdentityCopies()
    {
        var x = Iota(ElementType.UInt4, 3);
        var y = Run("Identity", 16, null, x);
        Assert.Equal(Elements(x), Elements(y));
        var s = Str([2], "p", "q");
        Assert.Equal(["p", "q"], Run("Identity", 16, null, s).Strings);
    }
}
