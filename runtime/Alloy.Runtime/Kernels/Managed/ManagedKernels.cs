using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Alloy.Runtime.Cpu;

namespace Alloy.Runtime.Kernels.Managed;

/// <summary>The SIMD width the managed kernels are compiled for, lowest first.</summary>
public enum ManagedIsa
{
    /// <summary>Portable scalar code (one <see cref="MathF.FusedMultiplyAdd"/> per product).</summary>
    Scalar = 0,
    /// <summary>AVX2 + FMA, <see cref="Vector256{T}"/>.</summary>
    Vector256 = 1,
    /// <summary>AVX-512 F, <see cref="Vector512{T}"/>.</summary>
    Vector512 = 2,
}

/// <summary>
/// The fast managed kernels: MatMul, Gemm and Conv (2-D NCHW) on f32, bf16 and f16 data, plus float32 fast paths of
/// Add / Sub / Mul / Div, Relu, Clip, MaxPool and GlobalAveragePool (bit-exact with the reference kernels), Transpose and
/// Slice (exact copies), bfloat16 Add / Sub / Mul / Div, Relu, Clip, MaxPool and f32 ↔ bf16 Cast (bit-exact,
/// <see cref="Bf16ViaFloat32"/>, <see cref="Bf16Cast"/>), Pow(x, 2), Erf and last-axis ReduceMean / Softmax (<see cref="ManagedMath"/>,
/// <see cref="ManagedReductions"/>, <see cref="ManagedMovement"/>), replacing
/// the reference kernels of those ops. In MatMul / Gemm / Conv, 16-bit operands are widened to float32 as they are packed, products accumulate in float32
/// (one fused multiply-add per product, in ascending order of the reduction index), and each result is rounded once
/// to the output type on store: the input type, or the result type the compiler decided for the node
/// (<see cref="KernelNode.OutputTypes"/>, e.g. f32 out of bf16 operands) when that is f32, bf16 or f16. Every configuration the fast paths do not cover (other element types, other ranks,
/// 1-D / 3-D convolutions, …) runs the reference kernel, so a managed registry supports exactly the ops and nodes
/// the reference registry supports.
/// <para>The SIMD width follows the CPU: <see cref="ManagedIsa.Vector512"/> when AVX-512 F is usable under the
/// <c>ALLOY_MAX_CPU_ISA</c> cap (<see cref="CpuFeatures"/>) and .NET accelerates <see cref="Vector512{T}"/>, else
/// <see cref="ManagedIsa.Vector256"/> with AVX2 + FMA, else scalar. A lower width can be forced with
/// <see cref="CreateRegistry(ManagedIsa)"/> (tests and benchmarks use it to cover every path).</para>
/// </summary>
public static class ManagedKernels
{
    private static readonly Lazy<KernelRegistry> ReferenceRegistry = new(KernelRegistry.Reference);
    private static readonly Lazy<ManagedIsa> Detected = new(() => DetectIsa(CpuFeatures.Detect()));

    /// <summary>The widest ISA usable on this machine under <c>ALLOY_MAX_CPU_ISA</c>.</summary>
    public static ManagedIsa DefaultIsa => Detected.Value;

    /// <summary>The widest ISA the given probe allows (and the .NET runtime supports).</summary>
    public static ManagedIsa DetectIsa(CpuFeatures features)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (features.IsUsable(CpuFeature.Avx512F) && Avx512F.IsSupported && Vector512.IsHardwareAccelerated)
            return ManagedIsa.Vector512;
        if (features.IsUsable(CpuFeature.Avx2) && features.IsUsable(CpuFeature.Fma) && Avx2.IsSupported && Fma.IsSupported)
            return ManagedIsa.Vector256;
        return ManagedIsa.Scalar;
    }

    /// <summary>The reference kernels with the managed ones registered over them, at <see cref="DefaultIsa"/>.</summary>
    public static KernelRegistry CreateRegistry() => CreateRegistry(DefaultIsa);

    /// <summary>
    /// The reference kernels with the managed ones over them, using at most <paramref name="maxIsa"/> (lowered to
    /// what this machine allows).
    /// </summary>
    public static KernelRegistry CreateRegistry(ManagedIsa maxIsa)
    {
        var r = KernelRegistry.Reference();
        Register(r, maxIsa);
        return r;
    }

    /// <summary>Registers the managed kernels (at <see cref="DefaultIsa"/>), replacing what <paramref name="r"/> has for their ops.</summary>
    public static void Register(KernelRegistry r) => Register(r, DefaultIsa);

    /// <summary>Registers the managed kernels using at most <paramref name="maxIsa"/>.</summary>
    public static void Register(KernelRegistry r, ManagedIsa maxIsa)
    {
        ArgumentNullException.ThrowIfNull(r);
        var isa = (ManagedIsa)Math.Min((int)maxIsa, (int)DefaultIsa);
        r.Register("MatMul", (KernelNode n, out string? reason) => Create(n, out reason, fallback => new ManagedMatMulKernel(isa, fallback, DeclaredOutput(n))));
        r.Register("Gemm", (KernelNode n, out string? reason) => Create(n, out reason, fallback =>
            new ManagedGemmKernel(isa, fallback, DeclaredOutput(n), n.Attributes.GetFloat("alpha", 1f), n.Attributes.GetFloat("beta", 1f),
                n.Attributes.GetInt("transA", 0) != 0, n.Attributes.GetInt("transB", 0) != 0)));
        r.Register("Conv", (KernelNode n, out string? reason) => Create(n, out reason, fallback => ManagedConvKernel.Create(isa, fallback, n, DeclaredOutput(n))));
        ManagedElementwise.Register(r, isa);
        ManagedPooling.Register(r, isa);
        ManagedMath.Register(r, isa);
        ManagedReductions.Register(r, isa);
        ManagedMovement.Register(r);
        ManagedConcat.Register(r);
        Bf16ViaFloat32.Register(r, isa);
        Bf16Cast.Register(r, isa);
        Int8Kernels.Register(r, Int8Kernels.IsaFor(isa), isa);
    }

    /// <summary>
    /// The result type the compiler decided for a MatMul / Gemm / Conv when it is one the managed kernels store (f32,
    /// bf16, f16), e.g. f32 for a bf16 MatMul that accumulates and returns f32; null: the input type.
    /// </summary>
    private static ElementType? DeclaredOutput(KernelNode n) =>
        n.OutputTypes.Count > 0 && n.OutputTypes[0] is { } t && ManagedConvert.IsSupported(t) ? t : null;

    /// <summary>The reference kernel for a node (null with the reference's reason when it has none).</summary>
    internal static IKernel? CreateReference(KernelNode n, out string? reason) => ReferenceRegistry.Value.Create(n, out reason);

    /// <summary>
    /// The reference kernel for the node (null with its reason when even the reference cannot run it); the managed
    /// kernel wrapping it when the node's known input types are ones the managed kernels compute on.
    /// </summary>
    private static IKernel? Create(KernelNode n, out string? reason, Func<IKernel, IKernel?> managed)
    {
        var reference = ReferenceRegistry.Value.Create(n, out reason);
        if (reference is null) return null;
        for (int i = 0; i < n.InputTypes.Count; i++)
            if (n.InputTypes[i] is { } t && !ManagedConvert.IsSupported(t)) return reference;
        return managed(reference) ?? reference;
    }
}
