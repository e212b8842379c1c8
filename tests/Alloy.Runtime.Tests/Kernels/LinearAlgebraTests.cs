using Xunit;
using Alloy.Runtime.Kernels;
using Alloy.Runtime.Numerics;
using static Alloy.Runtime.Tests.Kernels.LinAlgHarness;

namespace Alloy.Runtime.Tests.Kernels;

public sealed class LinearAlgebraTests
{
    /// <summary>Naive batched matmul of row-major [B, M, K] x [B, K, N] with explicit batch maps.</summary>
    private static double[] NaiveMatMul(double[] a, double[] b, int batch, int m, int k, int n, Func<int, int> aMat, Func<int, int> bMat)
    {
        var y = new double[batch * m * n];
        for (int p = 0; p < batch; p++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double s = 0;
                    for (int q = 0; q < k; q++) s += a[aMat(p) * m * k + i * k + q] * b[bMat(p) * k * n + q * n + j];
                    y[p * m * n + i * n + j] = s;
                }
        return y;
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 17, 1)]
    [InlineData(17, 3, 5)]
    [InlineData(4, 1, 17)]
    public void MatMul2DMatchesNaiveProduct(int m, int k, int n)
    {
        var a = Random(m * k, 1);
        var b = Random(k * n, 2);
        var y = Run1("MatMul", null, F32([m, k], a), F32([k, n], b));
        AssertRounded(NaiveMatMul(a, b, 1, m, k, n, _ => 0, _ => 0), y, ElementType.Float, [m, n]);
    }

    [Fact]
    public void MatMulBroadcastsBatchDims()
    {
        // A [2,1,3,4] x B [3,4,5] -> [2,3,3,5]: A's matrix (p0, 0), B's matrix p1.
        var a = Random(2 * 3 * 4, 3);
        var b = Random(3 * 4 * 5, 4);
        var y = Run1("MatMul", null, F32([2, 1, 3, 4], a), F32([3, 4, 5], b));
        var expected = NaiveMatMul(a, b, 6, 3, 4, 5, p => p / 3, p => p % 3);
        AssertRounded(expected, y, ElementType.Float, [2, 3, 3, 5]);
    }

    [Fact]
    public void MatMulPromotesOneDimensionalOperands()
    {
        var v = Random(3, 5);
        var m = Random(3 * 4, 6);
        // [3] x [3,4] -> [4]
        var y1 = Run1("MatMul", null, F32([3], v), F32([3, 4], m));
        AssertRounded(NaiveMatMul(v, m, 1, 1, 3, 4, _ => 0, _ => 0), y1, ElementType.Float, [4]);
        // [4,3] x [3] -> [4]
        var mt = Random(4 * 3, 7);
        var y2 = Run1("MatMul", null, F32([4, 3], mt), F32([3], v));
        AssertRounded(NaiveMatMul(mt, v, 1, 4, 3, 1, _ => 0, _ => 0), y2, ElementType.Float, [4]);
        // [3] x [3] -> scalar
        var y3 = Run1("MatMul", null, F32([3], v), F32([3], v));
        AssertRounded([v.Sum(x => x * x)], y3, ElementType.Float, []);
        // [2,3,4] x [4] -> [2,3]
        var batch = Random(24, 8);
        var w = Random(4, 9);
        var y4 = Run1("MatMul", null, F32([2, 3, 4], batch), F32([4], w));
        AssertRounded(NaiveMatMul(batch, w, 1, 6, 4, 1, _ => 0, _ => 0), y4, ElementType.Float, [2, 3]);
    }

    [Theory]
    [InlineData(ElementType.BFloat16)]
    [InlineData(ElementType.Float16)]
    [InlineData(ElementType.Double)]
    public void MatMulRoundsOnceToTheInputType(ElementType type)
    {
        var a = RandomOf(type, 5 * 17, 10);
        var b = RandomOf(type, 17 * 3, 11);
        var y = Run1("MatMul", null, T(type, [5, 17], a), T(type, [17, 3], b));
        AssertRounded(NaiveMatMul(a, b, 1, 5, 17, 3, _ => 0, _ => 0), y, type, [5, 3]);
    }

    [Fact]
    public void MatMulIntegersWrapLikeC()
    {
        var a = ElementConvert.FromLongs(ElementType.Int32, [1, 2], [int.MaxValue, 3]);
        var b = ElementConvert.FromLongs(ElementType.Int32, [2, 1], [2, 5]);
        var y = Run1("MatMul", null, a, b);
        AssertLongs([unchecked((int)(2L * int.MaxValue + 15))], y, ElementType.Int32, [1, 1]);
        var c = ElementConvert.FromLongs(ElementType.Int64, [2, 2], [1, 2, 3, 4]);
        AssertLongs([7, 10, 15, 22], Run1("MatMul", null, c, c), ElementType.Int64, [2, 2]);
    }

    [Fact]
    public void MatMulRejectsMismatchedInnerDims()
    {
        Throws("inner dimensions", "MatMul", null, F32([2, 3], Random(6, 1)), F32([4, 2], Random(8, 2)));
        Throws("same type", "MatMul", null, F32([2, 3], Random(6, 1)), T(ElementType.Float16, [3, 2], Random(6, 2)));
    }

    private static double[] NaiveGemm(double[] a, double[] b, double[]? c, Func<int, int, int> cIndex, int m, int k, int n,
        bool ta, bool tb, double alpha, double beta)
    {
        var y = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int q = 0; q < k; q++) s += (ta ? a[q * m + i] : a[i * k + q]) * (tb ? b[j * k + q] : b[q * n + j]);
                y[i * n + j] = alpha * s + (c is null ? 0 : beta * c[cIndex(i, j)]);
            }
        return y;
    }

    [Theory]
    [InlineData(false, false, "none")]
    [InlineData(true, false, "vector")]
    [InlineData(false, true, "scalar")]
    [InlineData(true, true, "matrix")]
    [InlineData(false, false, "column")]
    public void GemmHonoursTransposesAlphaBetaAndBiasBroadcast(bool ta, bool tb, string bias)
    {
        int m = 3, k = 17, n = 5;
        var a = Random(m * k, 20);
        var b = Random(k * n, 21);
        float alpha = 0.75f, beta = -1.5f;
        (long[] Shape, Func<int, int, int> Index)? cSpec = bias switch
        {
            "vector" => ([n], (i, j) => j),
            "scalar" => ([], (i, j) => 0),
            "matrix" => ([m, n], (i, j) => i * n + j),
            "column" => ([m, 1], (i, j) => i),
            _ => null,
        };
        var c = cSpec is null ? null : Random(Count(cSpec.Value.Shape), 22);
        var y = Run1("Gemm", A(("alpha", alpha), ("beta", beta), ("transA", ta ? 1L : 0L), ("transB", tb ? 1L : 0L)),
            F32(ta ? [k, m] : [m, k], a), F32(tb ? [n, k] : [k, n], b), c is null ? null : F32(cSpec!.Value.Shape, c));
        AssertRounded(NaiveGemm(a, b, c, cSpec?.Index ?? ((_, _) => 0), m, k, n, ta, tb, alpha, beta), y, ElementType.Float, [m, n]);
    }

    [Fact]
    public void GemmBFloat16RoundsOnce()
    {
        var a = RandomOf(ElementType.BFloat16, 4 * 3, 23);
        var b = RandomOf(ElementType.BFloat16, 3 * 2, 24);
        var c = RandomOf(ElementType.BFloat16, 2, 25);
        var y = Run1("Gemm", null, T(ElementType.BFloat16, [4, 3], a), T(ElementType.BFloat16, [3, 2], b), T(ElementType.BFloat16, [2], c));
        AssertRounded(NaiveGemm(a, b, c, (i, j) => j, 4, 3, 2, false, false, 1, 1), y, ElementType.BFloat16, [4, 2]);
    }

    [Fact]
    public void GemmRejectsBadShapes()
    {
        Throws("must be 2-D", "Gemm", null, F32([3], Random(3, 1)), F32([3, 2], Random(6, 1)));
        Throws("cannot be broadcast", "Gemm", null, F32([2, 3], Random(6, 1)), F32([3, 2], Random(6, 1)), F32([3], Random(3, 1)));
    }

    [Fact]
    public void MatMulIntegerSubtractsScalarRowAndColumnZeroPoints()
    {
        // A [3,4] uint8, per-row zero points [3]; B [4,2] uint8, per-column zero points [2].
        long[] a = [1, 2, 3, 255, 10, 20, 30, 40, 0, 0, 7, 200];
        long[] b = [5, 6, 7, 8, 9, 10, 250, 1];
        long[] za = [1, 12, 3];
        long[] zb = [4, 128];
        var y = Run1("MatMulInteger", null, ElementConvert.FromLongs(ElementType.UInt8, [3, 4], a), ElementConvert.FromLongs(ElementType.UInt8, [4, 2], b),
            ElementConvert.FromLongs(ElementType.UInt8, [3], za), ElementConvert.FromLongs(ElementType.UInt8, [2], zb));
        var expected = new long[6];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 2; j++)
                for (int q = 0; q < 4; q++) expected[i * 2 + j] += (a[i * 4 + q] - za[i]) * (b[q * 2 + j] - zb[j]);
        AssertLongs(expected, y, ElementType.Int32, [3, 2]);

        // int8 x int8, scalar zero points, batched.
        long[] s = [-128, 127, -1, 5, 3, -7];
        var y2 = Run1("MatMulInteger", null, ElementConvert.FromLongs(ElementType.Int8, [2, 1, 3], s), ElementConvert.FromLongs(ElementType.Int8, [3, 1], [2, -3, 4]),
            ElementConvert.FromLongs(ElementType.Int8, [], [-2]), ElementConvert.FromLongs(ElementType.Int8, [], [1]));
        AssertLongs([(-126) * 1 + 129 * -4 + 1 * 3, 7 * 1 + 5 * -4 + (-5) * 3], y2, ElementType.Int32, [2, 1, 1]);
        Assert.Null(Create("MatMulInteger", null, out var reason, types: [ElementType.Float, ElementType.UInt8]));
        Assert.Contains("int8", reason);
    }

    // ---- Einsum ----

    /// <summary>Einsum through explicit loops over named index ranges, written per case.</summary>
    [Fact]
    public void EinsumMatMulExplicitAndImplicit()
    {
        var a = Random(3 * 4, 30);
        var b = Random(4 * 5, 31);
        var expected = NaiveMatMul(a, b, 1, 3, 4, 5, _ => 0, _ => 0);
        AssertRounded(expected, Run1("Einsum", A(("equation", "ij,jk->ik")), F32([3, 4], a), F32([4, 5], b)), ElementType.Float, [3, 5]);
        AssertRounded(expected, Run1("Einsum", A(("equation", "ij,jk")), F32([3, 4], a), F32([4, 5], b)), ElementType.Float, [3, 5]);
        // Implicit output is alphabetical: "ba,ac" -> "bc"... here "kj,ij" -> output "ik" ordering: labels i,k sorted.
        var bt = new double[5 * 4];
        for (int j = 0; j < 4; j++) for (int k = 0; k < 5; k++) bt[k * 4 + j] = b[j * 5 + k];
        AssertRounded(expected, Run1("Einsum", A(("equation", "kj,ij")), F32([5, 4], bt), F32([3, 4], a)), ElementType.Float, [3, 5]);
    }

    [Fact]
    public void EinsumTransposeTraceDiagonalAndSum()
    {
        var x = Random(9, 32);
        var t = Run1("Einsum", A(("equation", "ij->ji")), F32([3, 3], x));
        AssertRounded([x[0], x[3], x[6], x[1], x[4], x[7], x[2], x[5], x[8]], t, ElementType.Float, [3, 3]);
        AssertRounded([x[0] + x[4] + x[8]], Run1("Einsum", A(("equation", "ii->")), F32([3, 3], x)), ElementType.Float, []);
        AssertRounded([x[0] + x[4] + x[8]], Run1("Einsum", A(("equation", "ii")), F32([3, 3], x)), ElementType.Float, []);
        AssertRounded([x[0], x[4], x[8]], Run1("Einsum", A(("equation", "ii->i")), F32([3, 3], x)), ElementType.Float, [3]);
        AssertRounded([x.Sum()], Run1("Einsum", A(("equation", "ij->")), F32([3, 3], x)), ElementType.Float, []);
        AssertRounded([x[0] + x[1] + x[2], x[3] + x[4] + x[5], x[6] + x[7] + x[8]], Run1("Einsum", A(("equation", "i j -> i")), F32([3, 3], x)), ElementType.Float, [3]);
    }

    [Fact]
    public void EinsumBatchDiagonalWithEllipsis()
    {
        var x = Random(2 * 3 * 4 * 4, 33);
        var y = Run1("Einsum", A(("equation", "...ii->...i")), F32([2, 3, 4, 4], x));
        var expected = new double[2 * 3 * 4];
        for (int p = 0; p < 6; p++) for (int i = 0; i < 4; i++) expected[p * 4 + i] = x[p * 16 + i * 4 + i];
        AssertRounded(expected, y, ElementType.Float, [2, 3, 4]);
    }

    [Fact]
    public void EinsumEllipsisBroadcastsBatchDims()
    {
        // [2,1,3,4] x [5,4,2] -> "...ij,...jk->...ik" = [2,5,3,2]
        var a = Random(2 * 3 * 4, 34);
        var b = Random(5 * 4 * 2, 35);
        var y = Run1("Einsum", A(("equation", "...ij,...jk->...ik")), F32([2, 1, 3, 4], a), F32([5, 4, 2], b));
        AssertRounded(NaiveMatMul(a, b, 10, 3, 4, 2, p => p / 5, p => p % 5), y, ElementType.Float, [2, 5, 3, 2]);
        // Implicit mode with ellipsis puts the broadcast dims first: "...ij,...jk" == "...ik".
        var y2 = Run1("Einsum", A(("equation", "...ij,...jk")), F32([2, 1, 3, 4], a), F32([5, 4, 2], b));
        AssertRounded(NaiveMatMul(a, b, 10, 3, 4, 2, p => p / 5, p => p % 5), y2, ElementType.Float, [2, 5, 3, 2]);
        // Ellipsis dropped from the output: summed.
        var y3 = Run1("Einsum", A(("equation", "...i->i")), F32([2, 3], a[..6]));
        AssertRounded([a[0] + a[3], a[1] + a[4], a[2] + a[5]], y3, ElementType.Float, [3]);
    }

    [Fact]
    public void EinsumOuterProductThreeOperandsAndRepeatedLabels()
    {
        var u = Random(3, 36);
        var v = Random(2, 37);
        var outer = Run1("Einsum", A(("equation", "i,j->ij")), F32([3], u), F32([2], v));
        AssertRounded([.. u.SelectMany(x => v.Select(z => x * z))], outer, ElementType.Float, [3, 2]);

        var a = Random(2 * 3, 38);
        var b = Random(3 * 4, 39);
        var c = Random(4 * 5, 40);
        var ab = NaiveMatMul(a, b, 1, 2, 3, 4, _ => 0, _ => 0);
        var abc = NaiveMatMul(ab, c, 1, 2, 4, 5, _ => 0, _ => 0);
        AssertClose(abc, Run1("Einsum", A(("equation", "ij,jk,kl->il")), F32([2, 3], a), F32([3, 4], b), F32([4, 5], c)), [2, 5], 1e-6);

        // "bii,bi->b": per batch, sum_i x[b,i,i] * w[b,i]
        var x = Random(2 * 3 * 3, 41);
        var w = Random(2 * 3, 42);
        var expected = new double[2];
        for (int p = 0; p < 2; p++) for (int i = 0; i < 3; i++) expected[p] += x[p * 9 + i * 3 + i] * w[p * 3 + i];
        AssertRounded(expected, Run1("Einsum", A(("equation", "bii,bi->b")), F32([2, 3, 3], x), F32([2, 3], w)), ElementType.Float, [2]);
    }

    [Fact]
    public void EinsumFloat16AndIntegers()
    {
        var a = RandomOf(ElementType.Float16, 17 * 3, 43);
        var b = RandomOf(ElementType.Float16, 17, 44);
        var expected = new double[3];
        for (int j = 0; j < 3; j++) for (int i = 0; i < 17; i++) expected[j] += a[i * 3 + j] * b[i];
        AssertRounded(expected, Run1("Einsum", A(("equation", "ij,i->j")), T(ElementType.Float16, [17, 3], a), T(ElementType.Float16, [17], b)), ElementType.Float16, [3]);
        var n = ElementConvert.FromLongs(ElementType.Int32, [2, 2], [1, 2, 3, 4]);
        AssertLongs([5], Run1("Einsum", A(("equation", "ii")), n), ElementType.Int32, []);
    }

    [Fact]
    public void EinsumRejectsBadEquationsAndShapes()
    {
        Assert.Null(Create("Einsum", A(("equation", "ij,jk->iq")), out var reason, types: [ElementType.Float, ElementType.Float]));
        Assert.Contains("'q'", reason);
        Assert.Null(Create("Einsum", A(("equation", "i.j")), out reason, types: [ElementType.Float]));
        Assert.Null(Create("Einsum", A(("equation", "ij,jk")), out reason, types: [ElementType.Float]));
        Assert.Contains("2 operand terms", reason);
        Throws("has size", "Einsum", A(("equation", "ij,jk->ik")), F32([2, 3], Random(6, 1)), F32([4, 2], Random(8, 1)));
        Throws("does not match term", "Einsum", A(("equation", "ij->i")), F32([2, 3, 4], Random(24, 1)));
    }
}
