using static Alloy.Runtime.Kernels.Reference.ElementwiseHelpers;

namespace Alloy.Runtime.Kernels.Reference;

/// <summary>
/// Reduction reference kernels: ReduceSum / Mean / Max / Min / Prod / L1 / L2 / LogSum / LogSumExp / SumSquare,
/// ArgMax / ArgMin, Softmax / LogSoftmax / Hardmax and CumSum. Accumulation is in double (exact long for integer
/// sums, products and extremes) with one rounding on store.
/// </summary>
internal static partial class ReferenceKernels
{
    static partial void RegisterReductions(KernelRegistry r)
    {
        // ReduceSum took its axes as an input from opset 13; the other reductions from opset 18.
        RegisterReduce(r, "ReduceSum", ReduceOp.Sum, axesInputFromOpset: 13);
        RegisterReduce(r, "ReduceMean", ReduceOp.Mean, 18);
        RegisterReduce(r, "ReduceMax", ReduceOp.Max, 18);
        RegisterReduce(r, "ReduceMin", ReduceOp.Min, 18);
        RegisterReduce(r, "ReduceProd", ReduceOp.Prod, 18);
        RegisterReduce(r, "ReduceL1", ReduceOp.L1, 18);
        RegisterReduce(r, "ReduceL2", ReduceOp.L2, 18);
        RegisterReduce(r, "ReduceLogSum", ReduceOp.LogSum, 18);
        RegisterReduce(r, "ReduceLogSumExp", ReduceOp.LogSumExp, 18);
        RegisterReduce(r, "ReduceSumSquare", ReduceOp.SumSquare, 18);

        foreach (var (op, max) in new[] { ("ArgMax", true), ("ArgMin", false) })
            r.Register(op, (KernelNode n, out string? reason) =>
            {
                if (RejectsType(n, 0, ElementTypeSet.Numeric, "data", out reason)) return null;
                var a = n.Attributes;
                return new ArgReduceKernel(op, max, a.GetInt("axis", 0), a.GetInt("keepdims", 1) != 0, a.GetInt("select_last_index", 0) != 0);
            });

        foreach (var (op, kind) in new[] { ("Softmax", SoftmaxOp.Softmax), ("LogSoftmax", SoftmaxOp.LogSoftmax), ("Hardmax", SoftmaxOp.Hardmax) })
            r.Register(op, (KernelNode n, out string? reason) =>
            {
                if (RejectsType(n, 0, ElementTypeSet.Float, "input", out reason)) return null;
                // Opset 13 changed the semantics: one axis (default -1) instead of coercing to 2D at axis (default 1).
                bool coerceTo2D = OpsetBefore(n, 13);
                return new SoftmaxKernel(op, kind, n.Attributes.GetInt("axis", coerceTo2D ? 1 : -1), coerceTo2D);
            });

        r.Register("CumSum", (KernelNode n, out string? reason) =>
            RejectsType(n, 0, ElementTypeSet.Numeric, "x", out reason) ? null
                : new CumSumKernel(n.Attributes.GetInt("exclusive", 0) != 0, n.Attributes.GetInt("reverse", 0) != 0));
    }

    private static void RegisterReduce(KernelRegistry r, string op, ReduceOp kind, long axesInputFromOpset) =>
        r.Register(op, (KernelNode n, out string? reason) =>
        {
            if (RejectsType(n, 0, ReduceKernel.Accepts(kind), "data", out reason)) return null;
            var a = n.Attributes;
            bool axesFromInput = !OpsetBefore(n, axesInputFromOpset);
            if (axesFromInput && a.Has("axes"))
            {
                reason = $"{op}: from opset {axesInputFromOpset} the axes are an input, not an attribute";
                return null;
            }
            return new ReduceKernel(op, kind, axesFromInput, axesFromInput ? null : a.GetInts("axes"),
                a.GetInt("keepdims", 1) != 0, a.GetInt("noop_with_empty_axes", 0) != 0);
        });
}
