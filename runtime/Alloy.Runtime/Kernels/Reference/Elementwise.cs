using static Alloy.Runtime.Kernels.Reference.ElementwiseHelpers;

namespace Alloy.Runtime.Kernels.Reference;

/// <summary>
/// Element-wise reference kernels: unary math, binary arithmetic / comparison / logic with multidirectional
/// broadcasting, the variadic Sum / Mean / Max / Min, activations, Clip, Cast / CastLike, Where and Shrink.
/// Floating-point values are computed in double and rounded once to the output type; integers compute in long and
/// wrap on store.
/// </summary>
internal static partial class ReferenceKernels
{
    static partial void RegisterElementwise(KernelRegistry r)
    {
        RegisterElementwiseUnary(r);
        RegisterElementwiseBinary(r);
        RegisterElementwiseActivations(r);
        RegisterElementwiseOther(r);
    }

    /// <summary>Registers a unary op, declining early when the input type is known and not accepted.</summary>
    private static void ElementwiseUnary(KernelRegistry r, string op, ElementTypeSet accepts, Func<double, double>? onFloat,
        Func<long, ElementType, long>? onInteger = null, ElementType? output = null) =>
        r.Register(op, (KernelNode n, out string? reason) =>
            RejectsType(n, 0, accepts, "X", out reason) ? null : new ElementwiseUnaryKernel(op, accepts, onFloat, onInteger, output));

    private static void ElementwiseBinary(KernelRegistry r, string op, ElementTypeSet accepts, Func<double, double, double>? onFloat,
        Func<long, long, ElementType, long>? onInteger, ElementType? output = null, Func<string, string, bool>? onString = null) =>
        r.Register(op, (KernelNode n, out string? reason) =>
            RejectsType(n, 0, accepts, "A", out reason) ? null : WithLegacyBroadcast(n, new ElementwiseBinaryKernel(op, accepts, onFloat, onInteger, output, onString)));

    /// <summary>Before opset 7 the binary ops broadcast only when asked (broadcast=1), B against A from 'axis'.</summary>
    private static IKernel WithLegacyBroadcast(KernelNode n, IKernel kernel) =>
        OpsetBefore(n, 7) && n.Attributes.GetInt("broadcast", 0) != 0
            ? new ElementwiseLegacyBroadcastKernel(kernel, n.OpType, n.Attributes.Has("axis") ? n.Attributes.GetInt("axis") : null)
            : kernel;

    private static void RegisterElementwiseUnary(KernelRegistry r)
    {
        var F = ElementTypeSet.Float;
        ElementwiseUnary(r, "Abs", ElementTypeSet.Numeric, Math.Abs, (v, t) => IsSignedInteger(t) && v < 0 ? unchecked(-v) : v);
        ElementwiseUnary(r, "Neg", ElementTypeSet.SignedNumeric, x => -x, (v, _) => unchecked(-v));
        ElementwiseUnary(r, "Reciprocal", F, x => 1 / x);
        ElementwiseUnary(r, "Floor", F, Math.Floor);
        ElementwiseUnary(r, "Ceil", F, Math.Ceiling);
        ElementwiseUnary(r, "Round", F, x => Math.Round(x, MidpointRounding.ToEven));
        ElementwiseUnary(r, "Sqrt", F, Math.Sqrt);
        ElementwiseUnary(r, "Exp", F, Math.Exp);
        ElementwiseUnary(r, "Log", F, Math.Log);
        ElementwiseUnary(r, "Sin", F, Math.Sin);
        ElementwiseUnary(r, "Cos", F, Math.Cos);
        ElementwiseUnary(r, "Tan", F, Math.Tan);
        ElementwiseUnary(r, "Asin", F, Math.Asin);
        ElementwiseUnary(r, "Acos", F, Math.Acos);
        ElementwiseUnary(r, "Atan", F, Math.Atan);
        ElementwiseUnary(r, "Sinh", F, Math.Sinh);
        ElementwiseUnary(r, "Cosh", F, Math.Cosh);
        ElementwiseUnary(r, "Asinh", F, Math.Asinh);
        ElementwiseUnary(r, "Acosh", F, Math.Acosh);
        ElementwiseUnary(r, "Atanh", F, Math.Atanh);
        ElementwiseUnary(r, "Erf", ElementTypeSet.Numeric, ElementwiseMath.Erf);
        ElementwiseUnary(r, "Sign", ElementTypeSet.Numeric, ElementwiseMath.Sign,
            (v, t) => IsSignedInteger(t) ? Math.Sign(v) : v != 0 ? 1 : 0);
        ElementwiseUnary(r, "IsNaN", F, x => double.IsNaN(x) ? 1 : 0, output: ElementType.Bool);
        r.Register("IsInf", (KernelNode n, out string? reason) =>
        {
            if (RejectsType(n, 0, F, "X", out reason)) return null;
            bool positive = n.Attributes.GetInt("detect_positive", 1) != 0;
            bool negative = n.Attributes.GetInt("detect_negative", 1) != 0;
            return new ElementwiseUnaryKernel("IsInf", F,
                x => (positive && double.IsPositiveInfinity(x)) || (negative && double.IsNegativeInfinity(x)) ? 1 : 0, null, ElementType.Bool);
        });
        ElementwiseUnary(r, "Not", ElementTypeSet.Bool, null, (v, _) => v == 0 ? 1 : 0);
        ElementwiseUnary(r, "BitwiseNot", ElementTypeSet.Integer, null, (v, _) => ~v);
    }

    private static void RegisterElementwiseBinary(KernelRegistry r)
    {
        var N = ElementTypeSet.Numeric;
        ElementwiseBinary(r, "Add", N, (a, b) => a + b, (a, b, _) => unchecked(a + b));
        ElementwiseBinary(r, "Sub", N, (a, b) => a - b, (a, b, _) => unchecked(a - b));
        ElementwiseBinary(r, "Mul", N, (a, b) => a * b, (a, b, _) => unchecked(a * b));
        ElementwiseBinary(r, "Div", N, (a, b) => a / b, IntegerDivide);
        r.Register("Pow", (KernelNode n, out string? reason) =>
            RejectsType(n, 0, N, "X", out reason) || RejectsType(n, 1, N, "Y", out reason) ? null : WithLegacyBroadcast(n, new ElementwisePowKernel()));
        r.Register("Mod", (KernelNode n, out string? reason) =>
        {
            if (RejectsType(n, 0, N, "A", out reason)) return null;
            bool fmod = n.Attributes.GetInt("fmod", 0) != 0;
            if (!fmod && n.InputTypes.Count > 0 && n.InputTypes[0] is { } t && t.IsFloat())
            {
                reason = $"Mod: fmod must be 1 for floating-point inputs ({t.Name()})";
                return null;
            }
            return new ElementwiseBinaryKernel("Mod", N,
                (a, b) => fmod ? a % b : throw new KernelException("Mod: fmod must be 1 for floating-point inputs"), // C fmod
                (a, b, t) => IntegerModulo(a, b, t, fmod));
        });

        ElementwiseBinary(r, "Equal", ElementTypeSet.NumericBoolOrString, (a, b) => a == b ? 1 : 0, (a, b, _) => a == b ? 1 : 0,
            ElementType.Bool, string.Equals);
        ElementwiseBinary(r, "Less", N, (a, b) => a < b ? 1 : 0, (a, b, t) => OrderKey(a, t) < OrderKey(b, t) ? 1 : 0, ElementType.Bool);
        ElementwiseBinary(r, "LessOrEqual", N, (a, b) => a <= b ? 1 : 0, (a, b, t) => OrderKey(a, t) <= OrderKey(b, t) ? 1 : 0, ElementType.Bool);
        ElementwiseBinary(r, "Greater", N, (a, b) => a > b ? 1 : 0, (a, b, t) => OrderKey(a, t) > OrderKey(b, t) ? 1 : 0, ElementType.Bool);
        ElementwiseBinary(r, "GreaterOrEqual", N, (a, b) => a >= b ? 1 : 0, (a, b, t) => OrderKey(a, t) >= OrderKey(b, t) ? 1 : 0, ElementType.Bool);

        var B = ElementTypeSet.Bool;
        ElementwiseBinary(r, "And", B, null, (a, b, _) => a != 0 && b != 0 ? 1 : 0);
        ElementwiseBinary(r, "Or", B, null, (a, b, _) => a != 0 || b != 0 ? 1 : 0);
        ElementwiseBinary(r, "Xor", B, null, (a, b, _) => (a != 0) != (b != 0) ? 1 : 0);

        var I = ElementTypeSet.Integer;
        ElementwiseBinary(r, "BitwiseAnd", I, null, (a, b, _) => a & b);
        ElementwiseBinary(r, "BitwiseOr", I, null, (a, b, _) => a | b);
        ElementwiseBinary(r, "BitwiseXor", I, null, (a, b, _) => a ^ b);
        r.Register("BitShift", (KernelNode n, out string? reason) =>
        {
            if (RejectsType(n, 0, ElementTypeSet.UnsignedInteger, "X", out reason)) return null;
            var direction = n.Attributes.GetStringOrNull("direction");
            if (direction is not ("LEFT" or "RIGHT"))
            {
                reason = direction is null ? "BitShift: the 'direction' attribute is required" : $"BitShift: direction '{direction}' is not LEFT or RIGHT";
                return null;
            }
            bool left = direction == "LEFT";
            return new ElementwiseBinaryKernel("BitShift", ElementTypeSet.UnsignedInteger, null, (a, b, _) =>
            {
                // Values are unsigned (zero-extended; u64 reinterpreted); shifting by the width or more gives 0.
                ulong amount = (ulong)b;
                if (amount >= 64) return 0;
                return left ? (long)((ulong)a << (int)amount) : (long)((ulong)a >> (int)amount);
            }, nameA: "X", nameB: "Y");
        });
    }

    /// <summary>Integer division truncating toward zero (u64 unsigned); division by zero is an error.</summary>
    internal static long IntegerDivide(long a, long b, ElementType t)
    {
        if (b == 0) throw new KernelException("Div: integer division by zero");
        if (t == ElementType.UInt64) return (long)((ulong)a / (ulong)b);
        if (b == -1) return unchecked(-a); // long.MinValue / -1 wraps (and would throw in C#)
        return a / b;
    }

    /// <summary>
    /// Integer remainder: with <paramref name="fmod"/> the sign follows the dividend (C fmod / truncated
    /// division); without, the sign follows the divisor (Python / numpy mod).
    /// </summary>
    internal static long IntegerModulo(long a, long b, ElementType t, bool fmod)
    {
        if (b == 0) throw new KernelException("Mod: integer modulo by zero");
        if (t == ElementType.UInt64) return (long)((ulong)a % (ulong)b);
        if (b == -1) return 0;
        long r = a % b;
        if (!fmod && r != 0 && (r < 0) != (b < 0)) r += b;
        return r;
    }

    private static void RegisterElementwiseActivations(KernelRegistry r)
    {
        var F = ElementTypeSet.Float;
        ElementwiseUnary(r, "Relu", ElementTypeSet.SignedNumeric, x => Math.Max(x, 0), (v, _) => Math.Max(v, 0));
        r.Register("LeakyRelu", n =>
        {
            double alpha = n.Attributes.GetFloat("alpha", 0.01f);
            return new ElementwiseUnaryKernel("LeakyRelu", F, x => x < 0 ? alpha * x : x, null);
        });
        r.Register("PRelu", (KernelNode n, out string? reason) =>
        {
            if (RejectsType(n, 0, ElementTypeSet.Numeric, "X", out reason)) return null;
            var kernel = new ElementwiseBinaryKernel("PRelu", ElementTypeSet.Numeric,
                (x, s) => x < 0 ? s * x : x,
                (x, s, t) => IsSignedInteger(t) && x < 0 ? unchecked(s * x) : x,
                unidirectional: true, nameA: "X", nameB: "slope");
            // Before opset 7 a 1-D slope holds one value per channel (axis 1), as in Caffe2 / PyTorch.
            return OpsetBefore(n, 7) ? new ElementwisePReluChannelKernel(kernel) : kernel;
        });
        ElementwiseUnary(r, "Sigmoid", F, ElementwiseMath.Sigmoid);
        r.Register("HardSigmoid", n =>
        {
            double alpha = n.Attributes.GetFloat("alpha", 0.2f), beta = n.Attributes.GetFloat("beta", 0.5f);
            return new ElementwiseUnaryKernel("HardSigmoid", F, x => Math.Max(0, Math.Min(1, alpha * x + beta)), null);
        });
        ElementwiseUnary(r, "Tanh", F, Math.Tanh);
        r.Register("Elu", n =>
        {
            double alpha = n.Attributes.GetFloat("alpha", 1f);
            return new ElementwiseUnaryKernel("Elu", F, x => x < 0 ? alpha * (Math.Exp(x) - 1) : x, null);
        });
        r.Register("Selu", n =>
        {
            double alpha = n.Attributes.GetFloat("alpha", 1.67326319217681884765625f);
            double gamma = n.Attributes.GetFloat("gamma", 1.05070102214813232421875f);
            return new ElementwiseUnaryKernel("Selu", F, x => x > 0 ? gamma * x : gamma * (alpha * Math.Exp(x) - alpha), null);
        });
        r.Register("Celu", n =>
        {
            double alpha = n.Attributes.GetFloat("alpha", 1f);
            return new ElementwiseUnaryKernel("Celu", F, x => Math.Max(0, x) + Math.Min(0, alpha * (Math.Exp(x / alpha) - 1)), null);
        });
        r.Register("ThresholdedRelu", n =>
        {
            double alpha = n.Attributes.GetFloat("alpha", 1f);
            return new ElementwiseUnaryKernel("ThresholdedRelu", F, x => x > alpha ? x : 0, null);
        });
        ElementwiseUnary(r, "Softplus", F, ElementwiseMath.Softplus);
        ElementwiseUnary(r, "Softsign", F, x => x / (1 + Math.Abs(x)));
        ElementwiseUnary(r, "HardSwish", F, x => x * Math.Max(0, Math.Min(1, x / 6 + 0.5)));
        ElementwiseUnary(r, "Mish", F, x => x * Math.Tanh(ElementwiseMath.Softplus(x)));
        r.Register("Gelu", (KernelNode n, out string? reason) =>
        {
            reason = null;
            var approximate = n.Attributes.GetString("approximate", "none");
            if (RejectsType(n, 0, F, "X", out reason)) return null;
            switch (approximate)
            {
                case "none":
                    return new ElementwiseUnaryKernel("Gelu", F, x => 0.5 * x * ElementwiseMath.Erfc(-x / Math.Sqrt(2)), null);
                case "tanh":
                    double k = Math.Sqrt(2 / Math.PI);
                    return new ElementwiseUnaryKernel("Gelu", F, x => 0.5 * x * (1 + Math.Tanh(k * (x + 0.044715 * x * x * x))), null);
                default:
                    reason = $"Gelu: approximate '{approximate}' is not 'none' or 'tanh'";
                    return null;
            }
        });
        r.Register("Shrink", n =>
        {
            double lambd = n.Attributes.GetFloat("lambd", 0.5f), bias = n.Attributes.GetFloat("bias", 0f);
            return new ElementwiseUnaryKernel("Shrink", ElementTypeSet.Numeric, x => x < -lambd ? x + bias : x > lambd ? x - bias : 0, null);
        });
        r.Register("Clip", (KernelNode n, out string? reason) =>
        {
            if (RejectsType(n, 0, ElementTypeSet.Numeric, "input", out reason)) return null;
            bool inputs = !OpsetBefore(n, 11);
            return new ElementwiseClipKernel(inputs, n.Attributes.GetFloat("min", float.MinValue), n.Attributes.GetFloat("max", float.MaxValue));
        });
    }

    private static void RegisterElementwiseOther(KernelRegistry r)
    {
        r.Register("Sum", (KernelNode n, out string? reason) => RejectsType(n, 0, ElementTypeSet.Float, "data_0", out reason) ? null : new ElementwiseVariadicKernel("Sum", ElementTypeSet.Float));
        r.Register("Mean", (KernelNode n, out string? reason) => RejectsType(n, 0, ElementTypeSet.Float, "data_0", out reason) ? null : new ElementwiseVariadicKernel("Mean", ElementTypeSet.Float));
        r.Register("Max", (KernelNode n, out string? reason) => RejectsType(n, 0, ElementTypeSet.Numeric, "data_0", out reason) ? null : new ElementwiseVariadicKernel("Max", ElementTypeSet.Numeric));
        r.Register("Min", (KernelNode n, out string? reason) => RejectsType(n, 0, ElementTypeSet.Numeric, "data_0", out reason) ? null : new ElementwiseVariadicKernel("Min", ElementTypeSet.Numeric));
        r.Register("Where", n => new ElementwiseWhereKernel());
        r.Register("Cast", (KernelNode n, out string? reason) =>
        {
            reason = null;
            if (!n.Attributes.Has("to"))
            {
                reason = "Cast: the 'to' attribute is required";
                return null;
            }
            long to = n.Attributes.GetInt("to");
            if (to is < 0 or > int.MaxValue || !IsKnown((ElementType)to))
            {
                reason = $"Cast: 'to' = {to} is not a supported element type";
                return null;
            }
            return new ElementwiseCastKernel("Cast", (ElementType)to, n.Attributes.GetInt("saturate", 1) != 0);
        });
        r.Register("CastLike", n => new ElementwiseCastKernel("CastLike", null, n.Attributes.GetInt("saturate", 1) != 0));
    }
}
