using Alloy.IR;
using Alloy.Passes.ShapeInference;
using Alloy.Pipeline;

namespace Alloy.Passes
{
    public static partial class StandardPasses
    {
        static partial void RegisterShapeInference(PassRegistry r) =>
            r.Register(InferShapesPass.PassId, InferShapesPass.Summary, options => InferShapesPass.Create(options));
    }
}

namespace Alloy.Passes.ShapeInference
{
    /// <summary>
    /// <c>infer-shapes</c>: gives every node result an element type and a shape, for every op the runtime supports,
    /// inside If / Loop / Scan bodies too. Symbolic dimensions are kept and propagated (N stays N through Conv,
    /// MatMul and elementwise ops; products such as 4*N stay symbolic); small integer tensors are followed through
    /// Shape / Gather / Concat / Unsqueeze / Slice / Cast so Reshape targets computed from shapes are resolved.
    /// Declared types (graph inputs, value_info) are kept when they agree with the inferred ones; a contradiction is
    /// a warning naming the node (an error with <c>strict=true</c>), never a silent overwrite.
    /// </summary>
    public sealed class InferShapesPass(bool strict = false) : IPass
    {
        public const string PassId = "infer-shapes";
        public const string Summary = "infers element types and shapes (symbolic dims kept) for every node result";

        public string Id => PassId;
        public string Description => Summary;

        /// <summary>The default-domain ops the pass has a shape rule for.</summary>
        public static IEnumerable<string> Ops => OpRules.Ops;

        /// <summary>Inconsistencies between declared and inferred types are errors instead of warnings.</summary>
        public bool Strict { get; } = strict;

        public static InferShapesPass Create(IReadOnlyDictionary<string, string> values)
        {
            var options = new PassOptions(PassId, values);
            var strict = options.Bool("strict", false);
            options.RejectUnknown();
            return new InferShapesPass(strict);
        }

        public void Run(Model model, PassContext context)
        {
            var typed = context.Statistic("values-typed", "node results given a type, or a more precise one");
            var full = context.Statistic("shapes-fully-known", "node results whose shape is fully known (every dimension a number)");
            var inconsistent = context.Statistic("inconsistencies", "declared types that contradict the inferred type (kept, and reported)");
            var untyped = context.Statistic("untyped-results", "node results still without an element type");
            var engine = new ShapeInferenceEngine(model, Strict) { Cancellation = context.Cancellation };
            var summary = engine.Run(context);
            typed.Add(summary.ValuesTyped);
            full.Add(summary.ShapesFullyKnown);
            inconsistent.Add(summary.Inconsistencies);
            untyped.Add(summary.WithoutElementType);
        }
    }
}
