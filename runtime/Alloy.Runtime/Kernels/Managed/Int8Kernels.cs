namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// Registration of the managed integer kernels: QLinearConv, ConvInteger, QLinearMatMul, MatMulInteger (ONNX) and
/// the fused ops of the QDQ lowering in the <see cref="Domain"/> domain (<c>QLinearConv</c>, <c>QLinearMatMul</c>
/// with bias / transB / relu, <c>QLinearAdd</c>), MaxPool on uint8 / int8 data, plus per-tensor fast paths of
/// QuantizeLinear / DequantizeLinear.
/// The ISA is <see cref="Int8Gemm.DefaultIsa"/> (AVX-512 BW when usable under <c>ALLOY_MAX_CPU_ISA</c>) or lower
/// when asked.
/// </summary>
public static class Int8Kernels
{
    /// <summary>The domain of the fused integer ops the QDQ lowering binds.</summary>
    public const string Domain = "com.alloy";

    /// <summary>The ISA the managed registry at <paramref name="maxIsa"/> gives the integer kernels.</summary>
    public static Int8Isa IsaFor(ManagedIsa maxIsa) => maxIsa == ManagedIsa.Vector512 ? Int8Gemm.DefaultIsa : Int8Isa.Scalar;

    /// <summary>The managed registry with the integer kernels forced to <paramref name="isa"/> (or lower, if the machine lacks it).</summary>
    public static KernelRegistry CreateRegistry(Int8Isa isa)
    {
        var r = ManagedKernels.CreateRegistry();
        Register(r, (Int8Isa)Math.Min((int)isa, (int)Int8Gemm.DefaultIsa));
        return r;
    }

    /// <summary>Registers the integer kernels at <paramref name="isa"/>, over what <paramref name="r"/> has for these ops.</summary>
    public static void Register(KernelRegistry r, Int8Isa isa) => Register(r, isa, ManagedKernels.DefaultIsa);

    /// <summary>Registers the integer kernels; MaxPool on float / bf16 data keeps the managed kernels at <paramref name="floatIsa"/>.</summary>
    internal static void Register(KernelRegistry r, Int8Isa isa, ManagedIsa floatIsa)
    {
        ArgumentNullException.ThrowIfNull(r);
        r.Register("QLinearConv", (KernelNode n, out string? reason) =>
            Fallback(n, out reason) is { } f ? QLinearConvKernel.Create(isa, n, f, integer: false, out reason) : null);
        r.Register("ConvInteger", (KernelNode n, out string? reason) => QLinearConvKernel.Create(isa, n, null, integer: true, out reason));
        r.Register("QLinearMatMul", (KernelNode n, out string? reason) =>
            Fallback(n, out reason) is { } f ? QLinearMatMulKernel.Create(isa, n, f, integer: false, out reason) : null);
        r.Register("MatMulInteger", (KernelNode n, out string? reason) =>
            Fallback(n, out reason) is { } f ? QLinearMatMulKernel.Create(isa, n, f, integer: true, out reason) : null);
        r.Register("QLinearConv", (KernelNode n, out string? reason) => QLinearConvKernel.Create(isa, n, null, integer: false, out reason), Domain);
        r.Register("QLinearMatMul", (KernelNode n, out string? reason) => QLinearMatMulKernel.Create(isa, n, null, integer: false, out reason), Domain);
        r.Register("QLinearAdd", (KernelNode n, out string? reason) => QLinearAddKernel.Create(n, out reason), Domain);
        // MaxPool on uint8 / int8 data (known before running); other types keep the managed float / bf16 kernels.
        var floatPooling = new Lazy<KernelRegistry>(() =>
        {
            var pooling = KernelRegistry.Reference();
            ManagedPooling.Register(pooling, floatIsa);
            Bf16ViaFloat32.Register(pooling, floatIsa);
            return pooling;
        });
        r.Register("MaxPool", (KernelNode n, out string? reason) =>
        {
            if (n.OutputCount > 1 || n.InputTypes.Count < 1 || n.InputTypes[0] is not (ElementType.UInt8 or ElementType.Int8))
                return floatPooling.Value.Create(n, out reason);
            var fallback = Fallback(n, out reason);
            var attrs = Reference.SpatialAttributes.Read(n, out _);
            return fallback is null || attrs is null ? fallback : new Int8MaxPoolKernel(fallback, attrs);
        });
        r.Register("QuantizeLinear", (KernelNode n, out string? reason) =>
            Fallback(n, out reason) is { } f ? QuantizeLinearKernel.Create(n, f) : null);
        r.Register("DequantizeLinear", (KernelNode n, out string? reason) =>
            Fallback(n, out reason) is { } f ? DequantizeLinearKernel.Create(n, f) : null);
    }

    private static IKernel? Fallback(KernelNode n, out string? reason) => ManagedKernels.CreateReference(n, out reason);
}
