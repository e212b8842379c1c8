using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;

namespace Alloy.Tuning;

/// <summary>
/// One candidate configuration: a low-precision type (<c>bf16</c>, <c>fp16</c>, <c>int8</c>; <c>fp32</c> for the
/// unchanged model) and the nodes forced to FP32 (by node name, or first result name for unnamed nodes). For an
/// INT8 family with a rest type (<c>int8+bf16</c>), <see cref="Fp32Nodes"/> are the nodes taken out of INT8 (they run
/// the rest type) and <see cref="KeptFp32"/> the nodes that stay FP32 in every candidate of the family.
/// </summary>
public sealed record CandidateSpec(string LowType, ImmutableSortedSet<string> Fp32Nodes)
{
    public const string Fp32 = "fp32";

    /// <summary>The unchanged FP32 model.</summary>
    public static CandidateSpec Baseline { get; } = new(Fp32, ImmutableSortedSet<string>.Empty.WithComparer(StringComparer.Ordinal));

    public static CandidateSpec AllLow(string lowType) => new(lowType, ImmutableSortedSet<string>.Empty.WithComparer(StringComparer.Ordinal));

    public static CandidateSpec WithFp32(string lowType, IEnumerable<string> nodes) => new(lowType, nodes.ToImmutableSortedSet(StringComparer.Ordinal));

    /// <summary>Nodes kept FP32 by the family itself (the FP32 choice of the rest type's search); empty otherwise.</summary>
    public ImmutableSortedSet<string> KeptFp32 { get; init; } = ImmutableSortedSet<string>.Empty.WithComparer(StringComparer.Ordinal);

    public bool IsBaseline => LowType == Fp32;

    /// <summary>A stable identity: the type, the number of FP32 nodes and a digest of their names.</summary>
    public string Key
    {
        get
        {
            if (IsBaseline) return Fp32;
            var kept = KeptFp32.IsEmpty ? "" : $"/fp32:{KeptFp32.Count}:{Digest(KeptFp32)}";
            if (Fp32Nodes.IsEmpty) return LowType + ":all" + kept;
            return $"{LowType}:{Fp32Nodes.Count}:{Digest(Fp32Nodes)}{kept}";
        }
    }

    private static string Digest(IEnumerable<string> names) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\n", names))))[..16];

    public bool Equals(CandidateSpec? other) =>
        other is not null && LowType == other.LowType && Fp32Nodes.SetEquals(other.Fp32Nodes) && KeptFp32.SetEquals(other.KeptFp32);

    public override int GetHashCode() => HashCode.Combine(LowType, Fp32Nodes.Count, Fp32Nodes.IsEmpty ? "" : Fp32Nodes.Min);
}
