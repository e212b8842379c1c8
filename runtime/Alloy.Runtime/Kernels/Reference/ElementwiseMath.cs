namespace Alloy.Runtime.Kernels.Reference;

/// <summary>Scalar functions .NET's Math lacks (erf, erfc, log1p), and numerically careful activation formulas, in double.</summary>
internal static class ElementwiseMath
{
    private const double TwoOverSqrtPi = 1.1283791670955125738961589031215452;
    private const double OneOverSqrtPi = 0.56418958354775628694807945156077259;

    /// <summary>The error function, to about double precision.</summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return x;
        double a = Math.Abs(x);
        double r = a < 1 ? ErfSeries(a) : 1 - ErfcContinuedFraction(a);
        return x < 0 ? -r : r;
    }

    /// <summary>The complementary error function 1 - erf(x), without cancellation for large x.</summary>
    public static double Erfc(double x)
    {
        if (double.IsNaN(x)) return x;
        if (x < 0) return 1 + Erf(-x);
        return x < 1 ? 1 - ErfSeries(x) : ErfcContinuedFraction(x);
    }

    // erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n 2^n x^(2n+1) / (1*3*...*(2n+1)): all terms positive, no cancellation;
    // used below 1, where it is accurate to about an ulp.
    private static double ErfSeries(double x)
    {
        double term = x, sum = x, x2 = x * x;
        for (int n = 0; n < 500; n++)
        {
            term *= 2 * x2 / (2 * n + 3);
            sum += term;
            if (term <= sum * 1e-17) break;
        }
        return TwoOverSqrtPi * Math.Exp(-x2) * sum;
    }

    // erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), evaluated from the tail; accurate to about an ulp from x = 0.8 on, used from 1.
    private static double ErfcContinuedFraction(double x)
    {
        if (double.IsPositiveInfinity(x)) return 0;
        double t = x;
        for (int n = 300; n >= 1; n--) t = x + n / 2.0 / t;
        return Math.Exp(-x * x) * OneOverSqrtPi / t;
    }

    /// <summary>log(1 + x), accurate for small x.</summary>
    public static double Log1P(double x)
    {
        double u = 1 + x;
        if (u == 1) return x;
        if (double.IsInfinity(u)) return Math.Log(u);
        return Math.Log(u) * x / (u - 1);
    }

    /// <summary>log(1 + exp(x)) without overflow.</summary>
    public static double Softplus(double x) => x > 0 ? x + Log1P(Math.Exp(-x)) : Log1P(Math.Exp(x));

    /// <summary>1 / (1 + exp(-x)) without overflow.</summary>
    public static double Sigmoid(double x)
    {
        if (x >= 0) return 1 / (1 + Math.Exp(-x));
        double e = Math.Exp(x);
        return e / (1 + e);
    }

    /// <summary>-1, 0 or 1 (NaN and signed zeros pass through).</summary>
    public static double Sign(double x) => x > 0 ? 1 : x < 0 ? -1 : x;
}
