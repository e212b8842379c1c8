using System.Globalization;
using Alloy.Runtime.Numerics;
using static Alloy.Runtime.Kernels.Reference.ElementwiseHelpers;

namespace Alloy.Runtime.Kernels.Reference;

/// <summary>
/// Cast (to = <paramref name="target"/>) and CastLike (target taken from the second input when
/// <paramref name="target"/> is null). Numbers convert with one rounding: floating point to floating point rounds
/// to nearest even (f8 saturating unless <paramref name="saturate"/> is false: then overflow becomes inf or NaN as
/// the format allows); integers to floating point round to nearest even; floating point to integer truncates toward
/// zero (4-bit integers round to nearest even first, as ONNX specifies) and wraps; integers to narrower integers
/// wrap; anything to bool is value != 0 (NaN is true). Strings parse plain and scientific numbers and
/// (case-insensitively) "INF", "+INF", "-INF", "NaN"; numbers print in their shortest round-trip form.
/// </summary>
internal sealed class ElementwiseCastKernel(string op, ElementType? target, bool saturate) : IKernel
{
    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = Required(inputs, 0, op, "input");
        var to = target ?? Required(inputs, 1, op, "target_type").Type;
        CheckType(x, ElementTypeSet.Any, op, "input");
        if (!IsKnown(to)) throw new KernelException($"{op}: cannot cast to element type {to.Name()}");
        var y = Tensor.Create(to, x.Shape);
        outputs[0] = y;
        if (x.Type == to)
        {
            for (long i = 0; i < x.Length; i++) CopyElement(x, i, y, i);
            return;
        }
        if (to == ElementType.String)
        {
            var s = y.Strings;
            for (long i = 0; i < x.Length; i++) s[i] = FormatNumber(x, i);
            return;
        }
        if (x.Type == ElementType.String)
        {
            var s = x.Strings;
            for (long i = 0; i < x.Length; i++) StoreParsed(y, i, s[i]);
            return;
        }
        if (x.Type.IsFloat())
        {
            for (long i = 0; i < x.Length; i++) StoreFloat(y, i, ElementConvert.GetDouble(x, i));
            return;
        }
        // Integer or bool source: SetLong rounds once to a float target; u64 needs its unsigned value.
        bool unsigned = x.Type == ElementType.UInt64;
        for (long i = 0; i < x.Length; i++)
        {
            long v = ElementConvert.GetLong(x, i);
            if (unsigned && to == ElementType.Double) ElementConvert.SetDouble(y, i, (double)(ulong)v);
            else if (unsigned && to.IsFloat()) ElementConvert.SetDouble(y, i, UInt64ToDoubleRoundToOdd(v), saturate);
            else if (!saturate && MiniFloat.IsMiniFloat(to)) ElementConvert.SetDouble(y, i, v, saturate); // exact: far inside 2^53
            else ElementConvert.SetLong(y, i, v);
        }
    }

    private void StoreFloat(Tensor y, long i, double v)
    {
        if (y.Type is ElementType.Int4 or ElementType.UInt4) v = Math.Round(v, MidpointRounding.ToEven);
        ElementConvert.SetDouble(y, i, v, saturate);
    }

    private void StoreParsed(Tensor y, long i, string s)
    {
        var inv = CultureInfo.InvariantCulture;
        var text = s.Trim();
        switch (y.Type)
        {
            case ElementType.Float when !IsSpecial(text) && float.TryParse(text, NumberStyles.Float, inv, out var f):
                ElementConvert.SetDouble(y, i, f); // parsed straight to float: one rounding
                return;
            case ElementType.Float16 when !IsSpecial(text) && Half.TryParse(text, NumberStyles.Float, inv, out var h):
                ElementConvert.SetDouble(y, i, (double)h);
                return;
            case ElementType.Bool when text.Equals("true", StringComparison.OrdinalIgnoreCase):
                ElementConvert.SetLong(y, i, 1);
                return;
            case ElementType.Bool when text.Equals("false", StringComparison.OrdinalIgnoreCase):
                ElementConvert.SetLong(y, i, 0);
                return;
        }
        if (y.Type.IsInteger() || y.Type == ElementType.Bool)
        {
            if (long.TryParse(text, NumberStyles.Integer, inv, out var l)) ElementConvert.SetLong(y, i, l);
            else if (ulong.TryParse(text, NumberStyles.Integer, inv, out var u)) ElementConvert.SetLong(y, i, unchecked((long)u));
            else StoreFloat(y, i, ParseDouble(text, op));
            return;
        }
        StoreFloat(y, i, ParseDouble(text, op));
    }

    // .NET parses "Infinity" / "NaN" but not "INF"; ParseDouble handles the special words uniformly.
    private static bool IsSpecial(string text)
    {
        var body = text.TrimStart('+', '-').ToLowerInvariant();
        return body is "inf" or "infinity" or "nan";
    }
}
