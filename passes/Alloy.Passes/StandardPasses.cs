using Alloy.Pipeline;

namespace Alloy.Passes;

/// <summary>
/// Every pass Alloy ships, registered by id, and the named pipelines. Each pass family registers itself through
/// one of the partial methods below, from its own folder.
/// </summary>
public static partial class StandardPasses
{
    /// <summary>The BF16 mixed-precision pipeline.</summary>
    public const string Bf16Pipeline = "infer-shapes,mark-bf16,propagate-bf16,insert-casts,fold-casts";

    /// <summary>The FP16 mixed-precision pipeline.</summary>
    public const string Fp16Pipeline = "infer-shapes,mark-fp16,propagate-fp16,insert-casts,fold-casts";

    public static PassRegistry CreateRegistry()
    {
        var r = new PassRegistry();
        RegisterShapeInference(r);
        RegisterPrecision(r);
        RegisterCasts(r);
        return r;
    }

    static partial void RegisterShapeInference(PassRegistry r);
    static partial void RegisterPrecision(PassRegistry r);
    static partial void RegisterCasts(PassRegistry r);
}
