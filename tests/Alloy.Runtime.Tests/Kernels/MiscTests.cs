using Alloy.Runtime.Kernels;
using Alloy.Runtime.Numerics;
using Xunit;
using static Alloy.Runtime.Tests.Kernels.ShapeTestKit;

namespace Alloy.Runtime.Tests.Kernels;

public sealed class MiscTests
{
    [Fact]
    public void ConstantFromEveryAttributeKind()
    {
        var t = Of(ElementType.BFloat16, [3], 1, -2, 0.5);
        var y = Run("Constant", 13, A(("value", t)));
        Assert.Equal(ElementType.BFloat16, y.Type);
        Assert.Equal(Elements(t), Elements(y));
        Assert.NotSame(y, Run("Constant", 13, A(("value", t))));
        Assert.Equal([2.5], D(Run("Constant", 13, A(("value_float", 2.5f)))));
        Assert.Empty(Run("Constant", 13, A(("value_float", 2.5f))).Shape);
        Assert.Equal([1.0, 2], D(Run("Constant", 13, A(("value_floats", new[] { 1f, 2f })))));
        var i = Run("Constant", 13, A(("value_int", 7L)));
        Assert.Equal(ElementType.Int64, i.Type);
        Assert.Equal([7L], L(i));
        Assert.Equal([3L, 4, 5], L(Run("Constant", 13, A(("value_ints", new long[] { 3, 4, 5 })))));
        Assert.Equal(["hi"], Run("Constant", 13, A(("value_string", "hi"))).Strings);
        Assert.Equal(["a", "b"], Run("Constant", 13, A(("value_strings", new[] { "a", "b" }))).Strings);
        Assert.Equal([0.0, 4], D(Run("Constant", 13, A(("sparse_value", F32([2], 0, 4))))));
        Assert.Null(Create("Constant", 13, null, 1, out var reason));
        Assert.NotNull(reason);
        Assert.Null(Create("Constant", 13, A(("value_int", 1L), ("value_float", 1f)), 1, out _));
    }

    [Fact]
    public void ConstantOfShapeFillsAnyType()
    {
        var y = Run("ConstantOfShape", 9, null, I64(2, 3));
        Assert.Equal(ElementType.Float, y.Type);
        Assert.Equal(new double[6], D(y));
        var v = Run("ConstantOfShape", 9, A(("value", I32([1], 5))), I64(3));
        Assert.Equal(ElementType.Int32, v.Type);
        Assert.Equal([5L, 5, 5], L(v));
        var h = Run("ConstantOfShape", 20, A(("value", Of(ElementType.Float16, [1], -1.5))), Tensor.Create(ElementType.Int64, [0]));
        Assert.Empty(h.Shape);
        Assert.Equal([-1.5], D(h));
        AssertShape([2, 0], Run("ConstantOfShape", 9, A(("value", I64([1], 1))), I64(2, 0)));
        Assert.Equal(["x", "x"], Run("ConstantOfShape", 20, A(("value", Str([1], "x"))), I64(2)).Strings);
        var q = Run("ConstantOfShape", 21, A(("value", Of(ElementType.Int4, [1], -3))), I64(3));
        Assert.Equal([-3L, -3, -3], L(q));
        Fails("ConstantOfShape", 9, null, I64(-1));
    }

    [Fact]
    public void RangeCountsLikeTheSpec()
    {
        Assert.Equal([3L, 6, 9, 12, 15], L(Run("Range", 11, null, Scalar(3), Scalar(17), Scalar(3))));
        Assert.Equal([10L, 6, 2], L(Run("Range", 11, null, I32([], 10), I32([], 1), I32([], -4))));
        Assert.Empty(L(Run("Range", 11, null, Scalar(3), Scalar(3), Scalar(1))));
        Assert.Empty(L(Run("Range", 11, null, Scalar(3), Scalar(1), Scalar(1))));
        var f = Run("Range", 11, null, F32([], 1), F32([], 2), F32([], 0.3f));
        Assert.Equal(ElementType.Float, f.Type);
        Assert.Equal(4, f.Length);
        Assert.Equal(new[] { 0, 1, 2, 3 }.Select(i => (double)(float)(1.0 + i * (double)0.3f)), D(f));
        var h = Run("Range", 11, null, Of(ElementType.Float16, [], 0), Of(ElementType.Float16, [], 1), Of(ElementType.Float16, [], RoundToF16(0.1)));
        int n = (int)Math.Ceiling(1 / RoundToF16(0.1)); // 11: f16(0.1) is slightly below 0.1
        Assert.Equal(n, h.Length);
        Assert.Equal(Enumerable.Range(0, n).Select(i => RoundToF16(i * RoundToF16(0.1))), D(h));
        Fails("Range", 11, null, Scalar(0), Scalar(1), Scalar(0));
        Fails("Range", 11, null, Scalar(0), I32([], 1), Scalar(1));
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(1L)]
    [InlineData(-2L)]
    [InlineData(5L)]
    public void EyeLikeSetsOneDiagonal(long k)
    {
        var x = Iota(ElementType.Int32, 3, 4);
        var y = Run("EyeLike", 9, A(("k", k)), x);
        Assert.Equal(ElementType.Int32, y.Type);
        Assert.Equal(Enumerable.Range(0, 12).Select(p => p % 4 - p / 4 == k ? 1L : 0L), L(y));
        var b = Run("EyeLike", 9, A(("k", k), ("dtype", (long)ElementType.BFloat16)), x);
        Assert.Equal(ElementType.BFloat16, b.Type);
        Assert.Equal(Enumerable.Range(0, 12).Select(p => p % 4 - p / 4 == k ? 1.0 : 0.0), D(b));
        Assert.Equal(ElementType.Bool, Run("EyeLike", 9, A(("dtype", (long)ElementType.Bool)), x).Type);
        Fails("EyeLike", 9, null, Iota(ElementType.Int32, 3));
    }

    [Fact]
    public void DropoutInferenceIsIdentity()
    {
        var x = Iota(ElementType.Float16, 3, 17);
        var r = RunAll("Dropout", 13, null, 2, x);
        Assert.Equal(Elements(x), Elements(r[0]!));
        Assert.Equal(ElementType.Bool, r[1]!.Type);
        Assert.All(L(r[1]!), v => Assert.Equal(1, v));
        r = RunAll("Dropout", 7, A(("ratio", 0.3f)), 2, x);
        Assert.Equal(Elements(x), Elements(r[0]!));
        Assert.Equal(ElementType.Float16, r[1]!.Type);
        Assert.All(D(r[1]!), v => Assert.Equal(1.0, v));
        r = RunAll("Dropout", 13, null, 2, x, F32([], 0.5f), Bools([], false));
        Assert.Equal(Elements(x), Elements(r[0]!));
        r = RunAll("Dropout", 13, null, 2, x, F32([], 0), Bools([], true));
        Assert.Equal(Elements(x), Elements(r[0]!));
    }

    [Fact]
    public void TrainingDropoutFollowsNumpysGenerator()
    {
        // np.random.seed(0); np.random.uniform(0, 1, 5) = [0.5488135, 0.71518937, 0.60276338, 0.54488318, 0.4236548]:
        // with ratio 0.55 elements 1 and 2 are kept.
        var x = F32([5], 1, 2, 3, 4, 5);
        var r = RunAll("Dropout", 13, A(("seed", 0L)), 2, x, F32([], 0.55f), Bools([], true));
        Assert.Equal(new[] { 0.0, 2 / (1 - (double)0.55f), 3 / (1 - (double)0.55f), 0, 0 }.Select(v => (double)(float)v), D(r[0]!));
        Assert.Equal([0L, 1, 1, 0, 0], L(r[1]!));
        Assert.Throws<KernelException>(() => RunAll("Dropout", 13, null, 1, x, F32([], 1), Bools([], true)));
    }
}
