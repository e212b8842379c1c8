using Alloy.Runtime.Kernels;
using Alloy.Runtime.Kernels.Managed;
using Alloy.Runtime.Numerics;
using Alloy.Runtime.OneDnn.Convolution;
using Alloy.Runtime.OneDnn.Native;

namespace Alloy.Runtime.OneDnn.Kernels;

/// <summary>
/// The fused integer convolution of the QDQ lowering (<c>com.alloy::QLinearConv</c>: QLinearConv's nine operands and
/// an optional <c>relu</c>) on oneDNN: uint8 / int8 activations × int8 weights → uint8 / int8 results, with the bias
/// (int32), the output scales <c>x_scale · w_scale[m] / y_scale</c> (per tensor or per output channel), the
/// activation zero points and the ReLU in the primitive's epilogue. oneDNN computes
/// <c>round_half_even(float(acc + bias) · scale) + y_zero_point</c> in float32 where the reference rounds the
/// double product of the exact int32 sum, so a result may differ from the reference by one quantisation step.
/// Configurations oneDNN does not take run the managed kernel, and <see cref="FallbackReason"/> says why: uint8
/// weights, non-zero weight zero points, per-row activation parameters, non-positive scales, ranks other than 4.
/// </summary>
internal sealed unsafe class OneDnnQLinearConvKernel : OneDnnConvolutionKernel, IKernel, IWeightPrepacking
{
    private readonly bool _relu;
    private readonly ElementType? _xType;
    private readonly Lock _lock = new();
    private Parameters? _parameters;

    private OneDnnQLinearConvKernel(IKernel managed, ConvolutionAttributes attrs, bool relu, string node, ElementType? xType)
        : base(managed, attrs, node)
    {
        _xType = xType;
        _relu = relu;
    }

    /// <summary>
    /// The oneDNN kernel over <paramref name="managed"/> (which runs what oneDNN cannot); null with the reason when the
    /// node's known types or attributes already rule oneDNN out.
    /// </summary>
    public static IKernel? Create(KernelNode n, IKernel managed, out string? reason)
    {
        var attrs = ConvolutionAttributes.Read(n, out reason);
        if (attrs is null) return null;
        if (Known(n, 0) is { } xt && xt is not (ElementType.UInt8 or ElementType.Int8)) reason = $"{n}: x is {xt.Name()}";
        else if (Known(n, 3) is { } wt && wt != ElementType.Int8) reason = $"{n}: oneDNN takes int8 weights, w is {wt.Name()}";
        else if (Known(n, 8) is { } bt && bt != ElementType.Int32) reason = $"{n}: B is {bt.Name()}";
        if (reason is not null) return null;
        return new OneDnnQLinearConvKernel(managed, attrs, n.Attributes.GetInt("relu", 0) != 0, n.ToString(), Known(n, 0));
    }

    private static ElementType? Known(KernelNode n, int i) => i < n.InputTypes.Count ? n.InputTypes[i] : null;

    public void Prepack(ReadOnlySpan<Tensor?> constantInputs, int threads)
    {
        // Scales, zero points, bias and weights known now: the epilogue is fixed once (the primitives follow on the
        // first run of each input shape, which fixes the layouts oneDNN picks).
        for (int i = 1; i < 9; i++)
            if (i != 2 && i != 7 && i != 8 && At(constantInputs, i) is null) return;
        if (_xType is { } xType) Get(constantInputs, xType);
    }

    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = At(inputs, 0);
        var w = At(inputs, 3);
        if (x is null || w is null || x.Rank != 4 || w.Rank != 4)
        {
            Fallback(context, inputs, outputs, "only 2-D convolutions run on oneDNN");
            return;
        }
        var p = Get(inputs, x.Type);
        if (p.Reason is not null)
        {
            Fallback(context, inputs, outputs, p.Reason);
            return;
        }
        RunPrimitive(context, inputs, outputs, x, w, p.Primitives!, p.Bias, p.OutputType);
    }

    /// <summary>The epilogue for these operands: kept while the parameter tensors are the same objects.</summary>
    private Parameters Get(ReadOnlySpan<Tensor?> inputs, ElementType xType)
    {
        var key = new Tensor?[9];
        for (int i = 1; i < 9; i++) key[i] = At(inputs, i);
        lock (_lock)
        {
            if (_parameters is { } cached && cached.Matches(key, xType)) return cached;
            _parameters = Parameters.From(key, xType, _relu);
            return _parameters;
        }
    }

    /// <summary>The epilogue and primitives for one set of scale / zero point / weight / bias tensors.</summary>
    private sealed class Parameters
    {
        private Tensor?[] _key = [];
        private ElementType _xType;

        public string? Reason { get; private init; }
        public ElementType OutputType { get; private init; }
        public NativeBuffer? Bias { get; private init; }
        public ConvolutionPrimitives? Primitives { get; private init; }

        public bool Matches(Tensor?[] key, ElementType xType)
        {
            if (xType != _xType) return false;
            for (int i = 1; i < key.Length; i++)
                if (!ReferenceEquals(key[i], _key[i])) return false;
            return true;
        }

        public static Parameters From(Tensor?[] t, ElementType xType, bool relu)
        {
            var reason = Check(t, xType, out var outType, out var scales, out int xZp, out int yZp);
            if (reason is not null) return new Parameters { _key = t, _xType = xType, Reason = reason };
            var bias = t[8] is { } b ? new NativeBuffer(b.Bytes) : null;
            int srcType = xType == ElementType.Int8 ? Dnnl.S8 : Dnnl.U8;
            int dstType = outType == ElementType.Int8 ? Dnnl.S8 : Dnnl.U8;
            var types = new ConvolutionTypes(srcType, Dnnl.S8, bias is null ? 0 : Dnnl.S32, dstType);
            var epilogue = new ConvolutionEpilogue(scales, xZp, yZp, relu, 0f, float.PositiveInfinity);
            return new Parameters
            {
                _key = t, _xType = xType, OutputType = outType, Bias = bias, Primitives = new ConvolutionPrimitives(types, epilogue),
            };
        }

        /// <summary>Null when oneDNN can take these operands, else why not.</summary>
        private static string? Check(Tensor?[] t, ElementType xType, out ElementType outType, out float[] scales, out int xZp, out int yZp)
        {
            outType = ElementType.UInt8;
            scales = [];
            xZp = yZp = 0;
            var (xScale, xzp, w, wScale, wzp, yScale, yzp, bias) = (t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8]);
            if (xType is not (ElementType.UInt8 or ElementType.Int8)) return $"x is {xType.Name()}";
            if (w is null || xScale is null || wScale is null || yScale is null) return "an operand is missing";
            if (w.Type != ElementType.Int8) return $"oneDNN takes int8 weights, w is {w.Type.Name()}";
            long m = w.Rank > 0 ? w.Shape[0] : 0;
            if (xScale.Length != 1 || yScale.Length != 1 || xzp is { Length: not 1 } || yzp is { Length: not 1 })
                return "x / y scales and zero points must be per tensor";
            if (xzp is not null && xzp.Type != xType) return $"x_zero_point is {xzp.Type.Name()}, x is {xType.Name()}";
            if (wzp is not null && (wzp.Type != ElementType.Int8 || ElementConvert.ToLongs(wzp).Any(v => v != 0)))
                return "oneDNN takes weights with zero point 0 only";
            if (wScale.Length != 1 && wScale.Length != m) return $"w_scale {wScale.ShapeText} must hold 1 or {m} values";
            if (bias is not null && (bias.Type != ElementType.Int32 || bias.Length != m)) return $"B must be int32 with {m} values";
            outType = yzp?.Type ?? xType;
            if (outType is not (ElementType.UInt8 or ElementType.Int8)) return $"y_zero_point is {outType.Name()}";
            if (!xScale.Type.IsFloat() || !wScale.Type.IsFloat() || !yScale.Type.IsFloat()) return "scales must be floating point";
            float xs = (float)ElementConvert.GetDouble(xScale, 0), ys = (float)ElementConvert.GetDouble(yScale, 0);
            scales = new float[wScale.Length];
            for (long i = 0; i < wScale.Length; i++)
            {
                // The reference's multiplier, in the same float32 arithmetic.
                scales[i] = xs * (float)ElementConvert.GetDouble(wScale, i) / ys;
                if (!float.IsFinite(scales[i]) || scales[i] <= 0f) return "scales must give finite positive multipliers";
            }
            xZp = xzp is null ? 0 : (int)ElementConvert.GetLong(xzp, 0);
            yZp = yzp is null ? 0 : (int)ElementConvert.GetLong(yzp, 0);
            return null;
        }
    }
}
