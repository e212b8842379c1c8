using Alloy.Runtime;

namespace Alloy.Tuning;

/// <summary>A short digest of tensors (names, types, shapes and bytes), for <see cref="TuningConfig.EvaluationId"/>.</summary>
public static class DataFingerprint
{
    public static string Of(IReadOnlyDictionary<string, Tensor> data) => TuningSession.DataDigest(data);
}
