using System.Runtime.InteropServices;
using Alloy.Runtime;

namespace Alloy.OnnxRuntime;

/// <summary>Graph optimization levels of an ONNX Runtime session (<c>GraphOptimizationLevel</c>).</summary>
public enum OrtGraphOptimization
{
    /// <summary>The graph as written (the default here: the reference peer runs what the model says).</summary>
    None = 0,
    Basic = 1,
    Extended = 2,
    Layout = 3,
    All = 99,
}

/// <summary>A declared session input or output: name, element type (Undefined when not a tensor) and dims (-1 when free).</summary>
public sealed record OrtValueInfo(string Name, ElementType Type, IReadOnlyList<long>? Dims);

/// <summary>
/// An ONNX Runtime inference session on the CPU, fed with and returning <see cref="Tensor"/>s. Thread-safe for
/// concurrent <see cref="Run"/> calls. Every ONNX Runtime error becomes an <see cref="OrtException"/> with its message.
/// </summary>
public sealed unsafe class OrtSession : IDisposable
{
    private static readonly ElementType[] Supported =
    [
        ElementType.Float, ElementType.Double, ElementType.Float16, ElementType.BFloat16,
        ElementType.Int8, ElementType.Int16, ElementType.Int32, ElementType.Int64,
        ElementType.UInt8, ElementType.UInt16, ElementType.UInt32, ElementType.UInt64, ElementType.Bool,
    ];

    private readonly OrtApi _api;
    private nint _session;
    private nint _memoryInfo;
    private bool _holdsEnv;

    /// <summary>Loads <paramref name="modelPath"/> with <paramref name="threads"/> intra-op threads (0: ONNX Runtime's default).</summary>
    public OrtSession(string modelPath, int threads, OrtGraphOptimization optimization = OrtGraphOptimization.None)
    {
        ArgumentNullException.ThrowIfNull(modelPath);
        ArgumentOutOfRangeException.ThrowIfNegative(threads);
        if (!OrtLibrary.TryGet(out var api, out var reason))
            throw new InvalidOperationException($"ONNX Runtime is not available: {reason}. {OrtLibrary.SetupHint}");
        _api = api!;
        ModelPath = modelPath;
        try
        {
            var env = _api.AcquireEnv();
            _holdsEnv = true;
            var options = _api.CreateSessionOptions();
            try
            {
                _api.SetIntraOpNumThreads(options, threads);
                _api.SetInterOpNumThreads(options, 1);
                _api.SetGraphOptimizationLevel(options, (int)optimization);
                _session = _api.CreateSession(env, Path.GetFullPath(modelPath), options);
            }
            finally
            {
                _api.ReleaseSessionOptions(options);
            }
            _memoryInfo = _api.CreateCpuMemoryInfo();
            InputInfo = Describe(_api.SessionInputCount(_session), output: false);
            OutputInfo = Describe(_api.SessionOutputCount(_session), output: true);
            Inputs = InputInfo.Select(i => i.Name).ToArray();
            Outputs = OutputInfo.Select(i => i.Name).ToArray();
        }
        catch
        {
            Free();
            throw;
        }
    }

    ~OrtSession() => Free();

    /// <summary>True when the library loads and its function table checks out; otherwise the reason, with the setup command.</summary>
    public static bool IsAvailable(out string reason)
    {
        if (OrtLibrary.TryGet(out _, out reason)) return true;
        reason = $"{reason}. {OrtLibrary.SetupHint}";
        return false;
    }

    /// <summary>The library in use (after a successful <see cref="IsAvailable"/>).</summary>
    public static string LibraryPath => OrtLibrary.Api.LibraryPath;
    /// <summary>ONNX Runtime's version string, e.g. "1.30.0".</summary>
    public static string Version => OrtLibrary.Api.Version;
    /// <summary>The C API version the binding requests.</summary>
    public static uint ApiVersion => OrtLibrary.ApiVersion;

    public string ModelPath { get; }
    public IReadOnlyList<string> Inputs { get; } = [];
    public IReadOnlyList<string> Outputs { get; } = [];
    public IReadOnlyList<OrtValueInfo> InputInfo { get; } = [];
    public IReadOnlyList<OrtValueInfo> OutputInfo { get; } = [];

    private OrtValueInfo[] Describe(int count, bool output)
    {
        var infos = new OrtValueInfo[count];
        for (int i = 0; i < count; i++)
        {
            var name = _api.SessionName(_session, i, output);
            var (type, dims) = _api.SessionTypeInfo(_session, i, output);
            infos[i] = new OrtValueInfo(name, (ElementType)type, dims);
        }
        return infos;
    }

    /// <summary>Runs the model; the results, in <see cref="Outputs"/> order, are new tensors the caller owns.</summary>
    public Tensor[] Run(IReadOnlyDictionary<string, Tensor> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ObjectDisposedException.ThrowIf(_session == 0, this);
        var given = inputs.ToArray();
        foreach (var (name, t) in given)
        {
            if (t is null) throw new ArgumentException($"input '{name}' is null", nameof(inputs));
            if (Array.IndexOf(Supported, t.Type) < 0)
                throw new NotSupportedException($"input '{name}' is {t.Type.Name()}; the binding passes {string.Join(", ", Supported.Select(s => s.Name()))}");
        }

        int nIn = given.Length, nOut = Outputs.Count;
        var names = new nint[nIn + nOut];
        var values = new nint[nIn];
        var results = new nint[nOut];
        var tensors = new List<Tensor>(nOut);
        try
        {
            for (int i = 0; i < nIn; i++) names[i] = Marshal.StringToCoTaskMemUTF8(given[i].Key);
            for (int i = 0; i < nOut; i++) names[nIn + i] = Marshal.StringToCoTaskMemUTF8(Outputs[i]);
            for (int i = 0; i < nIn; i++)
            {
                var t = given[i].Value;
                values[i] = _api.CreateTensorWithData(_memoryInfo, t.Pointer, t.ByteLength, t.Shape, (int)t.Type);
            }
            fixed (nint* pNames = names)
            fixed (nint* pValues = values)
            fixed (nint* pResults = results)
                _api.Run(_session, pNames, pValues, nIn, pNames + nIn, nOut, pResults);
            GC.KeepAlive(inputs);
            foreach (var (_, t) in given) GC.KeepAlive(t);

            for (int i = 0; i < nOut; i++)
                tensors.Add(ToTensor(results[i], Outputs[i]));
            return [.. tensors];
        }
        catch
        {
            foreach (var t in tensors) t.Dispose();
            throw;
        }
        finally
        {
            foreach (var r in results) _api.ReleaseValue(r);
            foreach (var v in values) _api.ReleaseValue(v);
            foreach (var n in names) if (n != 0) Marshal.FreeCoTaskMem(n);
        }
    }

    private Tensor ToTensor(nint value, string name)
    {
        if (value == 0) throw new InvalidOperationException($"ONNX Runtime produced no value for output '{name}'");
        if (!_api.IsTensor(value)) throw new NotSupportedException($"output '{name}' is not a tensor (sequences and maps are not bound)");
        var (code, shape, data) = _api.TensorOf(value);
        var type = (ElementType)code;
        if (Array.IndexOf(Supported, type) < 0)
            throw new NotSupportedException($"output '{name}' has element type {type.Name()} ({code}), which the binding does not read");
        var t = Tensor.Create(type, shape);
        if (t.ByteLength > 0) new ReadOnlySpan<byte>((void*)data, checked((int)t.ByteLength)).CopyTo(t.Bytes);
        return t;
    }

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    private void Free()
    {
        if (_session != 0) { _api.ReleaseSession(_session); _session = 0; }
        if (_memoryInfo != 0) { _api.ReleaseMemoryInfo(_memoryInfo); _memoryInfo = 0; }
        if (_holdsEnv) { _holdsEnv = false; _api.ReleaseEnvUser(); }
    }

    public override string ToString() => $"OrtSession({ModelPath}: {string.Join(", ", Inputs)} -> {string.Join(", ", Outputs)})";
}
