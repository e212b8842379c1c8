using Alloy.Runtime.Numerics;
using static Alloy.Runtime.Kernels.Reference.ElementwiseHelpers;

namespace Alloy.Runtime.Kernels.Reference;

/// <summary>
/// Loss family: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (opsets 12 and 13, which differ only in the
/// element types they admit).
/// </summary>
internal static partial class ReferenceKernels
{
    static partial void RegisterLoss(KernelRegistry r)
    {
        r.Register("NegativeLogLikelihoodLoss", (KernelNode n, out string? reason) => LossKernel.Create(n, softmax: false, out reason));
        r.Register("SoftmaxCrossEntropyLoss", (KernelNode n, out string? reason) => LossKernel.Create(n, softmax: true, out reason));
    }
}

/// <summary>
/// NegativeLogLikelihoodLoss (input = log-probabilities) and SoftmaxCrossEntropyLoss (input = scores, whose
/// log-softmax along axis 1 is taken first, optionally returned as the second output 'log_prob').
/// <para>
/// Shapes: input [N, C] or [N, C, d1, …, dk]; target [N] or [N, d1, …, dk] (int32 / int64) with values in [0, C)
/// unless equal to ignore_index; optional weight [C]. Per element: loss = -weight[t] · input[n, t, d…] (weight 1
/// without weights; 0 loss and 0 weight for ignored targets). Reductions: 'none' (target's shape), 'sum', and 'mean'
/// = Σ loss / Σ weight over the elements (with neither weights nor ignore_index that is the plain mean; when every
/// element is ignored it is 0/0 = NaN, as the ONNX reference gives). Everything is computed in double and rounded
/// once to the input's element type.
/// </para>
/// </summary>
internal sealed class LossKernel(string op, bool softmax, string reduction, long? ignoreIndex) : IKernel
{
    private static readonly string[] Reductions = ["none", "sum", "mean"];

    public static IKernel? Create(KernelNode n, bool softmax, out string? reason)
    {
        reason = null;
        var reduction = n.Attributes.GetString("reduction", "mean");
        if (!Reductions.Contains(reduction))
        {
            reason = $"{n.OpType}: attribute 'reduction' is '{reduction}', expected one of none, sum, mean";
            return null;
        }
        if (RejectsType(n, 0, ElementTypeSet.Float, softmax ? "scores" : "input", out reason)) return null;
        long? ignore = n.Attributes.Has("ignore_index") ? n.Attributes.GetInt("ignore_index") : null;
        return new LossKernel(n.OpType, softmax, reduction, ignore);
    }

    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = Required(inputs, 0, op, softmax ? "scores" : "input");
        var target = Required(inputs, 1, op, softmax ? "labels" : "target");
        var weight = Optional(inputs, 2);
        CheckType(x, ElementTypeSet.Float, op, softmax ? "scores" : "input");
        if (target.Type is not (ElementType.Int32 or ElementType.Int64))
            throw new KernelException($"{op}: input '{(softmax ? "labels" : "target")}' is {target.Type.Name()}, expected int32 or int64");
        if (x.Rank < 2) throw new KernelException($"{op}: input must have shape [N, C] or [N, C, d1, ...], got {x.ShapeText}");
        long n = x.Shape[0], c = x.Shape[1];
        long d = Product(x.Shape.AsSpan(2));
        bool shapeOk = target.Rank == x.Rank - 1 && target.Shape[0] == n && target.Shape.AsSpan(1).SequenceEqual(x.Shape.AsSpan(2));
        if (!shapeOk)
            throw new KernelException($"{op}: target shape {target.ShapeText} does not match input shape {x.ShapeText} (expected [N, d1, ...] = [{n}{string.Concat(x.Shape.Skip(2).Select(v => "," + v))}])");
        double[]? w = null;
        if (weight is not null)
        {
            CheckType(weight, ElementTypeSet.Float, op, "weight");
            if (weight.Rank != 1 || weight.Shape[0] != c)
                throw new KernelException($"{op}: input 'weight' must have shape [{c}] (one weight per class), got {weight.ShapeText}");
            w = ElementConvert.ToDoubles(weight);
        }

        var values = ElementConvert.ToDoubles(x);
        if (softmax)
        {
            LogSoftmaxOverClasses(values, n, c, d);
            if (outputs.Length > 1) outputs[1] = ElementConvert.FromDoubles(x.Type, x.Shape, values);
        }

        var labels = ElementConvert.ToLongs(target);
        var losses = new double[labels.Length];
        double lossSum = 0, weightSum = 0;
        for (long i = 0; i < n; i++)
            for (long j = 0; j < d; j++)
            {
                long k = i * d + j;
                long t = labels[k];
                if (ignoreIndex is { } ii && t == ii) continue; // loss 0, weight 0
                if (t < 0 || t >= c)
                    throw new KernelException($"{op}: target value {t} at position {k} is outside the class range [0, {c - 1}]" +
                        (ignoreIndex is { } ig ? $" and is not ignore_index ({ig})" : ""));
                double wt = w?[t] ?? 1.0;
                double loss = -values[(i * c + t) * d + j] * wt;
                losses[k] = loss;
                lossSum += loss;
                weightSum += wt;
            }

        outputs[0] = reduction switch
        {
            "none" => ElementConvert.FromDoubles(x.Type, target.Shape, losses),
            "sum" => ElementConvert.FromDoubles(x.Type, [], [lossSum]),
            _ => ElementConvert.FromDoubles(x.Type, [], [lossSum / weightSum]),
        };
    }

    /// <summary>Replaces each [n, ·, d] line of a [N, C, D] array by its log-softmax (maximum subtracted first).</summary>
    private static void LogSoftmaxOverClasses(double[] v, long n, long c, long d)
    {
        for (long i = 0; i < n; i++)
            for (long j = 0; j < d; j++)
            {
                double max = double.NegativeInfinity;
                for (long k = 0; k < c; k++) max = Math.Max(max, v[(i * c + k) * d + j]);
                double sum = 0;
                for (long k = 0; k < c; k++) sum += Math.Exp(v[(i * c + k) * d + j] - max);
                double logSum = Math.Log(sum);
                for (long k = 0; k < c; k++) v[(i * c + k) * d + j] = v[(i * c + k) * d + j] - max - logSum;
            }
    }
}
