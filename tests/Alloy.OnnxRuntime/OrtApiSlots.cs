namespace Alloy.OnnxRuntime;

/// <summary>
/// Positions in ONNX Runtime's <c>OrtApi</c> function table (every entry is one pointer; the table only ever grows at
/// its end, so a position never changes once released). Only the entries this binding calls are listed.
/// </summary>
/// <remarks>
/// Verified three ways: <c>offsetof(OrtApi, X) / sizeof(void*)</c> computed by a C compiler over
/// <c>onnxruntime_c_api.h</c> of ONNX Runtime 1.29 (ORT_API_VERSION 29); the field order of the OrtApi struct in an
/// independent Rust binding (pykeio/ort, ort-sys) agreeing for every entry; and at run time against the 1.30 library:
/// <see cref="OrtLibrary"/> round-trips a status through CreateStatus / GetErrorCode / GetErrorMessage / ReleaseStatus
/// and reads GetBuildInfoString (slot 254) before anything else runs, and the binding tests run small models
/// through every other entry and compare exact values.
/// </remarks>
internal static class OrtApiSlots
{
    public const int CreateStatus = 0;
    public const int GetErrorCode = 1;
    public const int GetErrorMessage = 2;
    public const int CreateEnv = 3;
    public const int CreateSession = 7;
    public const int Run = 9;
    public const int CreateSessionOptions = 10;
    public const int SetSessionGraphOptimizationLevel = 23;
    public const int SetIntraOpNumThreads = 24;
    public const int SetInterOpNumThreads = 25;
    public const int SessionGetInputCount = 30;
    public const int SessionGetOutputCount = 31;
    public const int SessionGetInputTypeInfo = 33;
    public const int SessionGetOutputTypeInfo = 34;
    public const int SessionGetInputName = 36;
    public const int SessionGetOutputName = 37;
    public const int CreateTensorWithDataAsOrtValue = 49;
    public const int IsTensor = 50;
    public const int GetTensorMutableData = 51;
    public const int CastTypeInfoToTensorInfo = 55;
    public const int GetOnnxTypeFromTypeInfo = 56;
    public const int GetTensorElementType = 60;
    public const int GetDimensionsCount = 61;
    public const int GetDimensions = 62;
    public const int GetTensorTypeAndShape = 65;
    public const int CreateCpuMemoryInfo = 69;
    public const int AllocatorFree = 76;
    public const int GetAllocatorWithDefaultOptions = 78;
    public const int ReleaseEnv = 92;
    public const int ReleaseStatus = 93;
    public const int ReleaseMemoryInfo = 94;
    public const int ReleaseSession = 95;
    public const int ReleaseValue = 96;
    public const int ReleaseTypeInfo = 98;
    public const int ReleaseTensorTypeAndShapeInfo = 99;
    public const int ReleaseSessionOptions = 100;
    public const int GetBuildInfoString = 254;
}
