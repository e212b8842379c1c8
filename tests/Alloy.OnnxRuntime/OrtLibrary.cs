using System.Runtime.InteropServices;
using Alloy.Testing;

namespace Alloy.OnnxRuntime;

/// <summary>
/// Finds and loads <c>libonnxruntime.so</c>, fetches the C API function table and wraps the entries the binding uses.
/// The library comes from <c>ALLOY_ORT_LIB</c>, else from the npm package that <c>scripts/setup-test-deps.sh</c>
/// installs under <c>.deps/onnxruntime</c>.
/// </summary>
internal static unsafe class OrtLibrary
{
    /// <summary>The C API version requested from the library (ONNX Runtime 1.17 and later provide it).</summary>
    public const uint ApiVersion = 17;
    public const string EnvVariable = "ALLOY_ORT_LIB";
    public const string SetupCommand = "scripts/setup-test-deps.sh";
    private const string PackageBin = ".deps/onnxruntime/node_modules/onnxruntime-node/bin";

    private static readonly Lazy<(OrtApi? Api, string Reason)> Loaded = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);

    public static bool TryGet(out OrtApi? api, out string reason)
    {
        (api, reason) = Loaded.Value;
        return api is not null;
    }

    public static OrtApi Api => Loaded.Value.Api ?? throw new InvalidOperationException(Loaded.Value.Reason);

    /// <summary>The library file: <c>ALLOY_ORT_LIB</c>, else the first <c>bin/**/linux/x64/libonnxruntime.so*</c> of the npm package.</summary>
    public static string? Locate(out string reason)
    {
        var fromEnv = Environment.GetEnvironmentVariable(EnvVariable);
        if (!string.IsNullOrEmpty(fromEnv))
        {
            if (File.Exists(fromEnv)) { reason = ""; return Path.GetFullPath(fromEnv); }
            reason = $"{EnvVariable}={fromEnv} does not name a file";
            return null;
        }
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
        {
            reason = $"the bundled ONNX Runtime is located for linux-x64 only (this is {RuntimeInformation.RuntimeIdentifier}); set {EnvVariable} to the library";
            return null;
        }
        string root;
        try
        {
            root = RepoPaths.Root;
        }
        catch (InvalidOperationException e)
        {
            reason = e.Message + $"; set {EnvVariable} to the library";
            return null;
        }
        var bin = Path.Combine(root, PackageBin);
        string? found = null;
        if (Directory.Exists(bin))
        {
            var sep = Path.DirectorySeparatorChar;
            found = Directory.EnumerateFiles(bin, "libonnxruntime.so*", SearchOption.AllDirectories)
                .Where(f => (Path.GetDirectoryName(f) ?? "").EndsWith($"{sep}linux{sep}x64", StringComparison.Ordinal))
                .Order(StringComparer.Ordinal)
                .FirstOrDefault();
        }
        reason = found is null ? $"no {PackageBin}/**/linux/x64/libonnxruntime.so* under {root} and {EnvVariable} is not set" : "";
        return found;
    }

    private static (OrtApi?, string) Load()
    {
        var path = Locate(out var reason);
        if (path is null) return (null, reason);
        nint handle;
        try
        {
            handle = NativeLibrary.Load(path);
        }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
        {
            return (null, $"cannot load {path}: {e.Message}");
        }
        if (!NativeLibrary.TryGetExport(handle, "OrtGetApiBase", out var getBase))
            return (null, $"{path} exports no OrtGetApiBase; it is not ONNX Runtime");
        // OrtApiBase: { const OrtApi* (*GetApi)(uint32_t version); const char* (*GetVersionString)(void); }
        var apiBase = ((delegate* unmanaged<nint*>)getBase)();
        if (apiBase == null) return (null, $"{path}: OrtGetApiBase returned null");
        var version = Marshal.PtrToStringUTF8(((delegate* unmanaged<nint>)apiBase[1])()) ?? "?";
        var table = ((delegate* unmanaged<uint, nint*>)apiBase[0])(ApiVersion);
        if (table == null) return (null, $"{path} (ONNX Runtime {version}) does not provide C API version {ApiVersion}");
        var api = new OrtApi(table, path, version);
        var check = api.SelfCheck();
        return check is null ? (api, "") : (null, $"{path} (ONNX Runtime {version}): function table check failed: {check}");
    }

    public static string SetupHint =>
        $"Run {SetupCommand} (it installs onnxruntime-node into .deps/onnxruntime), or set {EnvVariable} to libonnxruntime.so.";
}

/// <summary>The C API table with typed calls; a failing call throws <see cref="OrtException"/> with ONNX Runtime's message.</summary>
internal sealed unsafe class OrtApi(nint* table, string path, string version)
{
    public string LibraryPath { get; } = path;
    public string Version { get; } = version;

    private readonly object _envLock = new();
    private nint _env;
    private int _envUsers;

    private nint Fn(int slot) => table[slot];

    /// <summary>Null when the entries at the ends of the range used behave as expected; otherwise what went wrong.</summary>
    public string? SelfCheck()
    {
        const string probe = "alloy function-table probe";
        nint status;
        var msg = Marshal.StringToCoTaskMemUTF8(probe);
        try
        {
            status = ((delegate* unmanaged<int, nint, nint>)Fn(OrtApiSlots.CreateStatus))(2, msg);
        }
        finally
        {
            Marshal.FreeCoTaskMem(msg);
        }
        if (status == 0) return "CreateStatus returned null";
        int code = ((delegate* unmanaged<nint, int>)Fn(OrtApiSlots.GetErrorCode))(status);
        var text = Marshal.PtrToStringUTF8(((delegate* unmanaged<nint, nint>)Fn(OrtApiSlots.GetErrorMessage))(status));
        ((delegate* unmanaged<nint, void>)Fn(OrtApiSlots.ReleaseStatus))(status);
        if (code != 2 || text != probe) return $"a status made with code 2 and \"{probe}\" read back as code {code} and \"{text}\"";
        var build = Marshal.PtrToStringUTF8(((delegate* unmanaged<nint>)Fn(OrtApiSlots.GetBuildInfoString))());
        if (build is null || !build.StartsWith("ORT Build Info", StringComparison.Ordinal))
            return $"GetBuildInfoString returned \"{build}\"";
        return null;
    }

    private void Check(nint status, string function)
    {
        if (status == 0) return;
        int code = ((delegate* unmanaged<nint, int>)Fn(OrtApiSlots.GetErrorCode))(status);
        var text = Marshal.PtrToStringUTF8(((delegate* unmanaged<nint, nint>)Fn(OrtApiSlots.GetErrorMessage))(status)) ?? "";
        ((delegate* unmanaged<nint, void>)Fn(OrtApiSlots.ReleaseStatus))(status);
        throw new OrtException(function, code, text);
    }

    private void Release(int slot, nint handle)
    {
        if (handle != 0) ((delegate* unmanaged<nint, void>)Fn(slot))(handle);
    }

    // Environment: one per process, shared by the sessions and released with the last of them.
    public nint AcquireEnv()
    {
        lock (_envLock)
        {
            if (_envUsers == 0)
            {
                nint env;
                var logId = Marshal.StringToCoTaskMemUTF8("alloy");
                try
                {
                    Check(((delegate* unmanaged<int, nint, nint*, nint>)Fn(OrtApiSlots.CreateEnv))(OrtLibraryConstants.LoggingLevelError, logId, &env), "CreateEnv");
                }
                finally
                {
                    Marshal.FreeCoTaskMem(logId);
                }
                _env = env;
            }
            _envUsers++;
            return _env;
        }
    }

    public void ReleaseEnvUser()
    {
        lock (_envLock)
        {
            if (_envUsers == 0) return;
            if (--_envUsers == 0)
            {
                Release(OrtApiSlots.ReleaseEnv, _env);
                _env = 0;
            }
        }
    }

    public nint CreateSessionOptions()
    {
        nint options;
        Check(((delegate* unmanaged<nint*, nint>)Fn(OrtApiSlots.CreateSessionOptions))(&options), "CreateSessionOptions");
        return options;
    }

    public void SetIntraOpNumThreads(nint options, int threads) =>
        Check(((delegate* unmanaged<nint, int, nint>)Fn(OrtApiSlots.SetIntraOpNumThreads))(options, threads), "SetIntraOpNumThreads");

    public void SetInterOpNumThreads(nint options, int threads) =>
        Check(((delegate* unmanaged<nint, int, nint>)Fn(OrtApiSlots.SetInterOpNumThreads))(options, threads), "SetInterOpNumThreads");

    public void SetGraphOptimizationLevel(nint options, int level) =>
        Check(((delegate* unmanaged<nint, int, nint>)Fn(OrtApiSlots.SetSessionGraphOptimizationLevel))(options, level), "SetSessionGraphOptimizationLevel");

    public void ReleaseSessionOptions(nint options) => Release(OrtApiSlots.ReleaseSessionOptions, options);

    public nint CreateSession(nint env, string modelPath, nint options)
    {
        // ORTCHAR_T is char (UTF-8) except on Windows, where it is wchar_t.
        var path = OperatingSystem.IsWindows() ? Marshal.StringToHGlobalUni(modelPath) : Marshal.StringToCoTaskMemUTF8(modelPath);
        try
        {
            nint session;
            Check(((delegate* unmanaged<nint, nint, nint, nint*, nint>)Fn(OrtApiSlots.CreateSession))(env, path, options, &session), "CreateSession");
            return session;
        }
        finally
        {
            if (OperatingSystem.IsWindows()) Marshal.FreeHGlobal(path);
            else Marshal.FreeCoTaskMem(path);
        }
    }

    public void ReleaseSession(nint session) => Release(OrtApiSlots.ReleaseSession, session);

    public int SessionInputCount(nint session)
    {
        nuint n;
        Check(((delegate* unmanaged<nint, nuint*, nint>)Fn(OrtApiSlots.SessionGetInputCount))(session, &n), "SessionGetInputCount");
        return checked((int)n);
    }

    public int SessionOutputCount(nint session)
    {
        nuint n;
        Check(((delegate* unmanaged<nint, nuint*, nint>)Fn(OrtApiSlots.SessionGetOutputCount))(session, &n), "SessionGetOutputCount");
        return checked((int)n);
    }

    public string SessionName(nint session, int index, bool output)
    {
        nint allocator;
        Check(((delegate* unmanaged<nint*, nint>)Fn(OrtApiSlots.GetAllocatorWithDefaultOptions))(&allocator), "GetAllocatorWithDefaultOptions");
        nint name;
        var (slot, function) = output ? (OrtApiSlots.SessionGetOutputName, "SessionGetOutputName") : (OrtApiSlots.SessionGetInputName, "SessionGetInputName");
        Check(((delegate* unmanaged<nint, nuint, nint, nint*, nint>)Fn(slot))(session, (nuint)index, allocator, &name), function);
        try
        {
            return Marshal.PtrToStringUTF8(name) ?? "";
        }
        finally
        {
            Check(((delegate* unmanaged<nint, nint, nint>)Fn(OrtApiSlots.AllocatorFree))(allocator, name), "AllocatorFree");
        }
    }

    /// <summary>The declared element type (ONNX numbering) and dims (-1 for a free dim) of a session input or output; type 0 when not a tensor.</summary>
    public (int ElementType, long[]? Dims) SessionTypeInfo(nint session, int index, bool output)
    {
        nint typeInfo;
        var (slot, function) = output ? (OrtApiSlots.SessionGetOutputTypeInfo, "SessionGetOutputTypeInfo") : (OrtApiSlots.SessionGetInputTypeInfo, "SessionGetInputTypeInfo");
        Check(((delegate* unmanaged<nint, nuint, nint*, nint>)Fn(slot))(session, (nuint)index, &typeInfo), function);
        try
        {
            int onnxType;
            Check(((delegate* unmanaged<nint, int*, nint>)Fn(OrtApiSlots.GetOnnxTypeFromTypeInfo))(typeInfo, &onnxType), "GetOnnxTypeFromTypeInfo");
            if (onnxType != OrtLibraryConstants.OnnxTypeTensor) return (0, null);
            nint tensorInfo; // owned by typeInfo
            Check(((delegate* unmanaged<nint, nint*, nint>)Fn(OrtApiSlots.CastTypeInfoToTensorInfo))(typeInfo, &tensorInfo), "CastTypeInfoToTensorInfo");
            if (tensorInfo == 0) return (0, null);
            return (ElementTypeOf(tensorInfo), DimsOf(tensorInfo));
        }
        finally
        {
            Release(OrtApiSlots.ReleaseTypeInfo, typeInfo);
        }
    }

    private int ElementTypeOf(nint tensorInfo)
    {
        int type;
        Check(((delegate* unmanaged<nint, int*, nint>)Fn(OrtApiSlots.GetTensorElementType))(tensorInfo, &type), "GetTensorElementType");
        return type;
    }

    private long[] DimsOf(nint tensorInfo)
    {
        nuint rank;
        Check(((delegate* unmanaged<nint, nuint*, nint>)Fn(OrtApiSlots.GetDimensionsCount))(tensorInfo, &rank), "GetDimensionsCount");
        var dims = new long[checked((int)rank)];
        fixed (long* p = dims)
            Check(((delegate* unmanaged<nint, long*, nuint, nint>)Fn(OrtApiSlots.GetDimensions))(tensorInfo, p, rank), "GetDimensions");
        return dims;
    }

    public nint CreateCpuMemoryInfo()
    {
        nint info;
        Check(((delegate* unmanaged<int, int, nint*, nint>)Fn(OrtApiSlots.CreateCpuMemoryInfo))(
            OrtLibraryConstants.ArenaAllocator, OrtLibraryConstants.MemTypeDefault, &info), "CreateCpuMemoryInfo");
        return info;
    }

    public void ReleaseMemoryInfo(nint info) => Release(OrtApiSlots.ReleaseMemoryInfo, info);

    /// <summary>A tensor value over caller-owned memory, which must outlive the value.</summary>
    public nint CreateTensorWithData(nint memoryInfo, void* data, long byteLength, long[] shape, int elementType)
    {
        nint value;
        fixed (long* s = shape)
            Check(((delegate* unmanaged<nint, void*, nuint, long*, nuint, int, nint*, nint>)Fn(OrtApiSlots.CreateTensorWithDataAsOrtValue))(
                memoryInfo, data, (nuint)byteLength, s, (nuint)shape.Length, elementType, &value), "CreateTensorWithDataAsOrtValue");
        return value;
    }

    public void ReleaseValue(nint value) => Release(OrtApiSlots.ReleaseValue, value);

    public void Run(nint session, nint* inputNames, nint* inputs, int inputCount, nint* outputNames, int outputCount, nint* outputs) =>
        Check(((delegate* unmanaged<nint, nint, nint*, nint*, nuint, nint*, nuint, nint*, nint>)Fn(OrtApiSlots.Run))(
            session, 0, inputNames, inputs, (nuint)inputCount, outputNames, (nuint)outputCount, outputs), "Run");

    public bool IsTensor(nint value)
    {
        int yes;
        Check(((delegate* unmanaged<nint, int*, nint>)Fn(OrtApiSlots.IsTensor))(value, &yes), "IsTensor");
        return yes != 0;
    }

    /// <summary>Element type (ONNX numbering), shape and data pointer of a tensor value.</summary>
    public (int ElementType, long[] Shape, nint Data) TensorOf(nint value)
    {
        nint info;
        Check(((delegate* unmanaged<nint, nint*, nint>)Fn(OrtApiSlots.GetTensorTypeAndShape))(value, &info), "GetTensorTypeAndShape");
        int type;
        long[] shape;
        try
        {
            type = ElementTypeOf(info);
            shape = DimsOf(info);
        }
        finally
        {
            Release(OrtApiSlots.ReleaseTensorTypeAndShapeInfo, info);
        }
        nint data;
        Check(((delegate* unmanaged<nint, nint*, nint>)Fn(OrtApiSlots.GetTensorMutableData))(value, &data), "GetTensorMutableData");
        return (type, shape, data);
    }
}

internal static class OrtLibraryConstants
{
    public const int LoggingLevelError = 3;   // ORT_LOGGING_LEVEL_ERROR
    public const int OnnxTypeTensor = 1;      // ONNX_TYPE_TENSOR
    public const int ArenaAllocator = 1;      // OrtArenaAllocator
    public const int MemTypeDefault = 0;      // OrtMemTypeDefault
}
