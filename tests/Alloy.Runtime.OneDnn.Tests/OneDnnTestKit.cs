using Alloy.Runtime.Execution;
using Alloy.Runtime.Kernels;

namespace Alloy.Runtime.OneDnn.Tests;

/// <summary>Nodes, runs and seeded random tensors for the kernel tests.</summary>
internal static class OneDnnTestKit
{
    public static readonly KernelRegistry Reference = KernelRegistry.Reference();

    public static KernelNode Node(string op, string domain, Dictionary<string, object> attrs, Tensor?[] inputs) =>
        new(op, domain, 21, new AttributeMap(attrs), inputs.Select(t => t?.Type).ToArray(), 1, op);

    public static Tensor Run(IKernel kernel, Tensor?[] inputs, int threads)
    {
        var outputs = new Tensor?[1];
        kernel.Run(new KernelContext(new PlanExecutor(threads), threads), inputs, outputs);
        return outputs[0]!;
    }

    public static Tensor Run(KernelRegistry registry, string op, string domain, Dictionary<string, object> attrs, Tensor?[] inputs, int threads)
    {
        var kernel = registry.Create(Node(op, domain, attrs, inputs), out var reason) ?? throw new InvalidOperationException(reason);
        return Run(kernel, inputs, threads);
    }

    public static Tensor RandomBytes(ElementType type, long[] shape, int seed)
    {
        var t = Tensor.Create(type, shape);
        new Random(seed).NextBytes(t.Bytes);
        return t;
    }

    public static Tensor RandomFloats(long[] shape, int seed, float scale = 1f)
    {
        var rng = new Random(seed);
        var n = shape.Aggregate(1L, (a, b) => a * b);
        return Tensor.FromFloats(shape, Enumerable.Range(0, (int)n).Select(_ => (float)(rng.NextDouble() * 2 - 1) * scale).ToArray());
    }

    /// <summary>Positive float32 scales around 0.02.</summary>
    public static Tensor Scales(long[] shape, long count, int seed)
    {
        var rng = new Random(seed);
        return Tensor.FromFloats(shape, Enumerable.Range(0, (int)count).Select(_ => (float)(0.01 + rng.NextDouble() * 0.02)).ToArray());
    }

    /// <summary>The integer value of each element of a uint8 / int8 tensor.</summary>
    public static int[] Values(Tensor t) => t.Type == ElementType.Int8
        ? t.ToArray<sbyte>().Select(v => (int)v).ToArray()
        : t.ToArray<byte>().Select(v => (int)v).ToArray();
}
