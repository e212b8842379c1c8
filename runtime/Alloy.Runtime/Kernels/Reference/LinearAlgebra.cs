using Alloy.Runtime.Numerics;
using static Alloy.Runtime.Kernels.Reference.LinearAlgebraHelpers;

namespace Alloy.Runtime.Kernels.Reference;

internal static partial class ReferenceKernels
{
    static partial void RegisterLinearAlgebra(KernelRegistry r)
    {
        r.Register("MatMul", CreateMatMul);
        r.Register("Gemm", CreateGemm);
        r.Register("MatMulInteger", CreateMatMulInteger);
        r.Register("Einsum", CreateEinsum);
    }

    private static IKernel? CreateMatMul(KernelNode n, out string? reason)
    {
        reason = NumericTypeReason(n, 0, "A") ?? NumericTypeReason(n, 1, "B");
        return reason is null ? new MatMulKernel() : null;
    }

    private static IKernel? CreateGemm(KernelNode n, out string? reason)
    {
        reason = NumericTypeReason(n, 0, "A") ?? NumericTypeReason(n, 1, "B");
        if (reason is not null) return null;
        var a = n.Attributes;
        return new GemmKernel(a.GetFloat("alpha", 1f), a.GetFloat("beta", 1f), a.GetInt("transA", 0) != 0, a.GetInt("transB", 0) != 0);
    }

    private static IKernel? CreateMatMulInteger(KernelNode n, out string? reason)
    {
        reason = null;
        for (int i = 0; i < Math.Min(4, n.InputTypes.Count); i++)
            if (n.InputTypes[i] is { } t && t is not (ElementType.Int8 or ElementType.UInt8))
            {
                reason = $"MatMulInteger: input {i} of type {t.Name()} is not supported (int8 / uint8 only)";
                return null;
            }
        return new MatMulIntegerKernel();
    }
}

/// <summary>
/// The shapes of a numpy matmul: 1-D operands are promoted (A to [1,K], B to [K,1]) and the promoted dims
/// removed from the result; batch dims broadcast.
/// </summary>
internal sealed class MatMulShape
{
    public long M, K, N, Batch;
    public long[] OutShape = [];
    /// <summary>For each output batch index, the matrix index in A and in B.</summary>
    public long[] ABatch = [], BBatch = [];

    public static MatMulShape Of(long[] a, long[] b, string op)
    {
        if (a.Length == 0 || b.Length == 0)
            throw new KernelException($"{op}: operands must have rank >= 1, got {ShapeText(a)} and {ShapeText(b)}");
        var ap = a.Length == 1 ? new[] { 1, a[0] } : a;
        var bp = b.Length == 1 ? new[] { b[0], 1 } : b;
        long k = ap[^1];
        if (bp[^2] != k)
            throw new KernelException($"{op}: inner dimensions differ: A {ShapeText(a)} has K = {k}, B {ShapeText(b)} has {bp[^2]}");
        var aBatch = ap[..^2];
        var bBatch = bp[..^2];
        var batch = Broadcast.Shape(aBatch, bBatch);
        var s = new MatMulShape { M = ap[^2], K = k, N = bp[^1], Batch = Product(batch) };
        s.ABatch = Broadcast.SourceIndices(aBatch, batch);
        s.BBatch = Broadcast.SourceIndices(bBatch, batch);
        var outShape = new List<long>(batch);
        if (a.Length > 1) outShape.Add(s.M);
        if (b.Length > 1) outShape.Add(s.N);
        s.OutShape = [.. outShape];
        return s;
    }

    /// <summary>
    /// y[batch, m, n] = sum_k a[batch, m, k] * b[batch, k, n] over row-major flat arrays (k ascending for every
    /// output; the loops run m, k, n so that B is read row by row).
    /// </summary>
    public T[] Multiply<T>(T[] a, T[] b) where T : System.Numerics.INumber<T>
    {
        int m = checked((int)M), k = checked((int)K), n = checked((int)N);
        var y = new T[checked(Batch * M * N)];
        Array.Fill(y, T.Zero);
        for (long p = 0; p < Batch; p++)
        {
            int aBase = checked((int)(ABatch[p] * M * K)), bBase = checked((int)(BBatch[p] * K * N)), yBase = checked((int)(p * M * N));
            for (int i = 0; i < m; i++)
                for (int q = 0; q < k; q++)
                {
                    T av = a[aBase + i * k + q];
                    int bRow = bBase + q * n, yRow = yBase + i * n;
                    for (int j = 0; j < n; j++) y[yRow + j] += av * b[bRow + j];
                }
        }
        return y;
    }

    /// <summary>The double instance of <see cref="Multiply{T}"/>, spelled out (the generic one is slow unoptimised).</summary>
    public double[] Multiply(double[] a, double[] b)
    {
        int m = checked((int)M), k = checked((int)K), n = checked((int)N);
        var y = new double[checked(Batch * M * N)];
        for (long p = 0; p < Batch; p++)
        {
            int aBase = checked((int)(ABatch[p] * M * K)), bBase = checked((int)(BBatch[p] * K * N)), yBase = checked((int)(p * M * N));
            for (int i = 0; i < m; i++)
            {
                var yRow = y.AsSpan(yBase + i * n, n);
                for (int q = 0; q < k; q++)
                {
                    double av = a[aBase + i * k + q];
                    var bRow = b.AsSpan(bBase + q * n, n);
                    for (int j = 0; j < n; j++) yRow[j] += av * bRow[j];
                }
            }
        }
        return y;
    }
}

/// <summary>MatMul (opset 1, 9, 13): numpy matmul; floats accumulate in double, integers in long (wrapping).</summary>
internal sealed class MatMulKernel : IKernel
{
    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var a = Required(inputs, 0, "MatMul", "A");
        var b = Required(inputs, 1, "MatMul", "B");
        RequireNumeric(a, "MatMul", "A");
        RequireSameType(a, "A", b, "B", "MatMul");
        var s = MatMulShape.Of(a.Shape, b.Shape, "MatMul");
        outputs[0] = a.Type.IsFloat()
            ? ElementConvert.FromDoubles(a.Type, s.OutShape, s.Multiply(ElementConvert.ToDoubles(a), ElementConvert.ToDoubles(b)))
            : ElementConvert.FromLongs(a.Type, s.OutShape, s.Multiply(ElementConvert.ToLongs(a), ElementConvert.ToLongs(b)));
    }
}

/// <summary>
/// Gemm (opset 6-13): Y = alpha * A' * B' + beta * C, A' = transA ? A^T : A, B' likewise; C (optional from
/// opset 11) broadcasts to [M, N]. Computed in double (integers: in long when alpha and beta are integral).
/// </summary>
internal sealed class GemmKernel(float alpha, float beta, bool transA, bool transB) : IKernel
{
    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var a = Required(inputs, 0, "Gemm", "A");
        var b = Required(inputs, 1, "Gemm", "B");
        var c = Optional(inputs, 2);
        RequireNumeric(a, "Gemm", "A");
        RequireSameType(a, "A", b, "B", "Gemm");
        if (c is not null) RequireSameType(a, "A", c, "C", "Gemm");
        if (a.Rank != 2 || b.Rank != 2)
            throw new KernelException($"Gemm: A and B must be 2-D, got {a.ShapeText} and {b.ShapeText}");
        long m = transA ? a.Shape[1] : a.Shape[0], k = transA ? a.Shape[0] : a.Shape[1];
        long kb = transB ? b.Shape[1] : b.Shape[0], n = transB ? b.Shape[0] : b.Shape[1];
        if (k != kb)
            throw new KernelException($"Gemm: inner dimensions differ: A {a.ShapeText} (transA={(transA ? 1 : 0)}) and B {b.ShapeText} (transB={(transB ? 1 : 0)})");
        long[] outShape = [m, n];
        long[]? cIndex = null;
        if (c is not null)
        {
            if (c.Rank > 2 || !Broadcast.Shape(c.Shape, outShape).SequenceEqual(outShape))
                throw new KernelException($"Gemm: C {c.ShapeText} cannot be broadcast to [{m},{n}]");
            cIndex = Broadcast.SourceIndices(c.Shape, outShape);
        }
        long A(long i, long j) => transA ? j * m + i : i * k + j;   // flat index of A'[i, j]
        long B(long i, long j) => transB ? j * k + i : i * n + j;   // flat index of B'[i, j]

        bool integral = !a.Type.IsFloat() && alpha == Math.Round(alpha) && beta == Math.Round(beta);
        if (integral)
        {
            var av = ElementConvert.ToLongs(a);
            var bv = ElementConvert.ToLongs(b);
            var cv = c is null ? null : ElementConvert.ToLongs(c);
            long al = (long)alpha, be = (long)beta;
            var y = new long[m * n];
            for (long i = 0; i < m; i++)
                for (long j = 0; j < n; j++)
                {
                    long sum = 0;
                    for (long p = 0; p < k; p++) sum += av[A(i, p)] * bv[B(p, j)];
                    sum *= al;
                    if (cv is not null) sum += be * cv[cIndex![i * n + j]];
                    y[i * n + j] = sum;
                }
            outputs[0] = ElementConvert.FromLongs(a.Type, outShape, y);
        }
        else
        {
            var av = ElementConvert.ToDoubles(a);
            var bv = ElementConvert.ToDoubles(b);
            var cv = c is null ? null : ElementConvert.ToDoubles(c);
            var y = new double[m * n];
            for (long i = 0; i < m; i++)
                for (long j = 0; j < n; j++)
                {
                    double sum = 0;
                    for (long p = 0; p < k; p++) sum += av[A(i, p)] * bv[B(p, j)];
                    double v = (double)alpha * sum;
                    if (cv is not null) v += (double)beta * cv[cIndex![i * n + j]];
                    y[i * n + j] = v;
                }
            outputs[0] = ElementConvert.FromDoubles(a.Type, outShape, y);
        }
    }
}

/// <summary>
/// MatMulInteger (opset 10): int32 Y = (A - a_zero_point) x (B - b_zero_point), numpy matmul shapes.
/// a_zero_point is a scalar, an [M] vector (per row) or [..., M, 1]; b_zero_point a scalar, an [N] vector
/// (per column) or [..., 1, N].
/// </summary>
internal sealed class MatMulIntegerKernel : IKernel
{
    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var a = Required(inputs, 0, "MatMulInteger", "A");
        var b = Required(inputs, 1, "MatMulInteger", "B");
        CheckType(a, "A");
        CheckType(b, "B");
        var s = MatMulShape.Of(a.Shape, b.Shape, "MatMulInteger");
        var av = Subtract(a, Optional(inputs, 2), "a_zero_point", rowVector: true);
        var bv = Subtract(b, Optional(inputs, 3), "b_zero_point", rowVector: false);
        outputs[0] = ElementConvert.FromLongs(ElementType.Int32, s.OutShape, s.Multiply(av, bv));
    }

    private static void CheckType(Tensor t, string name)
    {
        if (t.Type is not (ElementType.Int8 or ElementType.UInt8))
            throw new KernelException($"MatMulInteger: input '{name}' is {t.Type.Name()}, expected int8 or uint8");
    }

    /// <summary>The values of <paramref name="x"/> minus its zero point, broadcast as the op defines.</summary>
    internal static long[] Subtract(Tensor x, Tensor? zp, string name, bool rowVector)
    {
        var v = ElementConvert.ToLongs(x);
        if (zp is null) return v;
        if (zp.Type != x.Type)
            throw new KernelException($"MatMulInteger: '{name}' is {zp.Type.Name()} but its operand is {x.Type.Name()}");
        var z = ElementConvert.ToLongs(zp);
        if (z.Length == 1)
        {
            for (int i = 0; i < v.Length; i++) v[i] -= z[0];
            return v;
        }
        // A 1-D zero point is per row of A ([M] -> [M,1]) or per column of B ([N]).
        long[] zShape = zp.Rank == 1 && rowVector ? [zp.Shape[0], 1] : zp.Shape;
        var xShape = x.Rank == 1 ? (rowVector ? new[] { 1, x.Shape[0] } : [x.Shape[0], 1]) : x.Shape;
        if (zShape.Length > xShape.Length || !Broadcast.Shape(zShape, xShape).SequenceEqual(xShape)
            || (rowVector ? zShape[^1] != 1 : zShape.Length >= 2 && zShape[^2] != 1))
            throw new KernelException($"MatMulInteger: '{name}' of shape {zp.ShapeText} does not fit its operand {x.ShapeText} (expected a scalar or a per-{(rowVector ? "row" : "column")} zero point)");
        var map = Broadcast.SourceIndices(zShape, xShape);
        for (int i = 0; i < v.Length; i++) v[i] -= z[map[i]];
        return v;
    }
}
