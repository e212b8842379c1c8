using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using System.Text.Json;
using Alloy.Runtime.Cpu;
using Xunit;

namespace Alloy.Runtime.Tests.Cpu;

public class CpuFeaturesTests
{
    private static readonly CpuFeatures Uncapped = CpuFeatures.Detect((string?)null);

    /// <summary>Linux's names for the features in /proc/cpuinfo.</summary>
    private static readonly (CpuFeature Feature, string Flag)[] LinuxFlags =
    [
        (CpuFeature.Avx2, "avx2"), (CpuFeature.Fma, "fma"), (CpuFeature.Avx512F, "avx512f"), (CpuFeature.Avx512BW, "avx512bw"),
        (CpuFeature.Avx512VL, "avx512vl"), (CpuFeature.Avx512DQ, "avx512dq"), (CpuFeature.Avx512CD, "avx512cd"),
        (CpuFeature.Avx512Vbmi, "avx512vbmi"), (CpuFeature.Avx512Vnni, "avx512_vnni"), (CpuFeature.AvxVnni, "avx_vnni"),
        (CpuFeature.Avx512Bf16, "avx512_bf16"), (CpuFeature.Avx512Fp16, "avx512_fp16"), (CpuFeature.AmxTile, "amx_tile"),
        (CpuFeature.AmxInt8, "amx_int8"), (CpuFeature.AmxBf16, "amx_bf16"), (CpuFeature.AmxFp16, "amx_fp16"),
    ];

    [Fact]
    public void Agrees_with_the_dotnet_intrinsics()
    {
        if (!X86Base.IsSupported) return; // nothing to compare off x86
        Assert.Equal(Avx2.IsSupported, Uncapped.IsUsable(CpuFeature.Avx2));
        Assert.Equal(Fma.IsSupported, Uncapped.IsUsable(CpuFeature.Fma));
        Assert.Equal(Avx512F.IsSupported, Uncapped.IsUsable(CpuFeature.Avx512F));
        Assert.Equal(Avx512BW.IsSupported, Uncapped.IsUsable(CpuFeature.Avx512BW));
        Assert.Equal(Avx512DQ.IsSupported, Uncapped.IsUsable(CpuFeature.Avx512DQ));
        Assert.Equal(Avx512CD.IsSupported, Uncapped.IsUsable(CpuFeature.Avx512CD));
        Assert.Equal(Avx512F.VL.IsSupported, Uncapped.IsUsable(CpuFeature.Avx512VL));
        Assert.Equal(Avx512Vbmi.IsSupported, Uncapped.IsUsable(CpuFeature.Avx512Vbmi));
        Assert.Equal(AvxVnni.IsSupported, Uncapped.IsUsable(CpuFeature.AvxVnni));
        Assert.Equal(Avx10v1.IsSupported, Uncapped.IsUsable(CpuFeature.Avx10_1));
        // The OS column for the AVX / AVX-512 features is .NET's own view of XCR0.
        Assert.Equal(Avx.IsSupported, Uncapped[CpuFeature.Avx2].Os);
        Assert.Equal(Avx512F.IsSupported, Uncapped[CpuFeature.Avx512Vnni].Os);
    }

    [Fact]
    public void Agrees_with_the_linux_cpu_flags()
    {
        if (!OperatingSystem.IsLinux() || !X86Base.IsSupported || !File.Exists("/proc/cpuinfo")) return;
        var flagsLine = File.ReadLines("/proc/cpuinfo").First(l => l.StartsWith("flags", StringComparison.Ordinal));
        var flags = flagsLine[(flagsLine.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        foreach (var (feature, flag) in LinuxFlags)
            Assert.True(flags.Contains(flag) == Uncapped[feature].Cpu,
                $"{flag}: /proc/cpuinfo says {(flags.Contains(flag) ? "yes" : "no")}, CPUID says {(Uncapped[feature].Cpu ? "yes" : "no")}");
    }

    [Fact]
    public void Kernel_xsave_features_agree_with_dotnet()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return;
        Assert.NotNull(Uncapped.KernelXFeatures); // Linux >= 5.16 answers ARCH_GET_XCOMP_SUPP
        ulong x = Uncapped.KernelXFeatures!.Value;
        Assert.Equal(0x3UL, x & 0x3); // x87, SSE
        // .NET enables an ISA only when XCR0 has its state (a DOTNET_EnableAVX512F=0 switch may disable it further).
        if (Avx.IsSupported) Assert.True((x & 0x4) != 0, "YMM state");
        if (Avx512F.IsSupported) Assert.True((x & 0xE0) == 0xE0, "opmask, ZMM_Hi256, Hi16_ZMM state");
        if (Environment.GetEnvironmentVariable("DOTNET_EnableAVX512F") is null && Uncapped[CpuFeature.Avx512F].Cpu)
            Assert.Equal((x & 0xE0) == 0xE0, Avx512F.IsSupported);
        Assert.Equal(Uncapped[CpuFeature.AmxTile].Os, (x & 0x60000) == 0x60000 && Uncapped[CpuFeature.AmxTile].Cpu);
    }

    [Fact]
    public void Usable_means_cpu_and_os()
    {
        foreach (var f in Uncapped.Features)
        {
            Assert.Equal(f.Cpu && f.Os, f.Usable);
            Assert.Equal(f, Uncapped[f.Feature]);
        }
        Assert.Equal(Enum.GetValues<CpuFeature>().Length, Uncapped.Features.Count);
        Assert.Null(Uncapped.MaxIsa);
        // AMX is usable only with the kernel's permission; on CPUs without AMX the OS column stays no.
        if (!Uncapped[CpuFeature.AmxTile].Cpu) Assert.False(Uncapped[CpuFeature.AmxTile].Os);
    }

    [Fact]
    public void Best_isa_follows_the_onednn_levels()
    {
        bool avx2 = Uncapped.IsUsable(CpuFeature.Avx2) && Uncapped.IsUsable(CpuFeature.Fma);
        bool core = avx2 && new[] { CpuFeature.Avx512F, CpuFeature.Avx512BW, CpuFeature.Avx512VL, CpuFeature.Avx512DQ }.All(Uncapped.IsUsable);
        bool vnni = core && Uncapped.IsUsable(CpuFeature.Avx512Vnni);
        bool bf16 = vnni && Uncapped.IsUsable(CpuFeature.Avx512Bf16);
        bool fp16 = bf16 && Uncapped.IsUsable(CpuFeature.Avx512Fp16);
        bool amx = fp16 && new[] { CpuFeature.AmxTile, CpuFeature.AmxInt8, CpuFeature.AmxBf16 }.All(Uncapped.IsUsable);
        bool amxFp16 = amx && Uncapped.IsUsable(CpuFeature.AmxFp16);
        CpuIsa? expected = amxFp16 ? CpuIsa.Avx512CoreAmxFp16 : amx ? CpuIsa.Avx512CoreAmx : fp16 ? CpuIsa.Avx512CoreFp16
            : bf16 ? CpuIsa.Avx512CoreBf16 : vnni ? CpuIsa.Avx512CoreVnni : core ? CpuIsa.Avx512Core : avx2 ? CpuIsa.Avx2 : null;
        Assert.Equal(expected, Uncapped.BestIsa);
    }

    [Theory]
    [InlineData("avx2", CpuIsa.Avx2)]
    [InlineData("avx512_core", CpuIsa.Avx512Core)]
    [InlineData("avx512_core_vnni", CpuIsa.Avx512CoreVnni)]
    [InlineData("AVX512_CORE_BF16", CpuIsa.Avx512CoreBf16)]
    [InlineData(" avx512_core_fp16 ", CpuIsa.Avx512CoreFp16)]
    [InlineData("avx512_core_amx", CpuIsa.Avx512CoreAmx)]
    [InlineData("avx512_core_amx_fp16", CpuIsa.Avx512CoreAmxFp16)]
    public void Capping_limits_usable_features(string setting, CpuIsa cap)
    {
        var capped = CpuFeatures.Detect(setting);
        Assert.Equal(cap, capped.MaxIsa);
        Assert.Equal(cap, CpuFeatures.ParseIsa(setting));
        Assert.True(capped.BestIsa is null || capped.BestIsa <= cap);
        Assert.True(capped.BestIsa == (Uncapped.BestIsa is { } b && b > cap ? cap : Uncapped.BestIsa));
        var levels = new Dictionary<CpuFeature, CpuIsa>
        {
            [CpuFeature.Avx2] = CpuIsa.Avx2, [CpuFeature.Fma] = CpuIsa.Avx2,
            [CpuFeature.Avx512F] = CpuIsa.Avx512Core, [CpuFeature.Avx512BW] = CpuIsa.Avx512Core, [CpuFeature.Avx512VL] = CpuIsa.Avx512Core,
            [CpuFeature.Avx512DQ] = CpuIsa.Avx512Core, [CpuFeature.Avx512CD] = CpuIsa.Avx512Core,
            [CpuFeature.Avx512Vnni] = CpuIsa.Avx512CoreVnni, [CpuFeature.AvxVnni] = CpuIsa.Avx512CoreVnni, [CpuFeature.Avx512Vbmi] = CpuIsa.Avx512CoreVnni,
            [CpuFeature.Avx512Bf16] = CpuIsa.Avx512CoreBf16,
            [CpuFeature.Avx512Fp16] = CpuIsa.Avx512CoreFp16, [CpuFeature.Avx10_1] = CpuIsa.Avx512CoreFp16,
            [CpuFeature.AmxTile] = CpuIsa.Avx512CoreAmx, [CpuFeature.AmxInt8] = CpuIsa.Avx512CoreAmx, [CpuFeature.AmxBf16] = CpuIsa.Avx512CoreAmx,
            [CpuFeature.AmxFp16] = CpuIsa.Avx512CoreAmxFp16,
        };
        foreach (var f in capped.Features)
        {
            var u = Uncapped[f.Feature];
            Assert.Equal(u.Cpu, f.Cpu); // the cap never changes what the hardware and OS report
            Assert.Equal(u.Os, f.Os);
            Assert.Equal(u.Usable && levels[f.Feature] <= cap, f.Usable);
        }
    }

    [Fact]
    public void Capping_on_this_machine()
    {
        // Whatever the CPU: under avx2 nothing of AVX-512 is usable; under avx512_core VNNI is not.
        var avx2 = CpuFeatures.Detect("avx2");
        Assert.False(avx2.IsUsable(CpuFeature.Avx512F));
        Assert.False(avx2.IsUsable(CpuFeature.Avx512Vnni));
        Assert.Equal(Uncapped.IsUsable(CpuFeature.Avx2), avx2.IsUsable(CpuFeature.Avx2));
        var core = CpuFeatures.Detect("avx512_core");
        Assert.Equal(Uncapped.IsUsable(CpuFeature.Avx512BW), core.IsUsable(CpuFeature.Avx512BW));
        Assert.False(core.IsUsable(CpuFeature.Avx512Vnni));
        Assert.False(core.IsUsable(CpuFeature.Avx512Bf16));
        var vnni = CpuFeatures.Detect("avx512_core_vnni");
        Assert.Equal(Uncapped.IsUsable(CpuFeature.Avx512Vnni), vnni.IsUsable(CpuFeature.Avx512Vnni));
        Assert.False(vnni.IsUsable(CpuFeature.Avx512Bf16));
        // Each higher level allows a superset of the one below.
        var previous = new HashSet<CpuFeature>();
        foreach (var name in CpuFeatures.IsaNames)
        {
            var usable = CpuFeatures.Detect(name).Features.Where(f => f.Usable).Select(f => f.Feature).ToHashSet();
            Assert.True(previous.IsSubsetOf(usable), $"{name} allows less than the level below");
            previous = usable;
        }
        Assert.True(previous.SetEquals(Uncapped.Features.Where(f => f.Usable).Select(f => f.Feature)));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("  ")]
    [InlineData("default")]
    [InlineData("DEFAULT")]
    public void No_cap(string? setting)
    {
        var p = CpuFeatures.Detect(setting);
        Assert.Null(p.MaxIsa);
        Assert.Equal(Uncapped.Features, p.Features);
    }

    [Theory]
    [InlineData("avx512")]
    [InlineData("sse41")]
    [InlineData("avx512_core_amx_bf16")]
    public void Unknown_cap_names_the_accepted_values(string setting)
    {
        var e = Assert.Throws<ArgumentException>(() => CpuFeatures.Detect(setting));
        Assert.Contains("ALLOY_MAX_CPU_ISA=" + setting, e.Message);
        foreach (var name in new[] { "avx2", "avx512_core", "avx512_core_vnni", "avx512_core_bf16", "avx512_core_fp16", "avx512_core_amx", "avx512_core_amx_fp16" })
            Assert.Contains(name, e.Message);
    }

    [Fact]
    public void Detect_is_cached()
    {
        var setting = Environment.GetEnvironmentVariable(CpuFeatures.MaxIsaVariable);
        if (setting is not null && !CpuFeatures.IsaNames.Contains(setting.Trim().ToLowerInvariant()) && !string.IsNullOrWhiteSpace(setting)
            && !setting.Trim().Equals("default", StringComparison.OrdinalIgnoreCase)) return;
        Assert.Same(CpuFeatures.Detect(), CpuFeatures.Detect());
    }

    [Fact]
    public void Text_summary_lists_every_feature()
    {
        var capped = CpuFeatures.Detect("avx512_core");
        var text = capped.ToText();
        Assert.Contains("max isa: avx512_core (ALLOY_MAX_CPU_ISA=avx512_core)", text);
        Assert.Contains("no cap (ALLOY_MAX_CPU_ISA not set)", Uncapped.ToText());
        var lines = text.Split('\n');
        foreach (var f in capped.Features)
        {
            var line = lines.Single(l => l.StartsWith(f.Name + " ", StringComparison.Ordinal));
            var cols = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal([f.Name, f.Cpu ? "yes" : "no", f.Os ? "yes" : "no", f.Usable ? "yes" : "no"], cols);
        }
        Assert.Contains(capped.Vendor, text);
    }

    [Fact]
    public void Json_summary_matches()
    {
        var capped = CpuFeatures.Detect("avx512_core_vnni");
        using var doc = JsonDocument.Parse(capped.ToJson());
        var root = doc.RootElement;
        Assert.Equal(capped.Vendor, root.GetProperty("vendor").GetString());
        Assert.Equal("avx512_core_vnni", root.GetProperty("max_isa").GetString());
        Assert.Equal(capped.BestIsa is { } b ? CpuFeatures.IsaName(b) : null, root.GetProperty("best_isa").GetString());
        var features = root.GetProperty("features");
        foreach (var f in capped.Features)
        {
            var e = features.GetProperty(f.Name);
            Assert.Equal(f.Cpu, e.GetProperty("cpu").GetBoolean());
            Assert.Equal(f.Os, e.GetProperty("os").GetBoolean());
            Assert.Equal(f.Usable, e.GetProperty("usable").GetBoolean());
        }
        using var uncapped = JsonDocument.Parse(Uncapped.ToJson());
        Assert.Equal(JsonValueKind.Null, uncapped.RootElement.GetProperty("max_isa").ValueKind);
    }
}
