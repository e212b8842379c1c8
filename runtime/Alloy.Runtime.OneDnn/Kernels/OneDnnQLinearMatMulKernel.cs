using Alloy.Runtime.Kernels;
using Alloy.Runtime.Kernels.Managed;
using Alloy.Runtime.Numerics;
using Alloy.Runtime.OneDnn.Convolution;
using Alloy.Runtime.OneDnn.MatMul;
using Alloy.Runtime.OneDnn.Native;

namespace Alloy.Runtime.OneDnn.Kernels;

/// <summary>
/// The fused integer matrix product of the QDQ lowering (<c>com.alloy::QLinearMatMul</c>: QLinearMatMul's operands, an
/// int32 bias as input 8, <c>transB</c>, <c>relu</c>: a quantised Gemm or MatMul + Add) on oneDNN's matmul: uint8 /
/// int8 activations (any rank, leading dims flattened into rows) × 2-D int8 weights → uint8 / int8, with the bias, the
/// output scales <c>a_scale · b_scale[n] / y_scale</c> (per tensor or per column), the activation zero points and the
/// ReLU in the epilogue. Numerics as <see cref="OneDnnQLinearConvKernel"/>: within one quantisation step of the
/// reference. uint8 weights, non-zero weight zero points and per-row activation parameters run the managed kernel.
/// </summary>
internal sealed unsafe class OneDnnQLinearMatMulKernel : IKernel
{
    private readonly IKernel _managed;
    private readonly bool _relu, _transB;
    private readonly string _node;
    private readonly Lock _lock = new();
    private (Tensor?[] Key, ElementType XType, string? Reason, ElementType OutputType, long N, NativeBuffer? Bias, ConvolutionTypes Types,
        ConvolutionEpilogue? Epilogue, Dictionary<(long Rows, int Threads), (OneDnnMatMul? MatMul, string? Reason)> Created)? _state;

    private OneDnnQLinearMatMulKernel(IKernel managed, bool relu, bool transB, string node)
    {
        _managed = managed;
        _relu = relu;
        _transB = transB;
        _node = node;
    }

    /// <summary>Why the last run used the managed kernel (null: it ran on oneDNN).</summary>
    public string? FallbackReason { get; private set; }

    /// <summary>oneDNN's implementation name for the last run on oneDNN.</summary>
    public string? Implementation { get; private set; }

    /// <summary>The oneDNN kernel over <paramref name="managed"/>; null with the reason when the node's known types rule oneDNN out.</summary>
    public static IKernel? Create(KernelNode n, IKernel managed, out string? reason)
    {
        reason = null;
        if (Known(n, 0) is { } at && at is not (ElementType.UInt8 or ElementType.Int8)) reason = $"{n}: a is {at.Name()}";
        else if (Known(n, 3) is { } bt && bt != ElementType.Int8) reason = $"{n}: oneDNN takes int8 weights, b is {bt.Name()}";
        else if (Known(n, 8) is { } ct && ct != ElementType.Int32) reason = $"{n}: the bias is {ct.Name()}";
        if (reason is not null) return null;
        return new OneDnnQLinearMatMulKernel(managed, n.Attributes.GetInt("relu", 0) != 0, n.Attributes.GetInt("transB", 0) != 0, n.ToString());
    }

    private static ElementType? Known(KernelNode n, int i) => i < n.InputTypes.Count ? n.InputTypes[i] : null;

    private static Tensor? At(ReadOnlySpan<Tensor?> inputs, int i) => i < inputs.Length ? inputs[i] : null;

    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var a = At(inputs, 0);
        var b = At(inputs, 3);
        if (a is null || b is null || a.Rank < 1 || b.Rank != 2 || a.Type is not (ElementType.UInt8 or ElementType.Int8))
        {
            Fallback(context, inputs, outputs, "oneDNN takes 8-bit activations and 2-D weights");
            return;
        }
        var state = State(inputs, a.Type);
        if (state.Reason is not null)
        {
            Fallback(context, inputs, outputs, state.Reason);
            return;
        }
        long k = a.Shape[^1], n = state.N;
        if ((_transB ? b.Shape[1] : b.Shape[0]) != k || k == 0)
        {
            Fallback(context, inputs, outputs, $"a {a.ShapeText} and b {b.ShapeText} do not multiply");
            return;
        }
        long rows = a.Length / k;
        OneDnnMatMul? matmul;
        string? reason;
        lock (_lock)
        {
            if (!state.Created.TryGetValue((rows, context.Threads), out var entry))
            {
                var m = OneDnnMatMul.TryCreate(rows, k, n, _transB, state.Types, state.Epilogue!, b.Pointer, state.Bias is null ? null : state.Bias.Pointer,
                    context.Threads, out var why);
                state.Created[(rows, context.Threads)] = entry = (m, why);
            }
            (matmul, reason) = entry;
        }
        if (matmul is null)
        {
            Fallback(context, inputs, outputs, reason ?? "oneDNN has no implementation");
            return;
        }
        long[] shape = a.Rank == 1 ? [n] : [.. a.Shape[..^1], n];
        var y = Tensor.Create(state.OutputType, shape);
        try
        {
            matmul.Execute(a.Pointer, y.Pointer, context.Threads);
        }
        catch
        {
            y.Dispose();
            throw;
        }
        Implementation = matmul.Implementation;
        FallbackReason = null;
        outputs[0] = y;
    }

    private void Fallback(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs, string reason)
    {
        FallbackReason = $"{_node}: {reason}";
        _managed.Run(context, inputs, outputs);
    }

    /// <summary>The epilogue for these operands, kept while the parameter tensors are the same objects.</summary>
    private (Tensor?[] Key, ElementType XType, string? Reason, ElementType OutputType, long N, NativeBuffer? Bias, ConvolutionTypes Types,
        ConvolutionEpilogue? Epilogue, Dictionary<(long Rows, int Threads), (OneDnnMatMul? MatMul, string? Reason)> Created) State(
        ReadOnlySpan<Tensor?> inputs, ElementType aType)
    {
        var key = new Tensor?[9];
        for (int i = 1; i < 9; i++) key[i] = At(inputs, i);
        lock (_lock)
        {
            if (_state is { } s && s.XType == aType && key.AsSpan(1).SequenceEqual(s.Key.AsSpan(1), ReferenceEqualityComparer.Instance)) return s;
            var reason = Check(key, aType, out var outType, out var n, out var scales, out int aZp, out int yZp);
            NativeBuffer? bias = reason is null && key[8] is { } c ? new NativeBuffer(c.Bytes) : null;
            var types = new ConvolutionTypes(aType == ElementType.Int8 ? Dnnl.S8 : Dnnl.U8, Dnnl.S8, bias is null ? 0 : Dnnl.S32,
                outType == ElementType.Int8 ? Dnnl.S8 : Dnnl.U8);
            var epilogue = reason is null ? new ConvolutionEpilogue(scales, aZp, yZp, _relu, 0f, float.PositiveInfinity) : null;
            _state = (key, aType, reason, outType, n, bias, types, epilogue, []);
            return _state.Value;
        }
    }

    private string? Check(Tensor?[] t, ElementType aType, out ElementType outType, out long n, out float[] scales, out int aZp, out int yZp)
    {
        outType = ElementType.UInt8;
        scales = [];
        n = 0;
        aZp = yZp = 0;
        var (aScale, azp, b, bScale, bzp, yScale, yzp, bias) = (t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8]);
        if (b is null || aScale is null || bScale is null || yScale is null) return "an operand is missing";
        if (b.Type != ElementType.Int8 || b.Rank != 2) return $"oneDNN takes 2-D int8 weights, b is {b}";
        n = _transB ? b.Shape[0] : b.Shape[1];
        if (aScale.Length != 1 || yScale.Length != 1 || azp is { Length: not 1 } || yzp is { Length: not 1 })
            return "a / y scales and zero points must be per tensor";
        if (azp is not null && azp.Type != aType) return $"a_zero_point is {azp.Type.Name()}, a is {aType.Name()}";
        if (bzp is not null && (bzp.Type != ElementType.Int8 || ElementConvert.ToLongs(bzp).Any(v => v != 0)))
            return "oneDNN takes weights with zero point 0 only";
        if (bScale.Length != 1 && bScale.Length != n) return $"b_scale {bScale.ShapeText} must hold 1 or {n} values";
        if (bias is not null && (bias.Type != ElementType.Int32 || bias.Length != n)) return $"the bias must be int32 with {n} values";
        outType = yzp?.Type ?? aType;
        if (outType is not (ElementType.UInt8 or ElementType.Int8)) return $"y_zero_point is {outType.Name()}";
        if (!aScale.Type.IsFloat() || !bScale.Type.IsFloat() || !yScale.Type.IsFloat()) return "scales must be floating point";
        float xs = (float)ElementConvert.GetDouble(aScale, 0), ys = (float)ElementConvert.GetDouble(yScale, 0);
        scales = new float[bScale.Length];
        for (long i = 0; i < bScale.Length; i++)
        {
            scales[i] = xs * (float)ElementConvert.GetDouble(bScale, i) / ys;
            if (!float.IsFinite(scales[i]) || scales[i] <= 0f) return "scales must give finite positive multipliers";
        }
        aZp = azp is null ? 0 : (int)ElementConvert.GetLong(azp, 0);
        yZp = yzp is null ? 0 : (int)ElementConvert.GetLong(yzp, 0);
        return null;
    }
}
