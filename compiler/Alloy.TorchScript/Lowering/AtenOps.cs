using Alloy.IR;
using Alloy.TorchScript.Pickle;

namespace Alloy.TorchScript.Lowering;

/// <summary>The aten op table: each <c>torch.X</c> call on known values is folded, on tensors it becomes IR nodes.</summary>
internal sealed partial class Lowerer
{
    private const long Int64Max = long.MaxValue;

    /// <summary>The aten ops this lowering maps (for docs and messages).</summary>
    public static readonly string[] SupportedOps =
    [
        "_convolution", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "linear", "addmm", "matmul", "mm", "bmm",
        "batch_norm", "layer_norm", "group_norm", "instance_norm", "relu", "relu_", "relu6", "gelu", "silu", "silu_", "sigmoid", "sigmoid_",
        "tanh", "tanh_", "hardswish", "hardswish_", "hardsigmoid", "hardsigmoid_", "hardtanh", "hardtanh_", "elu", "elu_", "leaky_relu",
        "leaky_relu_", "softmax", "log_softmax", "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d",
        "adaptive_avg_pool2d", "flatten", "view", "reshape", "permute", "transpose", "t", "contiguous", "unsqueeze", "squeeze", "cat",
        "concat", "stack", "chunk", "split", "select", "slice", "expand", "expand_as", "add", "add_", "sub", "sub_", "rsub", "mul", "mul_",
        "div", "div_", "floor_divide", "remainder", "pow", "neg", "exp", "log", "sqrt", "rsqrt", "abs", "erf", "sin", "cos", "clamp",
        "clamp_", "clip", "maximum", "minimum", "where", "eq", "ne", "lt", "gt", "le", "ge", "mean", "sum", "amax", "argmax", "dropout",
        "dropout_", "feature_dropout", "alpha_dropout", "detach", "clone", "to", "type_as", "embedding", "lstm", "gru", "zeros", "ones", "full",
        "zeros_like", "ones_like", "size", "dim", "len", "numel", "Int", "Float", "floordiv", "floor", "ceil", "__is__", "__isnot__",
        "__not__", "format", "device", "append", "warn", "logical_not", "is_floating_point", "is_grad_enabled", "is_autocast_enabled", "any", "all", "find", "_autocast_to_reduced_precision", "_autocast_to_full_precision",
    ];

    private object? Aten(AtenArgs a)
    {
        var p = a.Positional;
        switch (a.Op)
        {
            // ---- Python-level helpers ----
            case "format": return Format([.. p]);
            case "device": return new DeviceValue(p.Count > 0 ? p[0] as string ?? "cpu" : "cpu");
            case "warn": return null;
            case "__is__": return IsSame(p[0], p[1]);
            case "__isnot__": return !IsSame(p[0], p[1]);
            case "__not__": return TryTruth(p[0]) is bool t ? !t : Not(p[0]);
            case "append":
                (p[0] as List<object?> ?? throw Fail("aten::append on a non-list")).Add(p[1]);
                return p[0];
            case "len": return Len(p[0]);
            // Lowering follows the composite (autograd-capable) path of modules that check for a fused inference kernel.
            case "is_grad_enabled": return true;
            case "is_autocast_enabled" or "is_autocast_cpu_enabled" or "is_scripting" or "_is_tracing": return a.Op == "is_scripting";
            case "is_floating_point": return ScalarTypes.IsFloat(a.Tensor(0, "self").Type);
            case "any" when p[0] is List<object?> bools: return bools.Any(b => TryTruth(b) ?? throw Fail("aten::any over run-time values is not supported"));
            case "all" when p[0] is List<object?> bools: return bools.All(b => TryTruth(b) ?? throw Fail("aten::all over run-time values is not supported"));
            case "find" when p[0] is string hay && p[1] is string needle:
            {
                long start = a.Int(2, "start", 0), end = Math.Min(a.Int(3, "end", hay.Length), hay.Length);
                int at = start <= end ? hay.IndexOf(needle, (int)start, (int)(end - start), StringComparison.Ordinal) : -1;
                return (long)at;
            }
            case "logical_not": return Not(a.Tensor(0, "self"));
            case "dim": return (long)RequireRank(a.Tensor(0, "self"), "dim");
            case "numel":
            {
                var self = a.Tensor(0, "self");
                object n = 1L;
                foreach (var s in SizeList(self)) n = Binary("*", n, s)!;
                return n;
            }
            case "size":
                return a.Has(1, "dim") ? Size(a.Tensor(0, "self"), a.Int(1, "dim")) : SizeList(a.Tensor(0, "self"));
            case "Int": return ToInt(p[0]);
            case "Float": return ToFloat(p[0]);
            case "floordiv": return Binary("//", p[0], p[1]);
            case "sqrt" or "exp" or "log" when p.Count == 1 && p[0] is long or double:
            {
                double v = ToDouble(p[0]);
                return a.Op switch { "sqrt" => Math.Sqrt(v), "exp" => Math.Exp(v), _ => Math.Log(v) };
            }
            case "abs" or "neg" when p.Count == 1 && p[0] is long or double:
                return a.Op == "neg" ? Negate(p[0]) : p[0] is long l0 ? Math.Abs(l0) : Math.Abs((double)p[0]!);
            case "__contains__": return Contains(p[0], p[1]);
            case "floor" when p[0] is not TensorValue: return p[0] is double fl ? (long)Math.Floor(fl) : ToInt(p[0]);
            case "ceil" when p[0] is not TensorValue: return p[0] is double ce ? (long)Math.Ceiling(ce) : ToInt(p[0]);

            // ---- arithmetic (numbers fold; tensors become nodes) ----
            case "add" or "add_" or "sub" or "sub_" or "rsub":
            {
                var x = p[0];
                var y = a.Get(1, "other");
                var alpha = a.Get(2, "alpha", 1L);
                if (a.Op == "rsub") (x, y) = (y, x);
                bool sub = a.Op.StartsWith("sub", StringComparison.Ordinal) || a.Op == "rsub";
                bool unitAlpha = alpha is 1L || alpha is 1.0;
                if (x is TensorValue || y is TensorValue)
                {
                    // add / sub: x ± alpha·y; rsub(self, other): other − alpha·self (swapped above).
                    if (!unitAlpha) y = y is TensorValue ? Elementwise("Mul", y, alpha) : Binary("*", y, alpha);
                    return Elementwise(sub ? "Sub" : "Add", x, y);
                }
                if (!unitAlpha) y = Binary("*", y, alpha);
                return Binary(sub ? "-" : "+", x, y);
            }
            case "mul" or "mul_":
                return p[0] is TensorValue || p[1] is TensorValue ? Elementwise("Mul", p[0], p[1]) : Binary("*", p[0], p[1]);
            case "div" or "div_":
            {
                var mode = a.String(2, "rounding_mode");
                if (p[0] is not TensorValue && p[1] is not TensorValue)
                {
                    if (mode is null) return Binary("/", p[0], p[1]);
                    if (mode == "floor") return Binary("//", p[0], p[1]);
                    // trunc
                    if (p[0] is long x && p[1] is long y) return y == 0 ? throw Fail("integer division by zero") : x / y;
                    var q = Binary("/", p[0], p[1]);
                    return q is double dq ? Math.Truncate(dq) : ToInt(q);
                }
                if (mode is null) return Elementwise("Div", p[0], p[1], trueDivide: true);
                var (n, m) = Operands(p[0], p[1]);
                var div = _b.Emit("Div", [n.Ir, m.Ir], null, n.Type, GraphBuilder.Broadcast(n.Shape, m.Shape));
                if (!ScalarTypes.IsFloat(n.Type))
                    return mode == "trunc" ? div : throw Fail("aten::div with rounding_mode='floor' on integer tensors is not supported");
                if (mode == "floor") return Unary("Floor", div);
                var sign = Unary("Sign", div);
                return _b.Emit("Mul", [sign.Ir, Unary("Floor", Unary("Abs", div)).Ir], null, div.Type, div.Shape);
            }
            case "floor_divide":
                if (p[0] is not TensorValue && p[1] is not TensorValue) return Binary("//", p[0], p[1]);
                return Unary("Floor", Elementwise("Div", p[0], p[1]));
            case "remainder":
                if (p[0] is not TensorValue && p[1] is not TensorValue) return Binary("%", p[0], p[1]);
            {
                var (x, y) = Operands(p[0], p[1]);
                return _b.Emit("Mod", [x.Ir, y.Ir], [Attr.Int("fmod", ScalarTypes.IsFloat(x.Type) ? 1 : 0)], x.Type, GraphBuilder.Broadcast(x.Shape, y.Shape));
            }
            case "pow":
                return p[0] is TensorValue || p[1] is TensorValue ? Elementwise("Pow", p[0], p[1]) : Binary("**", p[0], p[1]);
            case "maximum": return Elementwise("Max", p[0], p[1]);
            case "minimum": return Elementwise("Min", p[0], p[1]);
            case "eq" or "ne" or "lt" or "gt" or "le" or "ge":
            {
                var op = a.Op switch { "eq" => "==", "ne" => "!=", "lt" => "<", "gt" => ">", "le" => "<=", _ => ">=" };
                return Binary(op, p[0], p[1]);
            }
            case "where":
            {
                var c = CastTo(a.Tensor(0, "condition"), DataType.Bool);
                var (x, y) = Operands(p[1], p[2]);
                return _b.Emit("Where", [c.Ir, x.Ir, y.Ir], null, x.Type, GraphBuilder.Broadcast(c.Shape, GraphBuilder.Broadcast(x.Shape, y.Shape)));
            }

            // ---- unary ----
            case "relu" or "relu_": return Unary("Relu", a.Tensor(0, "self"));
            case "sigmoid" or "sigmoid_": return Unary("Sigmoid", a.Tensor(0, "self"));
            case "tanh" or "tanh_": return Unary("Tanh", a.Tensor(0, "self"));
            case "exp" or "exp_": return Unary("Exp", a.Tensor(0, "self"));
            case "log" or "log_": return Unary("Log", a.Tensor(0, "self"));
            case "sqrt" or "sqrt_": return Unary("Sqrt", a.Tensor(0, "self"));
            case "rsqrt": return Unary("Reciprocal", Unary("Sqrt", a.Tensor(0, "self")));
            case "neg" or "neg_": return Unary("Neg", a.Tensor(0, "self"));
            case "abs" or "abs_": return Unary("Abs", a.Tensor(0, "self"));
            case "erf": return Unary("Erf", a.Tensor(0, "self"));
            case "sin": return Unary("Sin", a.Tensor(0, "self"));
            case "cos": return Unary("Cos", a.Tensor(0, "self"));
            case "floor": return Unary("Floor", a.Tensor(0, "self"));
            case "ceil": return Unary("Ceil", a.Tensor(0, "self"));
            case "hardswish" or "hardswish_": return Unary("HardSwish", a.Tensor(0, "self"));
            case "hardsigmoid" or "hardsigmoid_": return Unary("HardSigmoid", a.Tensor(0, "self"), Attr.Float("alpha", 1f / 6), Attr.Float("beta", 0.5f));
            case "relu6": return Clip(a.Tensor(0, "self"), 0.0, 6.0);
            case "hardtanh" or "hardtanh_": return Clip(a.Tensor(0, "self"), a.Float(1, "min_val", -1), a.Float(2, "max_val", 1));
            case "clamp" or "clamp_" or "clip":
            {
                var lo = a.Get(1, "min", null);
                var hi = a.Get(2, "max", null);
                var x = a.Tensor(0, "self");
                return _b.Emit("Clip", [x.Ir, lo is null ? null : Convert(lo, x.Type).Ir, hi is null ? null : Convert(hi, x.Type).Ir], null, x.Type, x.Shape);
            }
            case "elu" or "elu_":
            {
                var x = a.Tensor(0, "self");
                double alpha = a.Float(1, "alpha", 1), scale = a.Float(2, "scale", 1), inScale = a.Float(3, "input_scale", 1);
                if (scale != 1 || inScale != 1) throw Fail($"aten::elu with scale {scale} / input_scale {inScale} is not supported");
                return Unary("Elu", x, Attr.Float("alpha", (float)alpha));
            }
            case "leaky_relu" or "leaky_relu_":
                return Unary("LeakyRelu", a.Tensor(0, "self"), Attr.Float("alpha", (float)a.Float(1, "negative_slope", 0.01)));
            case "silu" or "silu_":
            {
                var x = a.Tensor(0, "self");
                return _b.Emit("Mul", [x.Ir, Unary("Sigmoid", x).Ir], null, x.Type, x.Shape);
            }
            case "gelu": return Gelu(a.Tensor(0, "self"), a.String(1, "approximate") ?? "none");
            case "softmax" or "log_softmax":
            {
                var x = a.Tensor(0, "self");
                var dtype = a.DType(2, "dtype");
                if (dtype is { } dt) x = CastTo(x, dt);
                return Unary(a.Op == "softmax" ? "Softmax" : "LogSoftmax", x, Attr.Int("axis", a.Int(1, "dim")));
            }

            // ---- identities in inference ----
            case "dropout" or "dropout_" or "feature_dropout" or "alpha_dropout" or "feature_alpha_dropout":
                if (a.Bool(2, "train")) throw Fail($"aten::{a.Op} with train=True: the model was saved in training mode; call model.eval() before saving");
                return a.Tensor(0, "input");
            case "contiguous" or "detach" or "clone" or "detach_":
                return a.Tensor(0, "self");
            case "_autocast_to_reduced_precision":
            {
                var x = a.Tensor(0, "self");
                var cpuType = a.DType(4, "cpu_dtype") ?? DataType.BFloat16;
                return a.Bool(2, "cpu_enabled") ? new TensorValue(x.Ir, x.Type, x.Shape) { Precision = ScalarTypes.PrecisionName(cpuType) } : x;
            }
            case "_autocast_to_full_precision":
            {
                var x = a.Tensor(0, "self");
                return a.Bool(2, "cpu_enabled") ? new TensorValue(x.Ir, x.Type, x.Shape) { Precision = "fp32" } : x;
            }
            case "to":
            {
                var x = a.Tensor(0, "self");
                foreach (var v in p.Skip(1).Concat(a.Keywords.Where(k => k.Key == "dtype").Select(k => k.Value)))
                    if (v is long code && ScalarTypes.FromCode(code) is { } target) return CastTo(x, target);
                return x;
            }
            case "type_as": return CastTo(a.Tensor(0, "self"), a.Tensor(1, "other").Type);

            // ---- shape ops ----
            case "view" or "reshape":
                return Reshape(a.Tensor(0, "self"), IntList(a.Get(1, a.Op == "view" ? "size" : "shape"), 1, "shape"));
            case "flatten": return Flatten(a.Tensor(0, "self"), a.Int(1, "start_dim", 0), a.Int(2, "end_dim", -1));
            case "permute": return Permute(a.Tensor(0, "self"), a.Ints(1, "dims", 0));
            case "transpose": return Transpose(a.Tensor(0, "self"), a.Int(1, "dim0"), a.Int(2, "dim1"));
            case "t":
            {
                var x = a.Tensor(0, "self");
                return RequireRank(x, "t") < 2 ? x : Transpose(x, 0, 1);
            }
            case "unsqueeze": return Unsqueeze(a.Tensor(0, "self"), a.Int(1, "dim"));
            case "squeeze": return Squeeze(a.Tensor(0, "self"), a.Has(1, "dim") ? a.Int(1, "dim") : null);
            case "cat" or "concat":
            {
                var xs = a.Tensors(0, "tensors");
                long dim = a.Int(1, "dim", 0);
                if (xs.Count == 1) return xs[0];
                var type = xs.Select(x => x.Type).Aggregate(ScalarTypes.Promote);
                xs = xs.Select(x => CastTo(x, type)).ToList();
                int r = RequireRank(xs[0], "cat");
                int axis = Axis(dim, r);
                Dim[]? shape = xs.All(x => x.Rank == r) ? [.. xs[0].Shape!] : null;
                if (shape is not null)
                    shape[axis] = xs.All(x => x.Shape![axis].IsKnown) ? Dim.Of(xs.Sum(x => x.Shape![axis].Size!.Value)) : Dim.Unknown;
                return _b.Emit("Concat", xs.Select(x => x.Ir), [Attr.Int("axis", axis)], type, shape);
            }
            case "stack":
            {
                var xs = a.Tensors(0, "tensors");
                long dim = a.Int(1, "dim", 0);
                var parts = xs.Select(x => Unsqueeze(x, dim < 0 ? dim + RequireRank(x, "stack") + 1 : dim)).ToList();
                int axis = (int)(dim < 0 ? dim + RequireRank(xs[0], "stack") + 1 : dim);
                var shape = parts[0].Shape!.ToArray();
                shape[axis] = Dim.Of(parts.Count);
                return _b.Emit("Concat", parts.Select(x => x.Ir), [Attr.Int("axis", axis)], parts[0].Type, shape);
            }
            case "chunk":
            {
                var x = a.Tensor(0, "self");
                long chunks = a.Int(1, "chunks");
                int axis = Axis(a.Int(2, "dim", 0), RequireRank(x, "chunk"));
                var total = Size(x, axis) as long? ?? throw Fail("aten::chunk along a dimension whose size is known only at run time is not supported");
                long each = (total + chunks - 1) / chunks;
                var sizes = new List<long>();
                for (long s = 0; s < total; s += each) sizes.Add(Math.Min(each, total - s));
                return SplitSizes(x, axis, sizes);
            }
            case "split" or "split_with_sizes":
            {
                var x = a.Tensor(0, "self");
                int axis = Axis(a.Int(2, "dim", 0), RequireRank(x, "split"));
                var total = Size(x, axis) as long? ?? throw Fail("aten::split along a dimension whose size is known only at run time is not supported");
                var arg = a.Get(1, "split_size");
                List<long> sizes;
                if (arg is long each)
                {
                    sizes = [];
                    for (long s = 0; s < total; s += each) sizes.Add(Math.Min(each, total - s));
                }
                else sizes = [.. KnownInts(arg, 0, "split sizes")];
                return SplitSizes(x, axis, sizes);
            }
            case "select": return Select(a.Tensor(0, "self"), a.Int(1, "dim"), a.Get(2, "index"));
            case "slice":
                return Slice(a.Tensor(0, "self"), a.Int(1, "dim", 0), a.Get(2, "start", null), a.Get(3, "end", null), a.Int(4, "step", 1));
            case "expand":
            {
                var x = a.Tensor(0, "self");
                var size = IntList(a.Get(1, "size"), 1, "size").ToList();
                int r = size.Count, xr = RequireRank(x, "expand");
                for (int i = 0; i < r; i++)
                    if (size[i] is -1L) size[i] = i - (r - xr) >= 0 ? Size(x, i - (r - xr)) : throw Fail("aten::expand: -1 for a new dimension");
                var (shape, dims) = ShapeTensor(size, allowInfer: false);
                return _b.Emit("Expand", [x.Ir, shape], null, x.Type, dims);
            }
            case "expand_as":
            {
                var x = a.Tensor(0, "self");
                var other = a.Tensor(1, "other");
                var shape = _b.Emit("Shape", [other.Ir], null, DataType.Int64, other.Rank is { } r ? [Dim.Of(r)] : null);
                return _b.Emit("Expand", [x.Ir, shape.Ir], null, x.Type, other.Shape);
            }

            // ---- reductions ----
            case "mean" or "sum" or "amax":
            {
                var x = a.Tensor(0, "self");
                var dims = a.Has(1, "dim") && a.Get(1, "dim") is not null ? a.Ints(1, "dim", 1) : null;
                bool keep = a.Bool(2, "keepdim", false);
                var dtype = a.DType(3, "dtype");
                if (dtype is { } dt) x = CastTo(x, dt);
                return Reduce(a.Op switch { "mean" => "ReduceMean", "sum" => "ReduceSum", _ => "ReduceMax" }, x, dims, keep);
            }
            case "argmax":
            {
                var x = a.Tensor(0, "self");
                var dim = a.OptionalInt(1, "dim");
                bool keep = a.Bool(2, "keepdim", false);
                if (dim is null)
                {
                    x = Reshape(x, [-1L]);
                    dim = 0;
                }
                int r = RequireRank(x, "argmax");
                int axis = Axis(dim.Value, r);
                var shape = keep ? x.Shape!.Select((d, i) => i == axis ? Dim.Of(1) : d).ToArray() : x.Shape!.Where((_, i) => i != axis).ToArray();
                return _b.Emit("ArgMax", [x.Ir], [Attr.Int("axis", axis), Attr.Int("keepdims", keep ? 1 : 0)], DataType.Int64, shape);
            }

            // ---- creation ----
            case "zeros" or "ones":
            {
                var size = IntList(a.Get(0, "size"), 1, "size");
                var dtype = a.DType(1, "dtype") ?? DataType.Float;
                return Filled(size, dtype, a.Op == "zeros" ? 0 : 1);
            }
            case "full":
            {
                var size = IntList(a.Get(0, "size"), 1, "size");
                var fill = a.Float(1, "fill_value");
                var dtype = a.DType(2, "dtype") ?? (a.Get(1, "fill_value") is long ? DataType.Int64 : DataType.Float);
                return Filled(size, dtype, fill);
            }
            case "zeros_like" or "ones_like":
            {
                var x = a.Tensor(0, "self");
                var dtype = a.DType(1, "dtype") ?? x.Type;
                return Filled(SizeList(x), dtype, a.Op == "zeros_like" ? 0 : 1);
            }

            // ---- neural network ops ----
            case "linear": return Linear(a.Tensor(0, "input"), a.Tensor(1, "weight"), a.OptionalTensor(2, "bias"));
            case "matmul" or "mm" or "bmm": return MatMul(a.Tensor(0, "self"), a.Tensor(1, "other"));
            case "addmm":
            {
                var bias = a.Tensor(0, "self");
                var m1 = a.Tensor(1, "mat1");
                var m2 = a.Tensor(2, "mat2");
                var beta = a.Float(3, "beta", 1);
                var alpha = a.Float(4, "alpha", 1);
                var shape = m1.Shape is { } s1 && m2.Shape is { } s2 ? new[] { s1[0], s2[^1] } : null;
                return _b.Emit("Gemm", [m1.Ir, m2.Ir, bias.Ir], [Attr.Float("alpha", (float)alpha), Attr.Float("beta", (float)beta)], m1.Type, shape);
            }
            case "_convolution": return Convolution(a, transposedArg: true);
            case "conv1d" or "conv2d" or "conv3d": return Convolution(a, transposedArg: false);
            case "conv_transpose1d" or "conv_transpose2d" or "conv_transpose3d": return ConvTranspose(a);
            case "batch_norm": return BatchNorm(a);
            case "layer_norm": return LayerNorm(a);
            case "group_norm": return GroupNorm(a);
            case "instance_norm": return InstanceNorm(a);
            case "max_pool1d" or "max_pool2d" or "max_pool3d": return MaxPool(a);
            case "avg_pool1d" or "avg_pool2d" or "avg_pool3d": return AvgPool(a);
            case "adaptive_avg_pool1d" or "adaptive_avg_pool2d" or "adaptive_avg_pool3d": return AdaptiveAvgPool(a);
            case "embedding":
            {
                var weight = a.Tensor(0, "weight");
                var ids = a.Tensor(1, "indices");
                if (ids.Ir.Kind == ValueKind.Input && ScalarTypes.IsFloat(ids.Type))
                {
                    // The input's element type is first known here: embedding indices are int64.
                    ids.Type = DataType.Int64;
                    ids.Ir.Type = GraphBuilder.TypeOf(DataType.Int64, ids.Shape);
                }
                Dim[]? shape = ids.Shape is null ? null : [.. ids.Shape, weight.Shape![1]];
                return _b.Emit("Gather", [weight.Ir, ids.Ir], [Attr.Int("axis", 0)], weight.Type, shape);
            }
            case "lstm": return Recurrent(a, lstm: true);
            case "gru": return Recurrent(a, lstm: false);
            default:
                throw Fail($"{a.Signature()} has no mapping to Alloy's IR (the supported aten ops are listed in docs/frontends.md)");
        }
    }

    private TensorValue Clip(TensorValue x, double lo, double hi) =>
        _b.Emit("Clip", [x.Ir, _b.Scalar(x.Type, lo), _b.Scalar(x.Type, hi)], null, x.Type, x.Shape);

    private TensorValue Gelu(TensorValue x, string approximate)
    {
        var t = x.Type;
        if (approximate == "tanh")
        {
            // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
            var cube = _b.Emit("Mul", [_b.Emit("Mul", [x.Ir, x.Ir], null, t, x.Shape).Ir, x.Ir], null, t, x.Shape);
            var inner = _b.Emit("Add", [x.Ir, _b.Emit("Mul", [cube.Ir, _b.Scalar(t, 0.044715)], null, t, x.Shape).Ir], null, t, x.Shape);
            var th = Unary("Tanh", _b.Emit("Mul", [inner.Ir, _b.Scalar(t, Math.Sqrt(2 / Math.PI))], null, t, x.Shape));
            var onePlus = _b.Emit("Add", [th.Ir, _b.Scalar(t, 1)], null, t, x.Shape);
            return _b.Emit("Mul", [_b.Emit("Mul", [x.Ir, _b.Scalar(t, 0.5)], null, t, x.Shape).Ir, onePlus.Ir], null, t, x.Shape);
        }
        if (approximate != "none") throw Fail($"aten::gelu approximate='{approximate}' is not supported");
        // 0.5 x (1 + erf(x / sqrt 2)), the exact form (ONNX Gelu is opset 20; this stays within opset 17).
        var erf = Unary("Erf", _b.Emit("Div", [x.Ir, _b.Scalar(t, Math.Sqrt(2))], null, t, x.Shape));
        var sum = _b.Emit("Add", [erf.Ir, _b.Scalar(t, 1)], null, t, x.Shape);
        var half = _b.Emit("Mul", [x.Ir, _b.Scalar(t, 0.5)], null, t, x.Shape);
        return _b.Emit("Mul", [half.Ir, sum.Ir], null, t, x.Shape);
    }

    private TensorValue Flatten(TensorValue x, long start, long end)
    {
        if (x.Rank is null)
        {
            if (start == 0 && end == -1) return Reshape(x, [-1L]);
            throw Fail("aten::flatten needs the input's rank");
        }
        int r = x.Rank.Value;
        if (r == 0) return Reshape(x, [1L]);
        int s = Axis(start, r), e = Axis(end, r);
        if (s == e) return x;
        if (e == r - 1)
        {
            var rest = x.Shape!.Skip(s).ToArray();
            Dim merged = rest.All(d => d.IsKnown) ? Dim.Of(rest.Aggregate(1L, (p, d) => p * d.Size!.Value)) : Dim.Unknown;
            if (s == 1)
                return _b.Emit("Flatten", [x.Ir], [Attr.Int("axis", 1)], x.Type, [x.Shape![0], merged]);
        }
        var items = new List<object?>();
        for (int i = 0; i < s; i++) items.Add(Size(x, i));
        items.Add(-1L);
        for (int i = e + 1; i < r; i++) items.Add(Size(x, i));
        return Reshape(x, items);
    }

    private TensorValue Squeeze(TensorValue x, long? dim)
    {
        int r = RequireRank(x, "squeeze");
        if (dim is { } d0)
        {
            int d = Axis(d0, r);
            if (x.Shape![d].Size is { } s && s != 1) return x;
            return _b.Emit("Squeeze", [x.Ir, _b.Ints([d], "axes")], null, x.Type, x.Shape.Where((_, i) => i != d).ToArray());
        }
        if (!x.Shape!.All(d => d.IsKnown)) throw Fail("aten::squeeze without dim on a tensor with dimensions known only at run time is not supported");
        var axes = x.Shape!.Select((dd, i) => (dd, i)).Where(p => p.dd.Size == 1).Select(p => (long)p.i).ToArray();
        if (axes.Length == 0) return x;
        return _b.Emit("Squeeze", [x.Ir, _b.Ints(axes, "axes")], null, x.Type, x.Shape!.Where(dd => dd.Size != 1).ToArray());
    }

    private List<object?> SplitSizes(TensorValue x, int axis, List<long> sizes)
    {
        var node = _b.EmitMulti("Split", [x.Ir, _b.Ints(sizes, "split")], [Attr.Int("axis", axis)], sizes.Count);
        var results = new List<object?>();
        for (int i = 0; i < sizes.Count; i++)
        {
            var shape = x.Shape!.ToArray();
            shape[axis] = Dim.Of(sizes[i]);
            node.Outputs[i].Type = GraphBuilder.TypeOf(x.Type, shape);
            results.Add(new TensorValue(node.Outputs[i], x.Type, shape));
        }
        return results;
    }

    private TensorValue Slice(TensorValue x, long dim, object? start, object? end, long step)
    {
        int r = RequireRank(x, "slice");
        int axis = Axis(dim, r);
        start ??= 0L;
        end ??= Int64Max;
        if (start is 0L && end is long e0 && step == 1 && (e0 == Int64Max || (x.Shape![axis].Size is { } n && e0 >= n))) return x;
        var shape = x.Shape!.ToArray();
        if (start is long s && end is long e && shape[axis].Size is { } size && step > 0)
        {
            long lo = Math.Clamp(s < 0 ? s + size : s, 0, size), hi = Math.Clamp(e < 0 ? e + size : e, 0, size);
            shape[axis] = Dim.Of(Math.Max(0, (hi - lo + step - 1) / step));
        }
        else shape[axis] = Dim.Unknown;
        Value Bound(object? v) => v is long l ? _b.Ints([l], "slice") : _b.Emit("Unsqueeze", [NumberAs(v, DataType.Int64), _b.Ints([0], "axes")], null, DataType.Int64, [Dim.Of(1)]).Ir;
        return _b.Emit("Slice", [x.Ir, Bound(start), Bound(end), _b.Ints([axis], "axes"), _b.Ints([step], "steps")], null, x.Type, shape);
    }

    private TensorValue Reduce(string op, TensorValue x, long[]? dims, bool keep)
    {
        int r = RequireRank(x, op);
        var axes = (dims ?? Enumerable.Range(0, r).Select(i => (long)i).ToArray()).Select(d => (long)Axis(d, r)).ToArray();
        var shape = keep
            ? x.Shape!.Select((d, i) => axes.Contains(i) ? Dim.Of(1) : d).ToArray()
            : x.Shape!.Where((_, i) => !axes.Contains(i)).ToArray();
        var keepAttr = Attr.Int("keepdims", keep ? 1 : 0);
        // Opset 17: ReduceSum takes axes as an input, ReduceMean / ReduceMax as an attribute.
        if (op == "ReduceSum") return _b.Emit(op, [x.Ir, _b.Ints(axes, "axes")], [keepAttr], x.Type, shape);
        return _b.Emit(op, [x.Ir], [Attr.Ints("axes", axes), keepAttr], x.Type, shape);
    }
}
