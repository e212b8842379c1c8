using Alloy.Runtime.Numerics;
using static Alloy.Runtime.Kernels.Reference.ElementwiseHelpers;

namespace Alloy.Runtime.Kernels.Reference;

/// <summary>
/// Det: the determinant of each square matrix in the last two dimensions of a [*, M, M] float tensor; the output has
/// shape [*]. LU decomposition with partial pivoting in double, one rounding to the element type on store. An empty
/// matrix (M = 0) has determinant 1.
/// </summary>
internal sealed class DetKernel : IKernel
{
    private const string Op = "Det";

    public static IKernel? Create(KernelNode n, out string? reason) =>
        RejectsType(n, 0, ElementTypeSet.Float, "X", out reason) ? null : new DetKernel();

    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = Required(inputs, 0, Op, "X");
        CheckType(x, ElementTypeSet.Float, Op, "X");
        if (x.Rank < 2 || x.Shape[^1] != x.Shape[^2])
            throw new KernelException($"{Op}: input 'X' must have shape [*, M, M] (square matrices), got {x.ShapeText}");
        int m = checked((int)x.Shape[^1]);
        var batchShape = x.Shape[..^2];
        long count = Product(batchShape);
        var v = ElementConvert.ToDoubles(x);
        var result = new double[count];
        var a = new double[m * m];
        for (long b = 0; b < count; b++)
        {
            Array.Copy(v, b * m * m, a, 0, m * m);
            result[b] = Determinant(a, m);
        }
        outputs[0] = ElementConvert.FromDoubles(x.Type, batchShape, result);
    }

    /// <summary>The determinant of the row-major m×m matrix <paramref name="a"/> (overwritten by its LU factors).</summary>
    internal static double Determinant(double[] a, int m)
    {
        double det = 1;
        for (int col = 0; col < m; col++)
        {
            int pivot = col;
            for (int r = col + 1; r < m; r++)
                if (Math.Abs(a[r * m + col]) > Math.Abs(a[pivot * m + col])) pivot = r;
            if (a[pivot * m + col] == 0) return 0; // singular
            if (pivot != col)
            {
                for (int k = 0; k < m; k++) (a[col * m + k], a[pivot * m + k]) = (a[pivot * m + k], a[col * m + k]);
                det = -det;
            }
            double p = a[col * m + col];
            det *= p;
            for (int r = col + 1; r < m; r++)
            {
                double f = a[r * m + col] / p;
                if (f == 0) continue;
                for (int k = col; k < m; k++) a[r * m + k] -= f * a[col * m + k];
            }
        }
        return det;
    }
}
