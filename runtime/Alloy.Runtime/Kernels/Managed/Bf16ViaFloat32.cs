namespace Alloy.Runtime.Kernels.Managed;

/// <summary>
/// bfloat16 fast paths of the element-wise and pooling ops of BF16-compiled CNNs and transformers (Add / Sub / Mul /
/// Div, Relu, Clip, MaxPool): the bf16 operands are widened to float32 (exact), the float32 managed kernel of the op
/// runs, and its float32 results are rounded once to bf16 (<see cref="ManagedConvert.Narrow"/>). The reference
/// kernels compute in double and round once to bf16; for these ops that gives the same bits: Relu, Clip and MaxPool
/// only select and clamp values, and a float32 add / sub / mul / div of two bf16 values followed by a rounding to
/// bf16 equals the one rounding of the exact result (float32 carries more than twice bf16's 8 significant bits plus
/// two, so the intermediate rounding never changes the final one; in the subnormal range sums are exact and
/// products and quotients stay clear of bf16 rounding boundaries). NaN results are quiet NaNs with the sign and top
/// payload bits the reference keeps: the first NaN operand's (<see cref="Bf16NaNPropagation"/>), whichever operand
/// order the vector instructions used. Nodes with other element types, and anything the float32 kernel hands to its
/// own fallback, run the reference kernel.
/// </summary>
internal static class Bf16ViaFloat32
{
    private static readonly string[] Ops = ["Add", "Sub", "Mul", "Div", "Relu", "Clip", "MaxPool"];

    /// <summary>Registers the bf16 paths over what <paramref name="r"/> has for those ops, keeping it for other types.</summary>
    public static void Register(KernelRegistry r, ManagedIsa isa)
    {
        var float32 = new KernelRegistry();
        ManagedElementwise.Register(float32, isa);
        ManagedPooling.Register(float32, isa);
        foreach (var op in Ops)
        {
            if (!float32.Supports("", op)) continue;
            r.Register(op, (KernelNode n, out string? reason) =>
            {
                var fallback = ManagedKernels.CreateReference(n, out reason);
                if (fallback is null || !AnyBFloat16AndNoOtherFloat(n)) return float32.Create(n, out reason) ?? fallback;
                var asFloat = n with
                {
                    InputTypes = [.. n.InputTypes.Select(t => t == ElementType.BFloat16 ? ElementType.Float : t)],
                    OutputTypes = [.. n.OutputTypes.Select(t => t == ElementType.BFloat16 ? ElementType.Float : t)],
                };
                var inner = float32.Create(asFloat, out _);
                return inner is null ? fallback : new Kernel(isa, inner, fallback, BinaryOpOf(op));
            });
        }
    }

    private static ManagedElementwise.BinaryOp? BinaryOpOf(string op) => op switch
    {
        "Add" => ManagedElementwise.BinaryOp.Add,
        "Sub" => ManagedElementwise.BinaryOp.Sub,
        "Mul" => ManagedElementwise.BinaryOp.Mul,
        "Div" => ManagedElementwise.BinaryOp.Div,
        _ => null,
    };

    /// <summary>Whether some input is known to be bf16 and no input is known to be another floating-point type.</summary>
    private static bool AnyBFloat16AndNoOtherFloat(KernelNode n)
    {
        bool any = false;
        foreach (var t in n.InputTypes)
        {
            if (t == ElementType.BFloat16) any = true;
            else if (t is { } other && other.IsFloat()) return false;
        }
        return any;
    }

    private sealed unsafe class Kernel(ManagedIsa isa, IKernel inner, IKernel fallback, ManagedElementwise.BinaryOp? binary) : IKernel
    {
        public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
        {
            foreach (var t in inputs)
                if (t is { } x && x.Type.IsFloat() && x.Type != ElementType.BFloat16)
                {
                    fallback.Run(context, inputs, outputs);
                    return;
                }
            if (binary is { } op && inputs.Length == 2 && inputs[0] is { Type: ElementType.BFloat16 } sa && inputs[1] is { Type: ElementType.BFloat16 } sb
                && sa.Shape.AsSpan().SequenceEqual(sb.Shape))
            {
                var y = Tensor.CreateUninitialized(ElementType.BFloat16, sa.Shape);
                Bf16SameShapeBinary.Apply(isa, op, (ushort*)sa.Pointer, (ushort*)sb.Pointer, (ushort*)y.Pointer, y.Length);
                Bf16NaNPropagation.Apply(sa, sb, y);
                outputs[0] = y;
                return;
            }
            var widened = new Tensor?[inputs.Length];
            try
            {
                for (int i = 0; i < inputs.Length; i++)
                {
                    if (inputs[i] is not { Type: ElementType.BFloat16 } x) { widened[i] = inputs[i]; continue; }
                    var w = Tensor.CreateUninitialized(ElementType.Float, x.Shape);
                    ManagedConvert.Widen(isa, ElementType.BFloat16, x.Pointer, (float*)w.Pointer, x.Length);
                    widened[i] = w;
                }
                inner.Run(context, widened, outputs);
                for (int o = 0; o < outputs.Length; o++)
                {
                    if (outputs[o] is not { Type: ElementType.Float } y) continue;
                    var narrowed = Tensor.CreateUninitialized(ElementType.BFloat16, y.Shape);
                    ManagedConvert.Narrow(isa, ElementType.BFloat16, (float*)y.Pointer, narrowed.Pointer, y.Length);
                    outputs[o] = narrowed;
                    y.Dispose();
                    if (binary is not null && inputs.Length == 2 && inputs[0] is { Type: ElementType.BFloat16 } a && inputs[1] is { Type: ElementType.BFloat16 } b)
                        Bf16NaNPropagation.Apply(a, b, narrowed);
                }
            }
            finally
            {
                for (int i = 0; i < inputs.Length; i++)
                    if (!ReferenceEquals(widened[i], inputs[i])) widened[i]?.Dispose();
            }
        }
    }
}
