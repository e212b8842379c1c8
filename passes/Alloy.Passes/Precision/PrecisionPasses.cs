using Alloy.IR;
using Alloy.Passes.Precision;
using Alloy.Pipeline;

namespace Alloy.Passes;

public static partial class StandardPasses
{
    static partial void RegisterPrecision(PassRegistry r)
    {
        foreach (var type in (ReadOnlySpan<DataType>)[DataType.BFloat16, DataType.Float16])
        {
            var t = type;
            var name = PrecisionAnnotations.PrecisionName(t);
            r.Register("mark-" + name,
                $"paint every float node allow/infer/clear/deny for {name} (options: {string.Join(", ", MarkPrecisionOptions.OptionNames)})",
                options => new MarkPrecisionPass(t, MarkPrecisionOptions.Parse("mark-" + name, options)));
            r.Register("propagate-" + name,
                $"decide every painted node's precision ({name} or fp32) by TensorFlow's propagation order and a cast-minimizing depth-first walk (options: low-tail)",
                options =>
                {
                    var o = new PassOptions("propagate-" + name, options);
                    var lowTail = o.Bool("low-tail", false);
                    o.RejectUnknown();
                    return new PropagatePrecisionPass(t, lowTail);
                });
        }
    }
}
