using Alloy.Runtime.Numerics;
using static Alloy.Runtime.Kernels.Reference.LinearAlgebraHelpers;

namespace Alloy.Runtime.Kernels.Reference;

internal static partial class ReferenceKernels
{
    static partial void RegisterNormalization(KernelRegistry r)
    {
        r.Register("BatchNormalization", CreateBatchNormalization);
        r.Register("LayerNormalization", CreateLayerNormalization);
        r.Register("InstanceNormalization", CreateInstanceNormalization);
        r.Register("GroupNormalization", CreateGroupNormalization);
        r.Register("LpNormalization", CreateLpNormalization);
        r.Register("MeanVarianceNormalization", CreateMeanVarianceNormalization);
    }

    private static IKernel? CreateBatchNormalization(KernelNode n, out string? reason)
    {
        reason = FloatTypeReason(n, 0, "X");
        if (reason is not null) return null;
        var a = n.Attributes;
        if (a.GetInt("spatial", 1) == 0)
        {
            reason = "BatchNormalization: spatial = 0 (per-activation statistics) is not supported";
            return null;
        }
        bool training = a.GetInt("training_mode", 0) != 0;
        if (n.Opset is > 0 and < 14 && n.OutputCount > 1)
        {
            reason = $"BatchNormalization-{n.Opset}: the training outputs (mean, var, saved_mean, saved_var) are not supported";
            return null;
        }
        if (!training && n.OutputCount > 1)
        {
            reason = "BatchNormalization: running_mean / running_var outputs require training_mode = 1";
            return null;
        }
        return new BatchNormalizationKernel(a.GetFloat("epsilon", 1e-5f), a.GetFloat("momentum", 0.9f), training);
    }

    private static IKernel? CreateLayerNormalization(KernelNode n, out string? reason)
    {
        reason = FloatTypeReason(n, 0, "X");
        if (reason is not null) return null;
        var a = n.Attributes;
        var stash = (ElementType)a.GetInt("stash_type", 1);
        if (!Enum.IsDefined(stash) || !stash.IsFloat())
        {
            reason = $"LayerNormalization: stash_type {(long)stash} is not a floating-point type";
            return null;
        }
        return new LayerNormalizationKernel(a.GetInt("axis", -1), a.GetFloat("epsilon", 1e-5f), stash);
    }

    private static IKernel? CreateInstanceNormalization(KernelNode n, out string? reason)
    {
        reason = FloatTypeReason(n, 0, "input");
        return reason is null ? new InstanceNormalizationKernel(n.Attributes.GetFloat("epsilon", 1e-5f)) : null;
    }

    private static IKernel? CreateGroupNormalization(KernelNode n, out string? reason)
    {
        reason = FloatTypeReason(n, 0, "X");
        if (reason is not null) return null;
        if (!n.Attributes.Has("num_groups"))
        {
            reason = "GroupNormalization: required attribute 'num_groups' is missing";
            return null;
        }
        long groups = n.Attributes.GetInt("num_groups");
        if (groups < 1)
        {
            reason = $"GroupNormalization: num_groups {groups} must be positive";
            return null;
        }
        // Opset 18: scale and bias have one value per group; opset 21: one per channel.
        return new GroupNormalizationKernel(groups, n.Attributes.GetFloat("epsilon", 1e-5f), perChannel: n.Opset == 0 || n.Opset >= 21);
    }

    private static IKernel? CreateLpNormalization(KernelNode n, out string? reason)
    {
        reason = FloatTypeReason(n, 0, "input");
        if (reason is not null) return null;
        long p = n.Attributes.GetInt("p", 2);
        if (p is not (1 or 2))
        {
            reason = $"LpNormalization: p = {p} is not supported (1 or 2)";
            return null;
        }
        return new LpNormalizationKernel(n.Attributes.GetInt("axis", -1), p);
    }

    private static IKernel? CreateMeanVarianceNormalization(KernelNode n, out string? reason)
    {
        reason = FloatTypeReason(n, 0, "X");
        if (reason is not null) return null;
        return new MeanVarianceNormalizationKernel(n.Attributes.GetInts("axes") ?? [0, 2, 3]);
    }
}

/// <summary>Grouping of a tensor's elements by the dims that are kept (the others are reduced).</summary>
internal static class NormalizationHelpers
{
    /// <summary>For each flat element, the flat index of its group over the kept dims; and the group count.</summary>
    public static long[] Groups(long[] shape, bool[] reduced, out long groupCount)
    {
        var keptShape = shape.Select((d, i) => reduced[i] ? 1 : d).ToArray();
        groupCount = Product(keptShape);
        return Broadcast.SourceIndices(keptShape, shape);
    }

    /// <summary>Per-group mean and (population) variance of <paramref name="x"/> in double.</summary>
    public static (double[] Mean, double[] Var) Moments(double[] x, long[] group, long groupCount)
    {
        var mean = new double[groupCount];
        var count = new long[groupCount];
        for (long i = 0; i < x.Length; i++)
        {
            mean[group[i]] += x[i];
            count[group[i]]++;
        }
        for (long g = 0; g < groupCount; g++) mean[g] = count[g] == 0 ? double.NaN : mean[g] / count[g];
        var var = new double[groupCount];
        for (long i = 0; i < x.Length; i++)
        {
            double d = x[i] - mean[group[i]];
            var[group[i]] += d * d;
        }
        for (long g = 0; g < groupCount; g++) var[g] = count[g] == 0 ? double.NaN : var[g] / count[g];
        return (mean, var);
    }

    /// <summary>A per-channel parameter: a float tensor of <paramref name="channels"/> elements.</summary>
    public static double[] Channel(Tensor t, long channels, string op, string name)
    {
        RequireFloat(t, op, name);
        if (t.Length != channels || t.Rank > 1 && t.Shape.Count(d => d != 1) > 1)
            throw new KernelException($"{op}: '{name}' {t.ShapeText} must have {channels} elements (one per channel)");
        return ElementConvert.ToDoubles(t);
    }

    /// <summary><paramref name="t"/> broadcast (unidirectionally) to <paramref name="shape"/>, in double.</summary>
    public static double[] BroadcastTo(Tensor t, long[] shape, string op, string name)
    {
        RequireFloat(t, op, name);
        if (t.Rank > shape.Length || !Broadcast.Shape(t.Shape, shape).SequenceEqual(shape))
            throw new KernelException($"{op}: '{name}' {t.ShapeText} cannot be broadcast to {ShapeText(shape)}");
        var v = ElementConvert.ToDoubles(t);
        var map = Broadcast.SourceIndices(t.Shape, shape);
        return map.Select(i => v[i]).ToArray();
    }
}

/// <summary>
/// BatchNormalization (opset 6-15). Inference: Y = (X - mean) / sqrt(var + epsilon) * scale + B per channel
/// (dim 1). training_mode = 1 (opset 14+): normalises with the batch statistics (mean and population variance
/// over all dims but 1) and outputs running_mean = mean * momentum + batch_mean * (1 - momentum), likewise
/// running_var. In double; each output rounded once.
/// </summary>
internal sealed class BatchNormalizationKernel(float epsilon, float momentum, bool training) : IKernel
{
    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        const string op = "BatchNormalization";
        var x = Required(inputs, 0, op, "X");
        RequireFloat(x, op, "X");
        if (x.Rank < 2) throw new KernelException($"{op}: X must have rank >= 2 ([N, C, ...]), got {x.ShapeText}");
        long c = x.Shape[1];
        var scale = NormalizationHelpers.Channel(Required(inputs, 1, op, "scale"), c, op, "scale");
        var bias = NormalizationHelpers.Channel(Required(inputs, 2, op, "B"), c, op, "B");
        var meanT = Required(inputs, 3, op, "input_mean");
        var varT = Required(inputs, 4, op, "input_var");
        var mean = NormalizationHelpers.Channel(meanT, c, op, "input_mean");
        var var = NormalizationHelpers.Channel(varT, c, op, "input_var");
        var xv = ElementConvert.ToDoubles(x);
        long inner = Product(x.Shape[2..]);
        double[] useMean = mean, useVar = var;
        if (training)
        {
            var reduced = x.Shape.Select((_, i) => i != 1).ToArray();
            var groups = NormalizationHelpers.Groups(x.Shape, reduced, out long gc);
            (useMean, useVar) = NormalizationHelpers.Moments(xv, groups, gc);
        }
        var y = new double[xv.Length];
        for (long i = 0; i < xv.Length; i++)
        {
            long ch = i / inner % c;
            y[i] = (xv[i] - useMean[ch]) / Math.Sqrt(useVar[ch] + epsilon) * scale[ch] + bias[ch];
        }
        outputs[0] = ElementConvert.FromDoubles(x.Type, x.Shape, y);
        if (training)
        {
            double m = momentum;
            if (outputs.Length > 1)
                outputs[1] = ElementConvert.FromDoubles(meanT.Type, meanT.Shape, mean.Select((v, i) => v * m + useMean[i] * (1 - m)).ToArray());
            if (outputs.Length > 2)
                outputs[2] = ElementConvert.FromDoubles(varT.Type, varT.Shape, var.Select((v, i) => v * m + useVar[i] * (1 - m)).ToArray());
        }
    }
}

/// <summary>
/// LayerNormalization (opset 17): normalises over the dims from <c>axis</c> on; Y = (X - mean) * InvStdDev *
/// Scale + B with Scale and B broadcast to X. Optional outputs Mean and InvStdDev have X's leading dims and 1
/// for the normalised ones, in the stash type. In double, rounded once.
/// </summary>
internal sealed class LayerNormalizationKernel(long axis, float epsilon, ElementType stash) : IKernel
{
    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        const string op = "LayerNormalization";
        var x = Required(inputs, 0, op, "X");
        RequireFloat(x, op, "X");
        int ax = Axis(axis, x.Rank, op);
        var scale = NormalizationHelpers.BroadcastTo(Required(inputs, 1, op, "Scale"), x.Shape, op, "Scale");
        var bias = Optional(inputs, 2) is { } b ? NormalizationHelpers.BroadcastTo(b, x.Shape, op, "B") : null;
        var xv = ElementConvert.ToDoubles(x);
        var reduced = x.Shape.Select((_, i) => i >= ax).ToArray();
        var groups = NormalizationHelpers.Groups(x.Shape, reduced, out long gc);
        var (mean, var) = NormalizationHelpers.Moments(xv, groups, gc);
        var inv = var.Select(v => 1 / Math.Sqrt(v + epsilon)).ToArray();
        var y = new double[xv.Length];
        for (long i = 0; i < xv.Length; i++)
        {
            long g = groups[i];
            y[i] = (xv[i] - mean[g]) * inv[g] * scale[i] + (bias is null ? 0 : bias[i]);
        }
        outputs[0] = ElementConvert.FromDoubles(x.Type, x.Shape, y);
        var statShape = x.Shape.Select((d, i) => i >= ax ? 1 : d).ToArray();
        if (outputs.Length > 1) outputs[1] = ElementConvert.FromDoubles(stash, statShape, mean);
        if (outputs.Length > 2) outputs[2] = ElementConvert.FromDoubles(stash, statShape, inv);
    }
}

/// <summary>InstanceNormalization (opset 6): per (n, c) over the spatial dims; y = scale[c] * (x - mean) / sqrt(var + epsilon) + B[c].</summary>
internal sealed class InstanceNormalizationKernel(float epsilon) : IKernel
{
    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        const string op = "InstanceNormalization";
        var x = Required(inputs, 0, op, "input");
        RequireFloat(x, op, "input");
        if (x.Rank < 3) throw new KernelException($"{op}: input must have rank >= 3 ([N, C, spatial...]), got {x.ShapeText}");
        long c = x.Shape[1];
        var scale = NormalizationHelpers.Channel(Required(inputs, 1, op, "scale"), c, op, "scale");
        var bias = NormalizationHelpers.Channel(Required(inputs, 2, op, "B"), c, op, "B");
        var xv = ElementConvert.ToDoubles(x);
        var groups = NormalizationHelpers.Groups(x.Shape, x.Shape.Select((_, i) => i >= 2).ToArray(), out long gc);
        var (mean, var) = NormalizationHelpers.Moments(xv, groups, gc);
        var y = new double[xv.Length];
        for (long i = 0; i < xv.Length; i++)
        {
            long g = groups[i], ch = g % c;
            y[i] = scale[ch] * (xv[i] - mean[g]) / Math.Sqrt(var[g] + epsilon) + bias[ch];
        }
        outputs[0] = ElementConvert.FromDoubles(x.Type, x.Shape, y);
    }
}

/// <summary>
/// GroupNormalization (opset 18, 21): the C channels split into num_groups groups; statistics per (n, group)
/// over the group's channels and all spatial dims. Opset 18: scale and bias have one value per group;
/// opset 21: one per channel.
/// </summary>
internal sealed class GroupNormalizationKernel(long groups, float epsilon, bool perChannel) : IKernel
{
    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        const string op = "GroupNormalization";
        var x = Required(inputs, 0, op, "X");
        RequireFloat(x, op, "X");
        if (x.Rank < 2) throw new KernelException($"{op}: X must have rank >= 2 ([N, C, ...]), got {x.ShapeText}");
        long n = x.Shape[0], c = x.Shape[1], inner = Product(x.Shape[2..]);
        if (c % groups != 0) throw new KernelException($"{op}: {c} channels cannot be split into num_groups = {groups} groups");
        long paramCount = perChannel ? c : groups;
        var scaleT = Required(inputs, 1, op, "scale");
        var biasT = Required(inputs, 2, op, "bias");
        foreach (var (t, name) in new[] { (scaleT, "scale"), (biasT, "bias") })
            if (t.Length != paramCount)
                throw new KernelException($"{op}: '{name}' {t.ShapeText} must have {paramCount} elements (one per {(perChannel ? "channel, opset 21" : "group, opset 18")})");
        var scale = NormalizationHelpers.Channel(scaleT, paramCount, op, "scale");
        var bias = NormalizationHelpers.Channel(biasT, paramCount, op, "bias");
        var xv = ElementConvert.ToDoubles(x);
        long cpg = c / groups;
        // Group of element i: (n, channel / cpg).
        var group = new long[xv.Length];
        for (long i = 0; i < xv.Length; i++)
        {
            long ch = i / inner % c, b = i / (inner * c);
            group[i] = b * groups + ch / cpg;
        }
        var (mean, var) = NormalizationHelpers.Moments(xv, group, n * groups);
        var y = new double[xv.Length];
        for (long i = 0; i < xv.Length; i++)
        {
            long ch = i / inner % c, g = group[i];
            long pi = perChannel ? ch : ch / cpg;
            y[i] = (xv[i] - mean[g]) / Math.Sqrt(var[g] + epsilon) * scale[pi] + bias[pi];
        }
        outputs[0] = ElementConvert.FromDoubles(x.Type, x.Shape, y);
    }
}

/// <summary>LpNormalization (opset 1): x / ||x||_p along <c>axis</c>, p = 1 or 2 (a zero norm gives NaN, as x / 0).</summary>
internal sealed class LpNormalizationKernel(long axis, long p) : IKernel
{
    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        const string op = "LpNormalization";
        var x = Required(inputs, 0, op, "input");
        RequireFloat(x, op, "input");
        int ax = Axis(axis, x.Rank, op);
        var xv = ElementConvert.ToDoubles(x);
        var groups = NormalizationHelpers.Groups(x.Shape, x.Shape.Select((_, i) => i == ax).ToArray(), out long gc);
        var norm = new double[gc];
        for (long i = 0; i < xv.Length; i++) norm[groups[i]] += p == 1 ? Math.Abs(xv[i]) : xv[i] * xv[i];
        if (p == 2) for (long g = 0; g < gc; g++) norm[g] = Math.Sqrt(norm[g]);
        outputs[0] = ElementConvert.FromDoubles(x.Type, x.Shape, xv.Select((v, i) => v / norm[groups[i]]).ToArray());
    }
}

/// <summary>MeanVarianceNormalization (opset 9, 13): (X - mean) / (sqrt(variance) + 1e-9) over <c>axes</c> (default [0, 2, 3]).</summary>
internal sealed class MeanVarianceNormalizationKernel(long[] axes) : IKernel
{
    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        const string op = "MeanVarianceNormalization";
        var x = Required(inputs, 0, op, "X");
        RequireFloat(x, op, "X");
        var reduced = new bool[x.Rank];
        foreach (var a in axes) reduced[Axis(a, x.Rank, op, "axes entry")] = true;
        var xv = ElementConvert.ToDoubles(x);
        var groups = NormalizationHelpers.Groups(x.Shape, reduced, out long gc);
        var (mean, var) = NormalizationHelpers.Moments(xv, groups, gc);
        outputs[0] = ElementConvert.FromDoubles(x.Type, x.Shape,
            xv.Select((v, i) => (v - mean[groups[i]]) / (Math.Sqrt(var[groups[i]]) + 1e-9)).ToArray());
    }
}
