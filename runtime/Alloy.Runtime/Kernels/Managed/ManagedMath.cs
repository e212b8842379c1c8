using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// Float32 fast paths of Erf (the GELU of transformer exports) and Pow with the scalar exponent 2 (the variance of a
/// decomposed LayerNorm). Pow(x, 2) is x·x in float32, which is what the reference's double x·x (exact) rounds to;
/// Erf is evaluated in double (see <see cref="Erf"/>) and rounded once, within a unit in the last place of the
/// reference. Other types, exponents and broadcasts run the reference kernel. Large tensors are split into ranges over
/// the kernel's threads (<see cref="ParallelRanges"/>); every element is computed the same way on any thread count.
/// </summary>
internal static class ManagedMath
{
    public static void Register(KernelRegistry r, ManagedIsa isa)
    {
        r.Register("Erf", (KernelNode n, out string? reason) =>
        {
            var fallback = ManagedKernels.CreateReference(n, out reason);
            return fallback is null || n.InputTypes is [{ } t] && t != ElementType.Float ? fallback : new ErfKernel(isa, fallback);
        });
        r.Register("Pow", (KernelNode n, out string? reason) =>
        {
            var fallback = ManagedKernels.CreateReference(n, out reason);
            return fallback is null || n.InputTypes.Any(t => t is { } e && e != ElementType.Float) ? fallback : new SquareKernel(isa, fallback);
        });
    }

    /// <summary>Pow(X, Y) with a one-element float32 Y equal to 2: X·X.</summary>
    private sealed unsafe class SquareKernel(ManagedIsa isa, IKernel fallback) : IKernel
    {
        public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
        {
            if (inputs.Length != 2 || inputs[0] is not { Type: ElementType.Float } x || inputs[1] is not { Type: ElementType.Float, Length: 1 } e
                || e.Rank > x.Rank || *(float*)e.Pointer != 2f)
            {
                fallback.Run(context, inputs, outputs);
                return;
            }
            var y = Tensor.CreateUninitialized(ElementType.Float, x.Shape);
            nint px = (nint)x.Pointer, py = (nint)y.Pointer;
            var kernelIsa = isa;
            ParallelRanges.For(context.Threads, x.Length, ParallelRanges.MinElements, 16,
                (start, end) => Square(kernelIsa, (float*)px + start, (float*)py + start, end - start));
            outputs[0] = y;
        }

        private static void Square(ManagedIsa isa, float* s, float* d, long count)
        {
            long i = 0;
            if (isa == ManagedIsa.Vector512)
                for (; i + 16 <= count; i += 16)
                {
                    var v = Vector512.Load(s + i);
                    (v * v).Store(d + i);
                }
            for (; i < count; i++) d[i] = s[i] * s[i];
        }
    }

    private sealed unsafe class ErfKernel(ManagedIsa isa, IKernel fallback) : IKernel
    {
        public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
        {
            if (inputs.Length != 1 || inputs[0] is not { Type: ElementType.Float } x)
            {
                fallback.Run(context, inputs, outputs);
                return;
            }
            var y = Tensor.CreateUninitialized(ElementType.Float, x.Shape);
            nint px = (nint)x.Pointer, py = (nint)y.Pointer;
            var kernelIsa = isa;
            // About 30 double FMAs per element: worth splitting from far fewer elements than a copy-like op.
            ParallelRanges.For(context.Threads, x.Length, ErfMinElements, 16,
                (start, end) => Erf(kernelIsa, (float*)px + start, (float*)py + start, end - start));
            outputs[0] = y;
        }
    }

    /// <summary>Elements an Erf range holds at least.</summary>
    private const long ErfMinElements = 2048;

    /// <summary>Beyond this |x|, erf(x) rounds to ±1 in float32 (erfc(3.9) ≈ 3.5e-8 is below half an ulp of 1).</summary>
    private const double Saturation = 3.9;

    /// <summary>
    /// The Maclaurin coefficients of erf(x)/x in x²: 2/√π · (−1)ⁿ / (n!·(2n+1)). Below 3.9 the series converges to
    /// double precision within <see cref="TermsFor"/> terms, and its alternating terms (at most about 4e5 in size)
    /// cost at most 1e-10 absolute in cancellation: far below float32's resolution.
    /// </summary>
    private static readonly double[] Coefficients = MakeCoefficients(64);

    private static double[] MakeCoefficients(int count)
    {
        var c = new double[count];
        double factorial = 1;
        for (int n = 0; n < count; n++)
        {
            if (n > 0) factorial *= n;
            c[n] = 2 / Math.Sqrt(Math.PI) * (n % 2 == 0 ? 1 : -1) / (factorial * (2 * n + 1));
        }
        return c;
    }

    /// <summary>How many terms the series needs for |x| up to <paramref name="a"/> (the first neglected term below 1e-17·erf).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int TermsFor(double a) => a < 0.5 ? 12 : a < 1 ? 18 : a < 2 ? 32 : a < 3 ? 46 : 62;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Erf(ManagedIsa isa, float* x, float* y, long count)
    {
        long i = 0;
        fixed (double* c = Coefficients)
        {
            if (isa == ManagedIsa.Vector512)
            {
                var saturation = Vector512.Create(Saturation);
                var one = Vector512.Create(1.0);
                for (; i + 16 <= count; i += 16)
                {
                    var (lo, hi) = Vector512.Widen(Vector512.Load(x + i));
                    Vector512.Narrow(Erf8(lo, c, saturation, one), Erf8(hi, c, saturation, one)).Store(y + i);
                }
            }
            for (; i < count; i++) y[i] = (float)ErfScalar(x[i], c);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<double> Erf8(Vector512<double> v, double* c, Vector512<double> saturation, Vector512<double> one)
    {
        var a = Vector512.Abs(v);
        var large = Vector512.GreaterThanOrEqual(a, saturation);
        // Terms for the largest lane below saturation (NaN lanes compare false and take the series: NaN).
        var inRange = Vector512.ConditionalSelect(large, Vector512<double>.Zero, a);
        int terms = TermsFor(MaxLane(inRange));
        var x2 = v * v;
        var p = Vector512.Create(c[terms - 1]);
        for (int n = terms - 2; n >= 0; n--) p = Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(c[n]));
        var series = v * p;
        var sign = v & Vector512.Create(-0.0);
        return Vector512.ConditionalSelect(large, one | sign, series);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double MaxLane(Vector512<double> v)
    {
        var m = Vector256.Max(v.GetLower(), v.GetUpper());
        var h = Vector128.Max(m.GetLower(), m.GetUpper());
        return Math.Max(h.GetElement(0), h.GetElement(1));
    }

    private static unsafe double ErfScalar(float value, double* c)
    {
        double v = value, a = Math.Abs(v);
        if (double.IsNaN(v)) return v;
        if (a >= Saturation) return Math.CopySign(1.0, v);
        int terms = TermsFor(a);
        double x2 = v * v, p = c[terms - 1];
        for (int n = terms - 2; n >= 0; n--) p = Math.FusedMultiplyAdd(p, x2, c[n]);
        return v * p;
    }
}
