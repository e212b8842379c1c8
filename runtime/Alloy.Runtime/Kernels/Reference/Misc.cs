using Alloy.Runtime.Numerics;
using static Alloy.Runtime.Kernels.Reference.ShapeHelpers;

namespace Alloy.Runtime.Kernels.Reference;

/// <summary>
/// Misc family: Constant, ConstantOfShape, Range, EyeLike, Dropout (inference).
/// </summary>
internal static partial class ReferenceKernels
{
    static partial void RegisterMisc(KernelRegistry r)
    {
        r.Register("Constant", MiscOps.Constant);
        r.Register("ConstantOfShape", n => MiscOps.ConstantOfShape(n.Attributes.GetTensor("value")));
        r.Register("Range", _ => MiscOps.Range());
        r.Register("EyeLike", MiscOps.EyeLike);
        r.Register("Dropout", MiscOps.Dropout);
    }
}

internal static class MiscOps
{
    private static readonly string[] ConstantAttributes =
        ["value", "sparse_value", "value_float", "value_floats", "value_int", "value_ints", "value_string", "value_strings"];

    /// <summary>The attribute's value as a tensor; every run hands out a fresh copy.</summary>
    public static IKernel? Constant(KernelNode n, out string? reason)
    {
        reason = null;
        var a = n.Attributes;
        var given = ConstantAttributes.Where(a.Has).ToArray();
        if (given.Length != 1)
        {
            reason = given.Length == 0
                ? "Constant needs one of the attributes " + string.Join(", ", ConstantAttributes)
                : $"Constant has several value attributes ({string.Join(", ", given)})";
            return null;
        }
        Tensor value = given[0] switch
        {
            "value" or "sparse_value" => a.GetTensor(given[0])!,
            "value_float" => Tensor.FromArray(ElementType.Float, [], [a.GetFloat("value_float", 0)]),
            "value_floats" => Floats(a.GetFloats("value_floats")!),
            "value_int" => Tensor.FromArray(ElementType.Int64, [], [a.GetInt("value_int")]),
            "value_ints" => Longs(a.GetInts("value_ints")!),
            "value_string" => Tensor.FromStrings([], [a.GetString("value_string", "")]),
            _ => Tensor.FromStrings([a.GetStrings("value_strings")!.Length], a.GetStrings("value_strings")!),
        };
        return new MovementKernel((_, outputs) => outputs[0] = ElementConvert.Clone(value));
    }

    private static Tensor Floats(float[] v) => Tensor.FromArray<float>(ElementType.Float, [v.Length], v);
    private static Tensor Longs(long[] v) => Tensor.FromArray<long>(ElementType.Int64, [v.Length], v);

    public static IKernel ConstantOfShape(Tensor? value)
    {
        if (value is not null && value.Length != 1) throw new KernelException($"attribute 'value' must hold one element, got {value}");
        var fill = value ?? Tensor.FromArray(ElementType.Float, [1], [0f]);
        return new MovementKernel((inputs, outputs) =>
        {
            var shape = Ints1D(In(inputs, 0, "input"), "input");
            if (shape.Any(d => d < 0)) throw new KernelException($"shape {Text(shape)} has a negative dimension");
            outputs[0] = Take(fill, shape, new long[Count(shape)]);
        });
    }

    public static IKernel Range() => new MovementKernel((inputs, outputs) =>
    {
        var start = In(inputs, 0, "start");
        var limit = In(inputs, 1, "limit");
        var delta = In(inputs, 2, "delta");
        if (limit.Type != start.Type || delta.Type != start.Type)
            throw new KernelException($"start, limit and delta must have one type, got {start.Type.Name()}, {limit.Type.Name()}, {delta.Type.Name()}");
        var type = start.Type;
        if (type.IsInteger())
        {
            long s = ScalarInt(start, "start"), l = ScalarInt(limit, "limit"), d = ScalarInt(delta, "delta");
            if (d == 0) throw new KernelException("delta must not be 0");
            long diff = l - s;
            long count = d > 0 ? (diff <= 0 ? 0 : (diff - 1) / d + 1) : (diff >= 0 ? 0 : (-diff - 1) / -d + 1);
            var values = new long[count];
            for (long i = 0; i < count; i++) values[i] = s + i * d;
            outputs[0] = ElementConvert.FromLongs(type, [count], values);
        }
        else if (type.IsFloat())
        {
            double s = ScalarDouble(start, "start"), l = ScalarDouble(limit, "limit"), d = ScalarDouble(delta, "delta");
            if (d == 0 || double.IsNaN(d)) throw new KernelException($"delta {d} must be a non-zero number");
            double n = Math.Ceiling((l - s) / d);
            if (double.IsNaN(n) || double.IsInfinity(n)) throw new KernelException($"Range({s}, {l}, {d}) has no finite length");
            long count = (long)Math.Max(0, n);
            var values = new double[count];
            for (long i = 0; i < count; i++) values[i] = s + i * d;
            outputs[0] = ElementConvert.FromDoubles(type, [count], values);
        }
        else throw new KernelException($"Range does not take {type.Name()}");
    });

    public static IKernel? EyeLike(KernelNode n, out string? reason)
    {
        reason = null;
        long k = n.Attributes.GetInt("k", 0);
        ElementType? dtype = n.Attributes.Has("dtype") ? (ElementType)n.Attributes.GetInt("dtype") : null;
        if (dtype is { } t && (t == ElementType.String || !Enum.IsDefined(t) || t == ElementType.Undefined || t is ElementType.Complex64 or ElementType.Complex128))
        {
            reason = $"EyeLike dtype {(int)t} is not supported";
            return null;
        }
        return new MovementKernel((inputs, outputs) =>
        {
            var x = In(inputs, 0, "input");
            if (x.Rank != 2) throw new KernelException($"input must be 2-D, got {x.ShapeText}");
            var type = dtype ?? x.Type;
            if (type == ElementType.String) throw new KernelException("EyeLike cannot make a string tensor");
            var y = Tensor.Create(type, x.Shape);
            long rows = x.Shape[0], cols = x.Shape[1];
            for (long i = 0; i < rows; i++)
            {
                long j = i + k;
                if (j >= 0 && j < cols) ElementConvert.SetLong(y, i * cols + j, 1);
            }
            outputs[0] = y;
        });
    }

    /// <summary>
    /// Dropout. Inference (the default): the output is the input and the mask all true (all ones before opset
    /// 10). Training mode (opset 12+, training_mode input true): elements are kept where a uniform draw in [0, 1)
    /// is at least the ratio and scaled by 1 / (1 - ratio), the mask marking the kept ones; the draws come from
    /// numpy's legacy MT19937 seeded with the 'seed' attribute (0 when absent), as in the ONNX reference.
    /// </summary>
    public static IKernel? Dropout(KernelNode n, out string? reason)
    {
        reason = null;
        long opset = n.Opset;
        float ratioAttr = n.Attributes.GetFloat("ratio", 0.5f);
        long seed = n.Attributes.GetInt("seed", 0);
        if (seed < 0 || seed > uint.MaxValue)
        {
            reason = $"Dropout seed {seed} is outside [0, 2^32-1]";
            return null;
        }
        return new MovementKernel((inputs, outputs) =>
        {
            var x = In(inputs, 0, "data");
            bool training = opset >= 12 && Opt(inputs, 2) is { } t && ScalarDouble(t, "training_mode") != 0;
            double ratio = opset >= 12 ? (Opt(inputs, 1) is { } r ? ScalarDouble(r, "ratio") : 0.5) : ratioAttr;
            var mask = outputs.Length > 1 ? Tensor.Create(opset >= 10 ? ElementType.Bool : x.Type, x.Shape) : null;
            if (!training || ratio == 0)
            {
                outputs[0] = ElementConvert.Clone(x);
                if (mask is not null) for (long i = 0; i < mask.Length; i++) ElementConvert.SetLong(mask, i, 1);
            }
            else
            {
                if (!x.Type.IsFloat()) throw new KernelException($"training dropout needs a float input, got {x.Type.Name()}");
                if (!(ratio >= 0 && ratio < 1)) throw new KernelException($"ratio {ratio} must be in [0, 1)");
                var rng = new NumpyMt19937((uint)seed);
                double scale = 1 / (1 - ratio);
                var y = Tensor.Create(x.Type, x.Shape);
                for (long i = 0; i < x.Length; i++)
                {
                    bool keep = rng.NextDouble() >= ratio;
                    ElementConvert.SetDouble(y, i, keep ? ElementConvert.GetDouble(x, i) * scale : 0);
                    if (mask is not null) ElementConvert.SetLong(mask, i, keep ? 1 : 0);
                }
                outputs[0] = y;
            }
            if (mask is not null) outputs[1] = mask;
        });
    }
}
