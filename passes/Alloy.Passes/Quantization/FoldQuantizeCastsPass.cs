using Alloy.IR;
using Alloy.Passes.Casts;
using Alloy.Pipeline;
using static Alloy.Passes.Casts.CastGraph;

namespace Alloy.Passes.Quantization;

/// <summary>
/// <c>fold-quantize-casts</c>: <c>Cast(x : bf16|f16 → f32) → QuantizeLinear(·, s, z)</c> becomes
/// <c>QuantizeLinear(x, s', z)</c> with the scale converted to x's type, from opset 19 (where QuantizeLinear takes
/// BF16/FP16 input with a scale of the same type), only when every scale value is exact in that type, so the
/// quantized result is unchanged: widening x is exact, and x / s is the same quotient. The Cast goes when it has
/// no other use. Runs after fold-casts in the INT8 + BF16/FP16 pipelines.
/// </summary>
public sealed class FoldQuantizeCastsPass : IPass
{
    public const string PassId = "fold-quantize-casts";

    public string Id => PassId;
    public string Description => "let QuantizeLinear consume BF16/FP16 directly instead of through a Cast to FP32 (opset >= 19, exact scales)";

    public void Run(Model model, PassContext context)
    {
        var folded = context.Statistic("casts-folded", "Casts to FP32 removed in front of QuantizeLinear");
        if ((model.DefaultOpset ?? 0) < 19) return;
        var names = new NameSource(model);
        foreach (var g in model.Graph.SelfAndSubgraphs())
            foreach (var q in g.Nodes.ToList())
            {
                context.ThrowIfCancelled();
                if (q is not { OpType: "QuantizeLinear", IsDefaultDomain: true } || q.Inputs.Count < 2) continue;
                if (q.Inputs[0] is not { Kind: ValueKind.NodeResult, Producer: { } cast } x || !IsCast(cast) || CastTarget(cast) != DataType.Float) continue;
                var source = cast.Inputs[0];
                if (Elem(source) is not ({ } low and (DataType.BFloat16 or DataType.Float16)) || source is null) continue;
                if (q.Inputs[1] is not { } scale || Elem(scale) != DataType.Float || ConstantConversion.ConstantData(scale) is not { } scaleData) continue;
                var values = ConstantConversion.ReadAsDoubles(scaleData, 1 << 20);
                if (values is null || values.Any(s => FloatFormat.Round(s, low) != s)) continue;
                if (!ConstantConversion.TryConvert(scaleData, low, out var converted, out _)) continue;
                var owner = Root(scale).Owner;
                var lowScale = owner.AddConstant(names.Fresh(owner, $"{Root(scale).Name}_{low.ShortName()}"), converted!);
                g.SetOperand(q, 0, source);
                g.SetOperand(q, 1, lowScale);
                var old = Root(scale);
                if (!old.HasUses && old.Kind == ValueKind.Constant) old.Owner.RemoveConstant(old);
                if (!x.HasUses) g.Erase(cast);
                folded.Add();
                context.MarkChanged();
            }
    }
}
