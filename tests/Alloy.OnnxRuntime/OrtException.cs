namespace Alloy.OnnxRuntime;

/// <summary>An ONNX Runtime call failed; <see cref="OrtMessage"/> is ONNX Runtime's own message.</summary>
public sealed class OrtException(string function, int code, string ortMessage)
    : Exception($"ONNX Runtime {function} failed ({CodeName(code)}): {ortMessage}")
{
    /// <summary>The C API function that failed.</summary>
    public string Function { get; } = function;
    /// <summary>The <c>OrtErrorCode</c>.</summary>
    public int Code { get; } = code;
    public string OrtMessage { get; } = ortMessage;

    public static string CodeName(int code) => code switch
    {
        0 => "ORT_OK", 1 => "ORT_FAIL", 2 => "ORT_INVALID_ARGUMENT", 3 => "ORT_NO_SUCHFILE", 4 => "ORT_NO_MODEL",
        5 => "ORT_ENGINE_ERROR", 6 => "ORT_RUNTIME_EXCEPTION", 7 => "ORT_INVALID_PROTOBUF", 8 => "ORT_MODEL_LOADED",
        9 => "ORT_NOT_IMPLEMENTED", 10 => "ORT_INVALID_GRAPH", 11 => "ORT_EP_FAIL", 12 => "ORT_MODEL_LOAD_CANCELED",
        13 => "ORT_MODEL_REQUIRES_COMPILATION", 14 => "ORT_NOT_FOUND", 15 => "ORT_DEVICE_RESET",
        _ => $"error code {code}",
    };
}
