using System.Globalization;
using Alloy.IR;
using Alloy.Pipeline;
using static Alloy.Passes.Precision.PrecisionAnnotations;

namespace Alloy.Passes.Precision;

/// <summary>
/// <c>mark-bf16</c> / <c>mark-fp16</c>: paints every float node (in the main graph and in If/Loop/Scan bodies)
/// <c>color</c> = allow / infer / clear / deny with <c>why</c> = the rule, from the typed policy table, user
/// overrides (op type, node-name regex), schema-fixed FP32 computations (Cast, Constant, Range, Q/DQ, shape and
/// scale computations), calibrated-range rules (FP16 overflow; integer exactness) and kernel availability on the
/// target. Nodes without float data (integer and shape-only graphs) are left unpainted. Only annotates.
/// </summary>
public sealed class MarkPrecisionPass : IPass
{
    private readonly MarkPrecisionOptions _options;

    public MarkPrecisionPass(DataType lowType, MarkPrecisionOptions? options = null)
    {
        _options = options ?? new MarkPrecisionOptions();
        Policy = PrecisionPolicy.For(lowType).WithKernelAvailability(_options.Availability());
    }

    public PrecisionPolicy Policy { get; }

    public string Id => "mark-" + Policy.LowName;

    public string Description => $"paint every float node allow/infer/clear/deny for {Policy.LowName} from the precision policy, overrides, range rules and kernel availability";

    public void Run(Model model, PassContext context)
    {
        var painted = new Dictionary<string, Statistic>
        {
            [Allow] = context.Statistic("painted-allow", "float nodes painted allow (run low precision)"),
            [Infer] = context.Statistic("painted-infer", "float nodes painted infer (low precision only next to low-precision nodes)"),
            [Clear] = context.Statistic("painted-clear", "float nodes painted clear (follow their neighbours' precision)"),
            [Deny] = context.Statistic("painted-deny", "float nodes painted deny (FP32)"),
        };
        var unpainted = context.Statistic("unpainted", "nodes without float data, left unpainted");
        var overrides = context.Statistic("overrides", "nodes decided by a user override (op type or node name)");
        var rangeRules = context.Statistic("range-rules", "nodes kept FP32 by a calibrated-range rule (FP16 overflow, integer exactness)");
        var noKernel = context.Statistic("no-kernel", "allow-list nodes demoted to infer: the target has no native kernel");
        var schema = context.Statistic("schema-fp32", "float nodes that cannot change precision (Cast, Constant, Range, Q/DQ, shape and scale computations)");
        var schemaOpset = context.Statistic("schema-opset", "nodes kept FP32 because their op does not admit the low type at the model's opset");
        long? opset = _options.Schema == TypeSchema.Onnx ? model.DefaultOpset : null;

        var facts = new FloatFacts(model, Policy.LowType);
        var shapeNodes = facts.ShapeComputations();
        var ranges = new RangeFacts(facts, _options.Ranges);
        foreach (var graph in model.Graph.SelfAndSubgraphs())
        {
            for (var node = graph.FirstNode; node is not null; node = node.Next)
            {
                context.ThrowIfCancelled();
                if (PrecisionOf(node) is { } p && p is not (Bf16 or Fp16 or Fp32)) continue; // owned by another pass (int8)
                if (!facts.IsFloatNode(node))
                {
                    bool removed = node.RemoveAnnotation(Color) | node.RemoveAnnotation(Reason);
                    if (removed) context.MarkChanged();
                    unpainted.Add();
                    continue;
                }
                var (color, why) = Decide(node, shapeNodes.Contains(node), facts, ranges, context);
                if (color != Deny && OpsetSchemaRule.Rejects(node, Policy.LowType, opset) is { } schemaReason)
                {
                    if (why is Why.OverrideOp or Why.OverrideName) context.Warn(node, $"low-precision override ignored (schema=onnx): {schemaReason}");
                    else context.Note(node, $"kept FP32 (schema): {schemaReason}");
                    (color, why) = (Deny, Why.SchemaOpset);
                }
                painted[color].Add();
                switch (why)
                {
                    case Why.OverrideOp or Why.OverrideName: overrides.Add(); break;
                    case Why.RangeFp16Overflow or Why.RangeBf16Integer or Why.RangeFp16Integer: rangeRules.Add(); break;
                    case Why.NoKernel: noKernel.Add(); break;
                    case Why.SchemaFp32: schema.Add(); break;
                    case Why.SchemaOpset: schemaOpset.Add(); break;
                }
                if (ColorOf(node) != color || ReasonOf(node) != why)
                {
                    node.Annotate(Color, color);
                    node.Annotate(Reason, why);
                    context.MarkChanged();
                }
            }
        }
    }

    private (string Color, string Why) Decide(Node node, bool shapeComputation, FloatFacts facts, RangeFacts ranges, PassContext context)
    {
        var entry = Policy.Lookup(node);
        if (shapeComputation || entry?.Why == Why.SchemaFp32) return (Deny, Why.SchemaFp32);

        if (_options.Fp32Nodes?.IsMatch(NodeName(node)) == true) return (Deny, Why.OverrideName);
        bool lowByName = _options.LowNodes?.IsMatch(NodeName(node)) == true;
        if (!lowByName && _options.Fp32Ops.Contains(node.OpType)) return (Deny, Why.OverrideOp);
        var range = RangeRule(node, facts, ranges);
        if (lowByName) return ForcedLow(node, Why.OverrideName, range, context);
        if (_options.LowOps.Contains(node.OpType)) return ForcedLow(node, Why.OverrideOp, range, context);
        if (range is { } r)
        {
            context.Note(node, $"kept FP32 ({r.Why}): {r.Detail}");
            return (Deny, r.Why);
        }
        if (entry is null) return (Deny, Why.Unlisted);
        if (entry.Color == PrecisionColor.Allow && !Policy.KernelAvailable(node.OpType, Policy.LowType))
            return (Infer, Why.NoKernel);
        return (ColorWord(entry.Color), entry.Why);
    }

    private static (string, string) ForcedLow(Node node, string why, (string Why, string Detail)? range, PassContext context)
    {
        if (range is { } r) context.Warn(node, $"forced to low precision by an override although {r.Why} applies: {r.Detail}");
        return (Allow, why);
    }

    /// <summary>The name overrides match: the node's name, or its first result's name when it has none.</summary>
    internal static string NodeName(Node n) => n.Name.Length > 0 ? n.Name : n.Outputs.Count > 0 ? n.Outputs[0].Name : "";

    internal static string ColorWord(PrecisionColor c) => c switch
    {
        PrecisionColor.Allow => Allow,
        PrecisionColor.Infer => Infer,
        PrecisionColor.Clear => Clear,
        _ => Deny,
    };

    /// <summary>The range rule that keeps the node FP32: it produces or reads (at a converted operand) a value that does not fit the low type.</summary>
    private (string Why, string Detail)? RangeRule(Node node, FloatFacts facts, RangeFacts ranges)
    {
        var low = Policy.LowType.Facts();
        double overflow = _options.Fp16SafeFraction * low.MaxFinite;
        double exactIntegers = 1L << (low.MantissaBits + 1);
        string integerWhy = Policy.LowType == DataType.Float16 ? Why.RangeFp16Integer : Why.RangeBf16Integer;

        (string, string)? Check(Value v)
        {
            if (!ranges.MayKnow(v) || !facts.IsFloat(v) || ranges.Of(v) is not { } f) return null;
            if (Policy.LowType == DataType.Float16 && f.Measured && f.MaxAbs > overflow)
                return (Why.RangeFp16Overflow, $"'{v.Name}' reaches {Fmt(f.MaxAbs)}, above {Fmt(_options.Fp16SafeFraction)} x {Fmt(low.MaxFinite)}");
            if (f.IntegerValued && f.MaxAbs > exactIntegers)
                return (integerWhy, $"'{v.Name}' holds integers up to {Fmt(f.MaxAbs)}; {Policy.LowName} represents integers exactly only up to {Fmt(exactIntegers)}");
            return null;
        }

        var outputs = node.Outputs;
        for (int i = 0; i < outputs.Count; i++)
            if (Check(outputs[i]) is { } hit) return hit;
        for (int i = 0; i < node.Inputs.Count; i++)
            if (node.Inputs[i] is { } v && !PrecisionPolicy.KeepsFp32Operand(node, i) && Check(v) is { } hit) return hit;
        return null;
    }

    private static string Fmt(double d) => d.ToString("G6", CultureInfo.InvariantCulture);

    /// <summary>What is known of a value's magnitude and integrality: calibrated ranges by name, constant data, integer sources of Casts.</summary>
    private sealed class RangeFacts(FloatFacts facts, IReadOnlyDictionary<string, ValueRange>? ranges)
    {
        private readonly ValueTable<TensorFacts?> _cache = new();

        /// <summary>Cheap filter: only constants, Constant/Cast results and values named in the ranges file can have facts.</summary>
        public bool MayKnow(Value v)
        {
            if (ranges is not null) return true;
            while (v.Kind == ValueKind.Capture && v.Outer is { } o) v = o;
            return v.Constant is not null || v.Producer is { OpType: "Constant" or "Cast" or "CastLike" };
        }

        public TensorFacts? Of(Value v)
        {
            while (v.Kind == ValueKind.Capture && v.Outer is { } o) v = o;
            if (_cache.TryGetValue(v, out var known)) return known;
            var result = Compute(v);
            _cache.TryAdd(v, result);
            return result;
        }

        private TensorFacts? Compute(Value v)
        {
            TensorFacts? data = null;
            if (v.Constant is { } c) data = TensorScan.Scan(c);
            else if (v.Producer is { } p && p.IsDefaultDomain)
            {
                if (p.OpType == "Constant") data = ConstantAttribute(p);
                else if (p.OpType is "Cast" or "CastLike" && facts.Types.Of(p.Inputs.ElementAtOrDefault(0)) is { } source
                         && source.Facts() is { Kind: NumberKind.SignedInteger or NumberKind.UnsignedInteger or NumberKind.Bool } sf)
                    data = new TensorFacts(Math.Max(Math.Abs(sf.IntegerMin), sf.IntegerMax), true, Measured: false);
            }
            if (ranges is not null && ranges.TryGetValue(v.Name, out var range))
                return new TensorFacts(range.MaxAbs, data?.IntegerValued ?? false);
            return data;
        }

        private static TensorFacts? ConstantAttribute(Node p)
        {
            foreach (var a in p.Attributes)
            {
                switch (a.Value)
                {
                    case TensorAttr t: return TensorScan.Scan(t.Value);
                    case FloatAttr f: return Facts([f.Value]);
                    case FloatsAttr fs: return Facts(fs.Value.ToArray());
                }
            }
            return null;
        }

        private static TensorFacts Facts(float[] values)
        {
            double max = 0;
            bool integral = true;
            foreach (var f in values)
            {
                max = Math.Max(max, Math.Abs((double)f));
                integral &= float.IsFinite(f) && MathF.Floor(f) == f;
            }
            return new TensorFacts(max, integral);
        }
    }
}
