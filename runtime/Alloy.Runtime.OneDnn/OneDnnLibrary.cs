using System.Runtime.InteropServices;
using Alloy.Runtime.Cpu;
using Alloy.Runtime.OneDnn.Native;

namespace Alloy.Runtime.OneDnn;

/// <summary>
/// oneDNN (<c>libdnnl.so.2</c>, the 2.x ABI) as the runtime finds it: loaded once per process with
/// <see cref="NativeLibrary.TryLoad(string, out nint)"/>; when the library or one of its entry points is missing,
/// <see cref="IsAvailable"/> is false with the reason and nothing else changes. One CPU engine and one in-order
/// stream serve every kernel. The ISA oneDNN's JIT may use is oneDNN's own choice, capped by
/// <c>ONEDNN_MAX_CPU_ISA</c> (read by oneDNN) or, when that is unset, by Alloy's <c>ALLOY_MAX_CPU_ISA</c> (passed to
/// <c>dnnl_set_max_cpu_isa</c> before the first primitive).
/// </summary>
public static unsafe class OneDnnLibrary
{
    /// <summary>The file name the loader looks for.</summary>
    public const string FileName = "libdnnl.so.2";

    /// <summary>oneDNN's own ISA cap, honoured by the library.</summary>
    public const string MaxIsaVariable = "ONEDNN_MAX_CPU_ISA";

    private static readonly Lazy<State> Loaded = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Whether oneDNN can be used in this process.</summary>
    public static bool IsAvailable => Loaded.Value.Api is not null;

    /// <summary>Whether oneDNN can be used; <paramref name="reason"/> says why not.</summary>
    public static bool TryLoad(out string reason)
    {
        reason = Loaded.Value.Reason;
        return Loaded.Value.Api is not null;
    }

    /// <summary>Why oneDNN is not available ("" when it is).</summary>
    public static string UnavailableReason => Loaded.Value.Reason;

    /// <summary>The library version, e.g. "2.6.3" (empty when unavailable).</summary>
    public static string Version => Loaded.Value.Version;

    /// <summary>The ISA cap passed to oneDNN from <c>ALLOY_MAX_CPU_ISA</c>, or a note on where the cap comes from.</summary>
    public static string IsaCap => Loaded.Value.IsaCap;

    /// <summary>How oneDNN's idle OpenMP threads wait: <c>OMP_WAIT_POLICY</c> or <c>GOMP_SPINCOUNT</c> as given, else the loader's bounded spin.</summary>
    public static string WaitPolicy => Loaded.Value.WaitPolicy;

    internal static DnnlApi Api => Loaded.Value.Api ?? throw new InvalidOperationException($"oneDNN is not available: {Loaded.Value.Reason}");

    internal static nint Engine => Loaded.Value.Engine;

    internal static nint Stream => Loaded.Value.Stream;

    /// <summary>Throws a <see cref="OneDnnException"/> naming <paramref name="call"/> when <paramref name="status"/> is not success.</summary>
    internal static void Check(int status, string call)
    {
        if (status != Dnnl.Success) throw new OneDnnException(call, status);
    }

    private sealed record State(DnnlApi? Api, string Reason, string Version, string IsaCap, nint Engine, nint Stream)
    {
        public string WaitPolicy { get; init; } = "";
    }

    private static State Load()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsFreeBSD())
            return new State(null, $"{FileName} is looked for on Linux only", "", "", 0, 0);
        var waitPolicy = OpenMp.ChooseWaitPolicy();
        if (!NativeLibrary.TryLoad(FileName, out var library))
            return new State(null, $"{FileName} was not found (Debian: apt-get install libdnnl2)", "", "", 0, 0);
        var api = DnnlApi.Resolve(library, out var missing);
        if (api is null) return new State(null, $"{FileName} has no entry point '{missing}' (oneDNN 2.x is required)", "", "", 0, 0);
        var v = api.Version();
        var version = v == null ? "" : $"{v->Major}.{v->Minor}.{v->Patch}";
        if (v == null || v->Major != 2)
            return new State(null, $"{FileName} is oneDNN {version}; the binding targets the 2.x C API", version, "", 0, 0);
        // OpenMP entry points: from the OpenMP runtime oneDNN links (libgomp), loaded with it.
        bool omp = false;
        foreach (var name in new[] { "libgomp.so.1", "libiomp5.so", "libomp.so.5", "libomp.so" })
            if (NativeLibrary.TryLoad(name, out var gomp) && OpenMp.Bind(gomp)) { omp = true; break; }
        if (!omp) return new State(null, $"{FileName} loaded, but no OpenMP runtime (libgomp.so.1) with omp_set_num_threads was found", version, "", 0, 0);
        var isaCap = ApplyIsaCap(api);
        nint engine, stream;
        int status = api.EngineCreate(&engine, Dnnl.EngineCpu, 0);
        if (status != Dnnl.Success) return new State(null, $"dnnl_engine_create failed (status {status})", version, isaCap, 0, 0);
        status = api.StreamCreate(&stream, engine, Dnnl.StreamDefaultFlags);
        if (status != Dnnl.Success) return new State(null, $"dnnl_stream_create failed (status {status})", version, isaCap, 0, 0);
        return new State(api, "", version, isaCap, engine, stream) { WaitPolicy = waitPolicy };
    }

    /// <summary>oneDNN's <c>dnnl_cpu_isa_t</c> for Alloy's ISA levels (oneDNN 2.6 has no AVX-512 FP16 level: BF16 is the next below).</summary>
    internal static int DnnlIsa(CpuIsa isa) => isa switch
    {
        CpuIsa.Avx2 => 0x7,
        CpuIsa.Avx512Core => 0x27,
        CpuIsa.Avx512CoreVnni => 0x67,
        CpuIsa.Avx512CoreBf16 or CpuIsa.Avx512CoreFp16 => 0xe7,
        _ => 0x3e7, // avx512_core_amx
    };

    private static string ApplyIsaCap(DnnlApi api)
    {
        var own = Environment.GetEnvironmentVariable(MaxIsaVariable);
        if (!string.IsNullOrEmpty(own)) return $"{MaxIsaVariable}={own} (applied by oneDNN)";
        var cap = CpuFeatures.Detect().MaxIsa;
        if (cap is not { } isa) return "none";
        int status = api.SetMaxCpuIsa(DnnlIsa(isa));
        return status == Dnnl.Success
            ? $"{CpuFeatures.MaxIsaVariable}={CpuFeatures.IsaName(isa)}"
            : $"{CpuFeatures.MaxIsaVariable}={CpuFeatures.IsaName(isa)} not applied (dnnl_set_max_cpu_isa status {status})";
    }
}
