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

    /// <summary>Inference dropout: the output is the input, the mask all true (all ones before opset 10).</summary>
    public static IKernel? Dropout(KernelNode n, out string? reason)
    {
        reason = null;
        long opset = n.Opset;
        float ratioAttr = n.Attributes.GetFloat("ratio", 0.5f);
        return new MovementKernel((inputs, outputs) =>
        {
            var x = In(inputs, 0, "data");
            if (opset >= 12 && Opt(inputs, 2) is { } training && ScalarDouble(training, "training_mode") != 0)
            {
                double ratio = Opt(inputs, 1) is { } r ? ScalarDouble(r, "ratio") : ratioAttr;
                if (ratio != 0) throw new KernelException($"training_mode with ratio {ratio} is not supported (random dropout)");
            }
            outputs[0] = ElementConvert.Clone(x);
            if (outputs.Length > 1)
            {
                var mask = Tensor.Create(opset >= 10 ? ElementType.Bool : x.Type, x.Shape);
                for (long i = 0; i < mask.Length; i++) ElementConvert.SetLong(mask, i, 1);
                outputs[1] = mask;
            }
        });
    }
}
