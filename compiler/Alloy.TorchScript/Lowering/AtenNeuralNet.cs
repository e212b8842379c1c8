using Alloy.IR;

namespace Alloy.TorchScript.Lowering;

/// <summary>Convolution, normalisation, pooling and linear layers.</summary>
internal sealed partial class Lowerer
{
    private TensorValue Linear(TensorValue x, TensorValue w, TensorValue? bias)
    {
        var wt = w.Ir.Kind == ValueKind.Constant && w.Ir.Constant is { Dims.Length: 2 } ? TransposedConstant(w) : Transpose(w, 0, 1);
        if (x.Rank == 2 && bias is not null && wt.Ir.Kind == ValueKind.Constant)
            return _b.Emit("Gemm", [x.Ir, wt.Ir, bias.Ir], null, x.Type, [x.Shape![0], wt.Shape![1]]);
        var y = MatMul(x, wt);
        return bias is null ? y : _b.Emit("Add", [y.Ir, bias.Ir], null, y.Type, y.Shape);
    }

    private static Dim ConvDim(Dim input, long k, long s, long p0, long p1, long d, bool ceil = false)
    {
        if (input.Size is not { } n) return Dim.Unknown;
        long span = n + p0 + p1 - d * (k - 1) - 1;
        if (span < 0) return Dim.Unknown;
        long o = (ceil ? (span + s - 1) / s : span / s) + 1;
        // torch: the last window must start inside the input or its left padding.
        if (ceil && (o - 1) * s >= n + p0) o--;
        return Dim.Of(o);
    }

    private TensorValue Convolution(AtenArgs a, bool transposedArg)
    {
        var x = a.Tensor(0, "input");
        var w = a.Tensor(1, "weight");
        var bias = a.OptionalTensor(2, "bias");
        int spatial = RequireRank(w, "convolution") - 2;
        RefineRank(x, spatial + 2);
        var stride = a.Ints(3, "stride", spatial, [1]);
        long[] pads;
        long[] dilation;
        long groups;
        if (transposedArg)
        {
            pads = a.Ints(4, "padding", spatial);
            dilation = a.Ints(5, "dilation", spatial);
            bool transposed = a.Bool(6, "transposed");
            var outputPadding = a.Ints(7, "output_padding", spatial);
            groups = a.Int(8, "groups");
            if (transposed) return EmitConvTranspose(x, w, bias, stride, pads, dilation, outputPadding, groups);
        }
        else
        {
            dilation = a.Ints(5, "dilation", spatial, [1]);
            groups = a.Int(6, "groups", 1);
            var padArg = a.Get(4, "padding", 0L);
            if (padArg is string mode)
            {
                if (mode == "valid") pads = new long[spatial];
                else if (mode == "same")
                {
                    var k = w.Shape!.Skip(2).Select(d => d.Size!.Value).ToArray();
                    pads = new long[2 * spatial];
                    var total = k.Select((kk, i) => dilation[i] * (kk - 1)).ToArray();
                    var before = total.Select(t => t / 2).ToArray();
                    var after = total.Select((t, i) => t - before[i]).ToArray();
                    return EmitConv(x, w, bias, stride, [.. before, .. after], dilation, groups);
                }
                else throw Fail($"aten::{a.Op}: padding='{mode}' is not supported");
            }
            else pads = KnownInts(padArg, spatial, "padding");
        }
        if (stride.Length == 1 && spatial > 1) stride = Enumerable.Repeat(stride[0], spatial).ToArray();
        if (dilation.Length == 1 && spatial > 1) dilation = Enumerable.Repeat(dilation[0], spatial).ToArray();
        if (pads.Length == 1 && spatial > 1) pads = Enumerable.Repeat(pads[0], spatial).ToArray();
        return EmitConv(x, w, bias, stride, [.. pads, .. pads], dilation, groups);
    }

    private TensorValue EmitConv(TensorValue x, TensorValue w, TensorValue? bias, long[] stride, long[] pads, long[] dilation, long groups)
    {
        int spatial = w.Rank!.Value - 2;
        var k = w.Shape!.Skip(2).Select(d => d.Size ?? throw Fail("convolution weights with run-time kernel sizes are not supported")).ToArray();
        Dim[]? shape = null;
        if (x.Shape is { } xs)
        {
            shape = new Dim[spatial + 2];
            shape[0] = xs[0];
            shape[1] = w.Shape![0];
            for (int i = 0; i < spatial; i++) shape[2 + i] = ConvDim(xs[2 + i], k[i], stride[i], pads[i], pads[spatial + i], dilation[i]);
        }
        var attrs = new List<Attr>
        {
            Attr.Ints("dilations", dilation), Attr.Int("group", groups), Attr.Ints("kernel_shape", k),
            Attr.Ints("pads", pads), Attr.Ints("strides", stride),
        };
        return _b.Emit("Conv", bias is null ? [x.Ir, w.Ir] : [x.Ir, w.Ir, bias.Ir], attrs, x.Type, shape);
    }

    private TensorValue ConvTranspose(AtenArgs a)
    {
        var x = a.Tensor(0, "input");
        var w = a.Tensor(1, "weight");
        int spatial = RequireRank(w, "conv_transpose") - 2;
        RefineRank(x, spatial + 2);
        return EmitConvTranspose(x, w, a.OptionalTensor(2, "bias"), a.Ints(3, "stride", spatial, [1]), a.Ints(4, "padding", spatial, [0]),
            a.Ints(7, "dilation", spatial, [1]), a.Ints(5, "output_padding", spatial, [0]), a.Int(6, "groups", 1));
    }

    private TensorValue EmitConvTranspose(TensorValue x, TensorValue w, TensorValue? bias, long[] stride, long[] pads, long[] dilation, long[] outputPadding, long groups)
    {
        int spatial = w.Rank!.Value - 2;
        long[] Expand(long[] v) => v.Length == 1 && spatial > 1 ? Enumerable.Repeat(v[0], spatial).ToArray() : v;
        stride = Expand(stride);
        pads = Expand(pads);
        dilation = Expand(dilation);
        outputPadding = Expand(outputPadding);
        var k = w.Shape!.Skip(2).Select(d => d.Size!.Value).ToArray();
        Dim[]? shape = null;
        if (x.Shape is { } xs)
        {
            shape = new Dim[spatial + 2];
            shape[0] = xs[0];
            shape[1] = w.Shape![1].Size is { } c ? Dim.Of(c * groups) : Dim.Unknown;
            for (int i = 0; i < spatial; i++)
                shape[2 + i] = xs[2 + i].Size is { } n ? Dim.Of((n - 1) * stride[i] - 2 * pads[i] + dilation[i] * (k[i] - 1) + outputPadding[i] + 1) : Dim.Unknown;
        }
        var attrs = new List<Attr>
        {
            Attr.Ints("dilations", dilation), Attr.Int("group", groups), Attr.Ints("kernel_shape", k),
            Attr.Ints("output_padding", outputPadding), Attr.Ints("pads", [.. pads, .. pads]), Attr.Ints("strides", stride),
        };
        return _b.Emit("ConvTranspose", bias is null ? [x.Ir, w.Ir] : [x.Ir, w.Ir, bias.Ir], attrs, x.Type, shape);
    }

    private TensorValue BatchNorm(AtenArgs a)
    {
        var x = a.Tensor(0, "input");
        var weight = a.OptionalTensor(1, "weight");
        var bias = a.OptionalTensor(2, "bias");
        var mean = a.OptionalTensor(3, "running_mean");
        var variance = a.OptionalTensor(4, "running_var");
        if (a.Bool(5, "training")) throw Fail("aten::batch_norm with training=True: the model was saved in training mode; call model.eval() before saving");
        if (mean is null || variance is null) throw Fail("aten::batch_norm without running statistics is not supported");
        double eps = a.Float(7, "eps");
        long c = mean.Shape![0].Size!.Value;
        weight ??= ConstantTensor(x.Type, [c], 1, "bn_scale");
        bias ??= ConstantTensor(x.Type, [c], 0, "bn_bias");
        return _b.Emit("BatchNormalization", [x.Ir, weight.Ir, bias.Ir, mean.Ir, variance.Ir], [Attr.Float("epsilon", (float)eps)], x.Type, x.Shape);
    }

    private TensorValue LayerNorm(AtenArgs a)
    {
        var x = a.Tensor(0, "input");
        var normalized = a.Ints(1, "normalized_shape", 1);
        var weight = a.OptionalTensor(2, "weight") ?? ConstantTensor(x.Type, normalized, 1, "ln_scale");
        var bias = a.OptionalTensor(3, "bias") ?? ConstantTensor(x.Type, normalized, 0, "ln_bias");
        double eps = a.Float(4, "eps", 1e-5);
        return _b.Emit("LayerNormalization", [x.Ir, weight.Ir, bias.Ir], [Attr.Int("axis", -normalized.Length), Attr.Float("epsilon", (float)eps)], x.Type, x.Shape);
    }

    private TensorValue GroupNorm(AtenArgs a)
    {
        // Normalise over (C/G, spatial) per group: reshape to [N, G, -1], normalise the last axis, reshape back, scale per channel.
        var x = a.Tensor(0, "input");
        long groups = a.Int(1, "num_groups");
        var weight = a.OptionalTensor(2, "weight");
        var bias = a.OptionalTensor(3, "bias");
        double eps = a.Float(4, "eps", 1e-5);
        int r = RequireRank(x, "group_norm");
        var grouped = Reshape(x, [Size(x, 0), groups, -1L]);
        var one = ConstantTensor(x.Type, [1], 1, "gn_one");
        var zero = ConstantTensor(x.Type, [1], 0, "gn_zero");
        var norm = _b.Emit("LayerNormalization", [grouped.Ir, one.Ir, zero.Ir], [Attr.Int("axis", -1), Attr.Float("epsilon", (float)eps)], x.Type, grouped.Shape);
        var back = Reshape(norm, SizeList(x));
        var channelShape = Enumerable.Range(0, r - 1).Select(i => i == 0 ? (object?)-1L : 1L).ToList();
        TensorValue y = back;
        if (weight is not null) y = Elementwise("Mul", y, Reshape(weight, channelShape));
        if (bias is not null) y = Elementwise("Add", y, Reshape(bias, channelShape));
        return y;
    }

    private TensorValue InstanceNorm(AtenArgs a)
    {
        var x = a.Tensor(0, "input");
        var weight = a.OptionalTensor(1, "weight");
        var bias = a.OptionalTensor(2, "bias");
        if (a.OptionalTensor(3, "running_mean") is not null && !a.Bool(5, "use_input_stats"))
            throw Fail("aten::instance_norm with running statistics (use_input_stats=False) is not supported");
        double eps = a.Float(7, "eps", 1e-5);
        var c = Size(x, 1) as long? ?? throw Fail("aten::instance_norm needs a known channel count");
        weight ??= ConstantTensor(x.Type, [c], 1, "in_scale");
        bias ??= ConstantTensor(x.Type, [c], 0, "in_bias");
        return _b.Emit("InstanceNormalization", [x.Ir, weight.Ir, bias.Ir], [Attr.Float("epsilon", (float)eps)], x.Type, x.Shape);
    }

    private TensorValue MaxPool(AtenArgs a)
    {
        var x = a.Tensor(0, "self");
        int spatial = a.Op[^2] - '0';
        RefineRank(x, spatial + 2);
        var k = a.Ints(1, "kernel_size", spatial);
        var s = a.Ints(2, "stride", spatial, []);
        if (s.Length == 0) s = k;
        var p = a.Ints(3, "padding", spatial, [0]);
        var d = a.Ints(4, "dilation", spatial, [1]);
        bool ceil = a.Bool(5, "ceil_mode", false);
        return EmitPool("MaxPool", x, k, s, p, d, ceil, [Attr.Ints("dilations", Fill(d, spatial))]);
    }

    private TensorValue AvgPool(AtenArgs a)
    {
        var x = a.Tensor(0, "self");
        int spatial = a.Op[^2] - '0';
        RefineRank(x, spatial + 2);
        var k = a.Ints(1, "kernel_size", spatial);
        var s = a.Ints(2, "stride", spatial, []);
        if (s.Length == 0) s = k;
        var p = a.Ints(3, "padding", spatial, [0]);
        bool ceil = a.Bool(4, "ceil_mode", false);
        bool includePad = a.Bool(5, "count_include_pad", true);
        if (a.Get(6, "divisor_override", null) is not null) throw Fail($"aten::{a.Op} with divisor_override is not supported");
        return EmitPool("AveragePool", x, k, s, p, [1], ceil, [Attr.Int("count_include_pad", includePad ? 1 : 0)]);
    }

    private static long[] Fill(long[] v, int n) => v.Length == 1 && n > 1 ? Enumerable.Repeat(v[0], n).ToArray() : v;

    private TensorValue EmitPool(string op, TensorValue x, long[] k, long[] s, long[] p, long[] d, bool ceil, List<Attr> extra)
    {
        int spatial = RequireRank(x, op) - 2;
        k = Fill(k, spatial);
        s = Fill(s, spatial);
        p = Fill(p, spatial);
        d = Fill(d, spatial);
        var shape = x.Shape!.ToArray();
        for (int i = 0; i < spatial; i++) shape[2 + i] = ConvDim(x.Shape![2 + i], k[i], s[i], p[i], p[i], d[i], ceil);
        var attrs = new List<Attr> { Attr.Int("ceil_mode", ceil ? 1 : 0) };
        attrs.AddRange(extra);
        attrs.Add(Attr.Ints("kernel_shape", k));
        attrs.Add(Attr.Ints("pads", [.. p, .. p]));
        attrs.Add(Attr.Ints("strides", s));
        return _b.Emit(op, [x.Ir], attrs, x.Type, shape);
    }

    private TensorValue AdaptiveAvgPool(AtenArgs a)
    {
        var x = a.Tensor(0, "self");
        int spatial = a.Op[^2] - '0';
        RefineRank(x, spatial + 2);
        var output = a.Ints(1, "output_size", spatial);
        output = Fill(output, spatial);
        if (output.All(o => o == 1))
        {
            var shape = x.Shape!.Take(2).Concat(Enumerable.Repeat(Dim.Of(1), spatial)).ToArray();
            return _b.Emit("GlobalAveragePool", [x.Ir], null, x.Type, shape);
        }
        var input = x.Shape!.Skip(2).Select(d => d.Size).ToArray();
        if (input.Any(n => n is null) || input.Select((n, i) => n!.Value % output[i]).Any(r => r != 0))
            throw Fail($"aten::{a.Op} to [{string.Join(",", output)}] needs input sizes known at import time and divisible by the output size");
        var k = input.Select((n, i) => n!.Value / output[i]).ToArray();
        return EmitPool("AveragePool", x, k, k, [0], [1], false, []);
    }
}
