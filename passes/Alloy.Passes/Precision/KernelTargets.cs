using System.Runtime.Intrinsics.X86;
using Alloy.IR;

namespace Alloy.Passes.Precision;

/// <summary>
/// Kernel availability by named target, the default for <see cref="PrecisionPolicy.KernelAvailable"/>. On every
/// named target the reference kernels run every op in bf16 and fp16 (converting on load and store, accumulating in
/// FP32), so by default every (op, type) is available and the rule never fires; a host whose backend lacks kernels
/// passes its own predicate (<see cref="MarkPrecisionOptions.KernelAvailable"/>). With <c>nativeOnly</c>, only kernels
/// backed by low-precision dot-product instructions count for the compute-bound ops (MatMul, Gemm, Conv,
/// ConvTranspose, Einsum, Attention, LSTM/GRU/RNN): bf16 needs <c>avx512_bf16</c> or <c>amx_bf16</c>, fp16 needs
/// <c>avx512_fp16</c> or <c>amx_fp16</c>; every other op converts on load/store and is available everywhere. A target
/// is a set of ISA features named as in the backend (<c>avx512f</c>, <c>avx512_vnni</c>, <c>avx512_bf16</c>,
/// <c>avx512_fp16</c>, <c>amx_bf16</c>, <c>amx_int8</c>, <c>amx_fp16</c>).
/// </summary>
public static class KernelTargets
{
    /// <summary>The target names mark-* accepts in its <c>target</c> option.</summary>
    public static IReadOnlyList<string> Names { get; } = ["reference", "native", "icelake", "sapphirerapids"];

    private static readonly Lazy<IReadOnlySet<string>> NativeFeatures = new(ProbeNative);

    /// <summary>The ISA features of a named target (<c>reference</c> has none but needs none).</summary>
    public static IReadOnlySet<string> Features(string target) => target switch
    {
        "reference" => new HashSet<string>(),
        "native" => NativeFeatures.Value,
        "icelake" => new HashSet<string> { "avx512f", "avx512_vnni" },
        "sapphirerapids" => new HashSet<string> { "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_int8" },
        _ => throw new ArgumentException($"unknown target '{target}' (known: {string.Join(", ", Names)})", nameof(target)),
    };

    /// <summary>
    /// The kernel-availability predicate of a named target: true for every op (the reference kernels run everything),
    /// unless <paramref name="nativeOnly"/> asks for native low-precision dot-product instructions.
    /// </summary>
    public static Func<string, DataType, bool> Availability(string target, bool nativeOnly = false)
    {
        var features = Features(target);
        if (!nativeOnly || target == "reference") return (_, _) => true;
        return NativeAvailability(features);
    }

    /// <summary>Availability counting only native low-precision kernels, for a feature set.</summary>
    public static Func<string, DataType, bool> NativeAvailability(IReadOnlySet<string> features) => (op, type) =>
    {
        if (!NeedsMatrixUnit(op)) return true;
        return type switch
        {
            DataType.BFloat16 => features.Contains("avx512_bf16") || features.Contains("amx_bf16"),
            DataType.Float16 => features.Contains("avx512_fp16") || features.Contains("amx_fp16"),
            _ => true,
        };
    };

    /// <summary>Ops whose low-precision speed comes from dot-product instructions (AVX512_BF16 / AVX512_FP16 / AMX).</summary>
    public static bool NeedsMatrixUnit(string opType) =>
        opType is "MatMul" or "Gemm" or "Conv" or "ConvTranspose" or "Einsum" or "Attention" or "LSTM" or "GRU" or "RNN";

    /// <summary>
    /// CPUID leaf 7: sub-leaf 0 EBX bit 16 (AVX-512F), ECX bit 11 (VNNI), EDX bits 22/23/25 (AMX-BF16, AVX512-FP16,
    /// AMX-INT8); sub-leaf 1 EAX bits 5/21 (AVX512-BF16, AMX-FP16). AVX-512 counts only when the OS enables its
    /// state (<see cref="Avx512F.IsSupported"/>). The runtime's probe also checks the per-process AMX permission;
    /// for a policy decision the CPU's capability is what matters.
    /// </summary>
    private static IReadOnlySet<string> ProbeNative()
    {
        var f = new HashSet<string>();
        if (!X86Base.IsSupported) return f;
        var (max, _, _, _) = X86Base.CpuId(0, 0);
        if (max < 7) return f;
        var (_, ebx, ecx, edx) = X86Base.CpuId(7, 0);
        var (eax1, _, _, _) = X86Base.CpuId(7, 1);
        bool avx512 = Avx512F.IsSupported && (ebx & (1 << 16)) != 0;
        if (avx512)
        {
            f.Add("avx512f");
            if ((ecx & (1 << 11)) != 0) f.Add("avx512_vnni");
            if ((eax1 & (1 << 5)) != 0) f.Add("avx512_bf16");
            if ((edx & (1 << 23)) != 0) f.Add("avx512_fp16");
        }
        if ((edx & (1 << 22)) != 0) f.Add("amx_bf16");
        if ((edx & (1 << 25)) != 0) f.Add("amx_int8");
        if ((eax1 & (1 << 21)) != 0) f.Add("amx_fp16");
        return f;
    }
}
