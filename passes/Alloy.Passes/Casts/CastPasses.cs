using Alloy.Passes.Casts;
using Alloy.Pipeline;

namespace Alloy.Passes;

public static partial class StandardPasses
{
    static partial void RegisterCasts(PassRegistry r)
    {
        r.Register(InsertCastsPass.PassId, "insert shared Casts and convert constants so element types follow the prec annotations", InsertCastsPass.Create);
        r.Register(FoldCastsPass.PassId, "remove Casts that change no value: exact chains, duplicates, no-ops, constants, DequantizeLinear", FoldCastsPass.Create);
    }
}
