using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using System.Text;
using System.Text.Json;

namespace Alloy.Runtime.Cpu;

/// <summary>The x86 instruction-set features the runtime's kernels care about.</summary>
public enum CpuFeature
{
    Avx2,
    Fma,
    Avx512F,
    Avx512BW,
    Avx512VL,
    Avx512DQ,
    Avx512CD,
    Avx512Vbmi,
    Avx512Vnni,
    AvxVnni,
    Avx512Bf16,
    Avx512Fp16,
    Avx10_1,
    AmxTile,
    AmxInt8,
    AmxBf16,
    AmxFp16,
}

/// <summary>
/// ISA levels, named and ordered as oneDNN's <c>ONEDNN_MAX_CPU_ISA</c> names them; <c>ALLOY_MAX_CPU_ISA</c> caps the
/// usable features at one of them.
/// </summary>
public enum CpuIsa
{
    /// <summary>AVX2 and FMA.</summary>
    Avx2 = 1,
    /// <summary>+ AVX-512 F, BW, VL, DQ (Skylake-SP).</summary>
    Avx512Core,
    /// <summary>+ AVX-512 VNNI (Cascade Lake).</summary>
    Avx512CoreVnni,
    /// <summary>+ AVX-512 BF16 (Cooper Lake).</summary>
    Avx512CoreBf16,
    /// <summary>+ AVX-512 FP16 (Sapphire Rapids without AMX; oneDNN's avx10_1_512).</summary>
    Avx512CoreFp16,
    /// <summary>+ AMX tile, INT8 and BF16 (Sapphire Rapids).</summary>
    Avx512CoreAmx,
    /// <summary>+ AMX FP16 (Granite Rapids).</summary>
    Avx512CoreAmxFp16,
}

/// <summary>One feature: whether the CPU has it, whether the OS (and the .NET runtime) enable its state, and whether
/// the runtime may use it (both, and allowed by the ISA cap).</summary>
public readonly record struct CpuFeatureStatus(CpuFeature Feature, string Name, bool Cpu, bool Os, bool Usable);

/// <summary>
/// The CPU feature probe. CPU support comes from CPUID (<see cref="X86Base.CpuId"/>): leaf 1 (FMA), leaf 7
/// sub-leaf 0 (AVX2, AVX-512 F/DQ/CD/BW/VL/VBMI/VNNI/FP16, AMX BF16/TILE/INT8), leaf 7 sub-leaf 1 (AVX-VNNI,
/// AVX-512 BF16, AMX FP16, AVX10) and leaf 0x24 (AVX10 version). OS support: .NET has no XGETBV intrinsic, but its
/// own <c>Avx.IsSupported</c> / <c>Avx512F.IsSupported</c> are true only when XCR0 enables the YMM state (bits 1-2)
/// and the opmask/ZMM state (bits 5-7), so they stand for the OS check (they are also false when a
/// <c>DOTNET_EnableAVX…=0</c> switch disables the ISA, which the runtime must then respect too). AMX state (XCR0
/// bits 17-18) is enabled per process on Linux: when the CPU reports AMX, the probe asks the kernel for the
/// supported features (<c>arch_prctl(ARCH_GET_XCOMP_SUPP)</c>) and requests the tile data permission
/// (<c>arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)</c>); elsewhere AMX is reported as not OS-enabled.
/// <c>ALLOY_MAX_CPU_ISA</c> caps what is usable (see <see cref="IsaNames"/>). AVX-VNNI (the VEX form) and
/// AVX-512 VBMI count from <c>avx512_core_vnni</c> up, AVX10.1 from <c>avx512_core_fp16</c> up.
/// </summary>
public sealed class CpuFeatures
{
    /// <summary>The environment variable that caps the usable ISA.</summary>
    public const string MaxIsaVariable = "ALLOY_MAX_CPU_ISA";

    private static readonly (CpuIsa Isa, string Name)[] IsaTable =
    [
        (CpuIsa.Avx2, "avx2"),
        (CpuIsa.Avx512Core, "avx512_core"),
        (CpuIsa.Avx512CoreVnni, "avx512_core_vnni"),
        (CpuIsa.Avx512CoreBf16, "avx512_core_bf16"),
        (CpuIsa.Avx512CoreFp16, "avx512_core_fp16"),
        (CpuIsa.Avx512CoreAmx, "avx512_core_amx"),
        (CpuIsa.Avx512CoreAmxFp16, "avx512_core_amx_fp16"),
    ];

    /// <summary>Feature → (report name, the lowest ISA level that allows it).</summary>
    private static readonly (CpuFeature Feature, string Name, CpuIsa Level)[] FeatureTable =
    [
        (CpuFeature.Avx2, "avx2", CpuIsa.Avx2),
        (CpuFeature.Fma, "fma", CpuIsa.Avx2),
        (CpuFeature.Avx512F, "avx512f", CpuIsa.Avx512Core),
        (CpuFeature.Avx512BW, "avx512bw", CpuIsa.Avx512Core),
        (CpuFeature.Avx512VL, "avx512vl", CpuIsa.Avx512Core),
        (CpuFeature.Avx512DQ, "avx512dq", CpuIsa.Avx512Core),
        (CpuFeature.Avx512CD, "avx512cd", CpuIsa.Avx512Core),
        (CpuFeature.Avx512Vbmi, "avx512_vbmi", CpuIsa.Avx512CoreVnni),
        (CpuFeature.Avx512Vnni, "avx512_vnni", CpuIsa.Avx512CoreVnni),
        (CpuFeature.AvxVnni, "avx_vnni", CpuIsa.Avx512CoreVnni),
        (CpuFeature.Avx512Bf16, "avx512_bf16", CpuIsa.Avx512CoreBf16),
        (CpuFeature.Avx512Fp16, "avx512_fp16", CpuIsa.Avx512CoreFp16),
        (CpuFeature.Avx10_1, "avx10_1", CpuIsa.Avx512CoreFp16),
        (CpuFeature.AmxTile, "amx_tile", CpuIsa.Avx512CoreAmx),
        (CpuFeature.AmxInt8, "amx_int8", CpuIsa.Avx512CoreAmx),
        (CpuFeature.AmxBf16, "amx_bf16", CpuIsa.Avx512CoreAmx),
        (CpuFeature.AmxFp16, "amx_fp16", CpuIsa.Avx512CoreAmxFp16),
    ];

    /// <summary>The features each ISA level requires on top of the level below (oneDNN's definitions).</summary>
    private static readonly (CpuIsa Isa, CpuFeature[] Requires)[] IsaRequirements =
    [
        (CpuIsa.Avx2, [CpuFeature.Avx2, CpuFeature.Fma]),
        (CpuIsa.Avx512Core, [CpuFeature.Avx512F, CpuFeature.Avx512BW, CpuFeature.Avx512VL, CpuFeature.Avx512DQ]),
        (CpuIsa.Avx512CoreVnni, [CpuFeature.Avx512Vnni]),
        (CpuIsa.Avx512CoreBf16, [CpuFeature.Avx512Bf16]),
        (CpuIsa.Avx512CoreFp16, [CpuFeature.Avx512Fp16]),
        (CpuIsa.Avx512CoreAmx, [CpuFeature.AmxTile, CpuFeature.AmxInt8, CpuFeature.AmxBf16]),
        (CpuIsa.Avx512CoreAmxFp16, [CpuFeature.AmxFp16]),
    ];

    private static readonly Lazy<RawProbe> Raw = new(RawProbe.Run);
    private static readonly Lazy<CpuFeatures> FromEnvironment = new(() => Detect(Environment.GetEnvironmentVariable(MaxIsaVariable)));

    private readonly CpuFeatureStatus[] _features;

    private CpuFeatures(RawProbe raw, CpuIsa? cap, string? capText)
    {
        Vendor = raw.Vendor;
        Brand = raw.Brand;
        MaxIsa = cap;
        MaxIsaSetting = capText;
        AmxNote = raw.AmxNote;
        KernelXFeatures = raw.KernelXFeatures;
        _features = new CpuFeatureStatus[FeatureTable.Length];
        foreach (var (feature, name, level) in FeatureTable)
        {
            bool cpu = raw.Cpu.Contains(feature), os = raw.Os.Contains(feature);
            _features[(int)feature] = new CpuFeatureStatus(feature, name, cpu, os, cpu && os && (cap is null || level <= cap));
        }
        foreach (var (isa, requires) in IsaRequirements)
        {
            if (!requires.All(IsUsable)) break;
            BestIsa = isa;
        }
    }

    /// <summary>The accepted <c>ALLOY_MAX_CPU_ISA</c> values, lowest first (plus <c>default</c>, no cap).</summary>
    public static IReadOnlyList<string> IsaNames { get; } = IsaTable.Select(e => e.Name).ToArray();

    /// <summary>The probe under the cap in <c>ALLOY_MAX_CPU_ISA</c>, computed once per process.</summary>
    public static CpuFeatures Detect() => FromEnvironment.Value;

    /// <summary>The probe under the cap <paramref name="maxIsa"/> (null, empty or <c>default</c>: no cap). The CPUID
    /// probe itself runs once per process.</summary>
    public static CpuFeatures Detect(string? maxIsa)
    {
        var text = string.IsNullOrWhiteSpace(maxIsa) ? null : maxIsa.Trim();
        CpuIsa? cap = text is null || text.Equals("default", StringComparison.OrdinalIgnoreCase) ? null : ParseIsa(text);
        return new CpuFeatures(Raw.Value, cap, text);
    }

    /// <summary>The ISA level named <paramref name="name"/> (case-insensitive; oneDNN's names).</summary>
    public static CpuIsa ParseIsa(string name)
    {
        foreach (var (isa, n) in IsaTable)
            if (n.Equals(name.Trim(), StringComparison.OrdinalIgnoreCase)) return isa;
        throw new ArgumentException($"{MaxIsaVariable}={name} is not a known ISA; accepted values: {string.Join(", ", IsaNames)}, or default (no cap)");
    }

    /// <summary>The oneDNN name of an ISA level.</summary>
    public static string IsaName(CpuIsa isa) => IsaTable.First(e => e.Isa == isa).Name;

    /// <summary>CPUID vendor string (GenuineIntel, AuthenticAMD), or "unknown" off x86.</summary>
    public string Vendor { get; }
    /// <summary>CPUID brand string, or "" when the CPU has none.</summary>
    public string Brand { get; }
    /// <summary>The cap, or null when nothing is capped.</summary>
    public CpuIsa? MaxIsa { get; }
    /// <summary>The cap as given (null when none was given).</summary>
    public string? MaxIsaSetting { get; }
    /// <summary>The highest ISA level whose features are all usable, or null (below AVX2, or not x86).</summary>
    public CpuIsa? BestIsa { get; }
    /// <summary>Why AMX is not OS-enabled although the CPU has it (null otherwise).</summary>
    public string? AmxNote { get; }
    /// <summary>The XSAVE features the Linux kernel supports for user space (<c>arch_prctl(ARCH_GET_XCOMP_SUPP)</c>:
    /// the user bits of XCR0, e.g. 0x7 x87/SSE/AVX, 0xe0 AVX-512 opmask/ZMM, 0x60000 AMX tiles); null off Linux x86-64
    /// or when the kernel does not answer (before Linux 5.16).</summary>
    public ulong? KernelXFeatures { get; }

    public IReadOnlyList<CpuFeatureStatus> Features => _features;

    public CpuFeatureStatus this[CpuFeature feature] => _features[(int)feature];

    public bool IsUsable(CpuFeature feature) => _features[(int)feature].Usable;

    /// <summary>The summary <c>alloy inspect --cpu</c> prints.</summary>
    public string ToText()
    {
        var sb = new StringBuilder();
        sb.Append("cpu: ").Append(Brand.Length > 0 ? Brand : "(no brand string)").Append(" (").Append(Vendor).Append(")\n");
        sb.Append("max isa: ").Append(MaxIsa is { } cap ? IsaName(cap) : "no cap")
          .Append(MaxIsaSetting is null ? $" ({MaxIsaVariable} not set)" : $" ({MaxIsaVariable}={MaxIsaSetting})").Append('\n');
        sb.Append("best usable isa: ").Append(BestIsa is { } best ? IsaName(best) : "none").Append('\n');
        sb.Append($"{"feature",-14} {"cpu",-4} {"os",-4} usable\n");
        foreach (var f in _features)
            sb.Append($"{f.Name,-14} {YesNo(f.Cpu),-4} {YesNo(f.Os),-4} {YesNo(f.Usable)}\n");
        if (KernelXFeatures is { } x) sb.Append($"kernel xsave features (xcr0): 0x{x:x}\n");
        if (AmxNote is not null) sb.Append("amx: ").Append(AmxNote).Append('\n');
        return sb.ToString();

        static string YesNo(bool b) => b ? "yes" : "no";
    }

    /// <summary>The same facts as JSON: vendor, brand, max_isa, best_isa, features {name: {cpu, os, usable}}.</summary>
    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("vendor", Vendor);
            w.WriteString("brand", Brand);
            if (MaxIsa is { } cap) w.WriteString("max_isa", IsaName(cap)); else w.WriteNull("max_isa");
            if (BestIsa is { } best) w.WriteString("best_isa", IsaName(best)); else w.WriteNull("best_isa");
            w.WriteStartObject("features");
            foreach (var f in _features)
            {
                w.WriteStartObject(f.Name);
                w.WriteBoolean("cpu", f.Cpu);
                w.WriteBoolean("os", f.Os);
                w.WriteBoolean("usable", f.Usable);
                w.WriteEndObject();
            }
            w.WriteEndObject();
            if (KernelXFeatures is { } x) w.WriteString("kernel_xsave_features", $"0x{x:x}");
            if (AmxNote is not null) w.WriteString("amx_note", AmxNote);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    public override string ToString() => ToText();

    /// <summary>What CPUID and the OS report, before any cap.</summary>
    private sealed class RawProbe
    {
        public string Vendor { get; private init; } = "unknown";
        public string Brand { get; private init; } = "";
        public HashSet<CpuFeature> Cpu { get; } = [];
        public HashSet<CpuFeature> Os { get; } = [];
        public string? AmxNote { get; private set; }
        public ulong? KernelXFeatures { get; private set; }

        public static RawProbe Run()
        {
            if (!X86Base.IsSupported) return new RawProbe { Vendor = "unknown (not x86)" };
            var (maxLeaf, vb, vc, vd) = X86Base.CpuId(0, 0);
            var p = new RawProbe { Vendor = Ascii(vb, vd, vc), Brand = BrandString() };
            var (_, _, leaf1Ecx, _) = X86Base.CpuId(1, 0);
            Set(p.Cpu, CpuFeature.Fma, leaf1Ecx, 12);
            if (maxLeaf >= 7)
            {
                var (maxSubLeaf, ebx, ecx, edx) = X86Base.CpuId(7, 0);
                Set(p.Cpu, CpuFeature.Avx2, ebx, 5);
                Set(p.Cpu, CpuFeature.Avx512F, ebx, 16);
                Set(p.Cpu, CpuFeature.Avx512DQ, ebx, 17);
                Set(p.Cpu, CpuFeature.Avx512CD, ebx, 28);
                Set(p.Cpu, CpuFeature.Avx512BW, ebx, 30);
                Set(p.Cpu, CpuFeature.Avx512VL, ebx, 31);
                Set(p.Cpu, CpuFeature.Avx512Vbmi, ecx, 1);
                Set(p.Cpu, CpuFeature.Avx512Vnni, ecx, 11);
                Set(p.Cpu, CpuFeature.AmxBf16, edx, 22);
                Set(p.Cpu, CpuFeature.Avx512Fp16, edx, 23);
                Set(p.Cpu, CpuFeature.AmxTile, edx, 24);
                Set(p.Cpu, CpuFeature.AmxInt8, edx, 25);
                if (maxSubLeaf >= 1)
                {
                    var (eax1, _, _, edx1) = X86Base.CpuId(7, 1);
                    Set(p.Cpu, CpuFeature.AvxVnni, eax1, 4);
                    Set(p.Cpu, CpuFeature.Avx512Bf16, eax1, 5);
                    Set(p.Cpu, CpuFeature.AmxFp16, eax1, 21);
                    // AVX10: leaf 7.1 EDX bit 19, version in leaf 0x24 EBX[7:0].
                    if ((edx1 >> 19 & 1) != 0 && maxLeaf >= 0x24 && (X86Base.CpuId(0x24, 0).Ebx & 0xFF) >= 1)
                        p.Cpu.Add(CpuFeature.Avx10_1);
                }
            }

            // OS support: the .NET runtime enables an ISA only when XCR0 has its register state.
            bool ymm = Avx.IsSupported, zmm = Avx512F.IsSupported;
            foreach (var f in new[] { CpuFeature.Avx2, CpuFeature.Fma, CpuFeature.AvxVnni })
                if (ymm) p.Os.Add(f);
            foreach (var f in new[] { CpuFeature.Avx512F, CpuFeature.Avx512BW, CpuFeature.Avx512VL, CpuFeature.Avx512DQ, CpuFeature.Avx512CD,
                         CpuFeature.Avx512Vbmi, CpuFeature.Avx512Vnni, CpuFeature.Avx512Bf16, CpuFeature.Avx512Fp16, CpuFeature.Avx10_1 })
                if (zmm) p.Os.Add(f);
            if (OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64)
                p.KernelXFeatures = LinuxXState.SupportedFeatures(out _);
            if (p.Cpu.Contains(CpuFeature.AmxTile)) p.EnableAmx();
            return p;
        }

        private void EnableAmx()
        {
            if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
            {
                AmxNote = "AMX state is only enabled on Linux x86-64 (arch_prctl); not verifiable here";
                return;
            }
            var supported = LinuxXState.SupportedFeatures(out var error);
            if (supported is not { } mask)
            {
                AmxNote = $"arch_prctl(ARCH_GET_XCOMP_SUPP) failed: {error}";
                return;
            }
            if ((mask & LinuxXState.TileMask) != LinuxXState.TileMask)
            {
                AmxNote = $"the kernel does not support the AMX tile state (XCR0 bits 17-18; supported features 0x{mask:x})";
                return;
            }
            if (!LinuxXState.RequestTileData(out error))
            {
                AmxNote = $"arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) was refused: {error}";
                return;
            }
            foreach (var f in new[] { CpuFeature.AmxTile, CpuFeature.AmxInt8, CpuFeature.AmxBf16, CpuFeature.AmxFp16 })
                Os.Add(f);
        }

        private static void Set(HashSet<CpuFeature> set, CpuFeature f, int register, int bit)
        {
            if ((register >> bit & 1) != 0) set.Add(f);
        }

        private static string Ascii(params int[] registers)
        {
            var bytes = new byte[registers.Length * 4];
            for (int i = 0; i < registers.Length; i++) BitConverter.TryWriteBytes(bytes.AsSpan(i * 4), registers[i]);
            return Encoding.ASCII.GetString(bytes).TrimEnd('\0').Trim();
        }

        private static string BrandString()
        {
            if ((uint)X86Base.CpuId(unchecked((int)0x8000_0000), 0).Eax < 0x8000_0004) return "";
            var regs = new List<int>();
            for (uint leaf = 0x8000_0002; leaf <= 0x8000_0004; leaf++)
            {
                var (a, b, c, d) = X86Base.CpuId(unchecked((int)leaf), 0);
                regs.AddRange([a, b, c, d]);
            }
            return Ascii([.. regs]);
        }
    }
}

/// <summary>Linux's per-process XSAVE feature control (<c>arch_prctl</c>, x86-64 only).</summary>
internal static partial class LinuxXState
{
    private const long SysArchPrctl = 158; // x86-64 syscall number
    private const long ArchGetXcompSupp = 0x1021;
    private const long ArchReqXcompPerm = 0x1023;
    private const long XFeatureXTileData = 18;

    /// <summary>XCR0 bits 17 (tile config) and 18 (tile data).</summary>
    public const ulong TileMask = (1UL << 17) | (1UL << 18);

    // glibc's syscall() is variadic, but it only moves integer registers, so a fixed signature is safe on x86-64.
    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, long code, nint argument);

    /// <summary>The XSAVE features the kernel supports for user space, or null (with the reason) on failure.</summary>
    public static unsafe ulong? SupportedFeatures(out string? error)
    {
        ulong mask = 0;
        try
        {
            if (Syscall(SysArchPrctl, ArchGetXcompSupp, (nint)(&mask)) != 0)
            {
                error = $"errno {Marshal.GetLastPInvokeError()}";
                return null;
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            error = e.Message;
            return null;
        }
        error = null;
        return mask;
    }

    /// <summary>Asks for permission to use the AMX tile data state in this process.</summary>
    public static bool RequestTileData(out string? error)
    {
        try
        {
            if (Syscall(SysArchPrctl, ArchReqXcompPerm, (nint)XFeatureXTileData) != 0)
            {
                error = $"errno {Marshal.GetLastPInvokeError()}";
                return false;
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            error = e.Message;
            return false;
        }
        error = null;
        return true;
    }
}
