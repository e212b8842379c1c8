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

    /// <summary>The INT8 + FP32 pipeline (partition-int8 needs calibrated ranges: <c>partition-int8(ranges=FILE)</c>).</summary>
    public const string Int8Pipeline = "infer-shapes,partition-int8";

    /// <summary>The FP16 mixed-precision pipeline.</summary>
    public const string Fp16Pipeline = "infer-shapes,mark-fp16,propagate-fp16,insert-casts,fold-casts";

    public static PassRegistry CreateRegistry()
    {
        var r = new PassRegistry();
        RegisterShapeInference(r);
        RegisterPrecision(r);
        RegisterCasts(r);
        RegisterQuantization(r);
        return r;
    }

    static partial void RegisterShapeInference(PassRegistry r);
    static partial void RegisterPrecision(PassRegistry r);
    static partial void RegisterCasts(PassRegistry r);
    static partial void RegisterQuantization(PassRegistry r);
}
