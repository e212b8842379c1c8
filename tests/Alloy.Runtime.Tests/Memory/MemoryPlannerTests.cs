using Alloy.Backend;
using Alloy.IR;
using Alloy.Onnx;
using Alloy.Runtime.Execution;
using Alloy.Runtime.Kernels;
using Alloy.Runtime.Kernels.Managed;
using Alloy.Testing;
using Xunit;

namespace Alloy.Runtime.Tests.Memory;

/// <summary>
/// The liveness-based memory planner and the executor's arena: no two values alive at the same step share a byte,
/// the arena is never smaller than the live set, and runs from the arena give exactly the results of runs with every
/// value on the native heap.
/// </summary>
public sealed class MemoryPlannerTests
{
    [Fact]
    public void ValuesAliveAtTheSameStepNeverShareBytes()
    {
        var random = new Random(7);
        for (int trial = 0; trial < 200; trial++)
        {
            int steps = random.Next(1, 40);
            var values = new List<MemoryPlanner.Lifetime>();
            for (int s = 0; s < steps; s++)
                for (int r = random.Next(0, 3); r > 0; r--)
                    values.Add(new MemoryPlanner.Lifetime(values.Count, s, random.Next(s, steps), random.Next(1, 5000)));
            var plan = MemoryPlanner.Plan(steps, values);
            var blocks = plan.StepResults.SelectMany(b => b).ToDictionary(b => b.Slot);
            Assert.Equal(values.Count, blocks.Count);
            foreach (var v in values)
            {
                var b = blocks[v.Slot];
                Assert.Equal(v.Bytes, b.Bytes);
                Assert.Equal(0, b.Offset % 64);
                Assert.True(b.Offset + b.Bytes <= plan.ArenaBytes);
                Assert.Contains(b, plan.StepResults[v.Producer]);
                foreach (var w in values)
                {
                    if (w.Slot == v.Slot || w.Producer > v.LastUse || v.Producer > w.LastUse) continue;
                    var c = blocks[w.Slot];
                    Assert.True(b.Offset + b.Bytes <= c.Offset || c.Offset + c.Bytes <= b.Offset, $"trial {trial}: values {v} and {w} overlap");
                }
            }
            Assert.True(plan.ArenaBytes >= plan.PeakLiveBytes);
            Assert.Equal(values.Sum(v => (long)v.Bytes), plan.UnsharedBytes);
        }
    }

    [Fact]
    public void AChainReusesTheBytesOfValuesThatDied()
    {
        // a (step 0) → b (step 1) → c (step 2) → d (step 3): at most two are alive at once.
        var values = Enumerable.Range(0, 4).Select(i => new MemoryPlanner.Lifetime(i, i, i + 1, 1024)).ToList();
        var plan = MemoryPlanner.Plan(4, values);
        Assert.Equal(2048, plan.ArenaBytes);
        Assert.Equal(2048, plan.PeakLiveBytes);
        Assert.Equal(4096, plan.UnsharedBytes);
    }

    public static TheoryData<string> Models() => new(["mobilenet_v2_w050", "squeezenet1_1", "transformer_encoder"]);

    [Theory]
    [MemberData(nameof(Models))]
    public void RunsFromTheArenaEqualRunsOnTheHeap(string name)
    {
        var path = Path.Combine(RepoPaths.CorpusModels, "untrained", name, $"{name}.opset13.onnx");
        using var model = OnnxImporter.Load(path);
        var registry = ManagedKernels.CreateRegistry();
        var arenaPlan = PlanCompiler.Compile(model, registry);
        var heapPlan = new ExecutionPlan(arenaPlan.Name, arenaPlan.SlotCount, arenaPlan.Inputs, arenaPlan.Captures, arenaPlan.Constants,
            arenaPlan.Steps, arenaPlan.Outputs) { UseArena = false };
        var inputs = new Dictionary<string, Tensor>();
        var dataSet = Path.Combine(Path.GetDirectoryName(path)!, "test_data_set_0");
        for (int i = 0; File.Exists(Path.Combine(dataSet, $"input_{i}.pb")); i++)
        {
            var (n, v) = OnnxTensorFile.Read(Path.Combine(dataSet, $"input_{i}.pb"));
            inputs[n] = ConstantTensors.ToTensor(v);
        }
        try
        {
            var executor = new PlanExecutor(2);
            var expected = executor.Run(heapPlan, inputs);
            var ordered = arenaPlan.Inputs.Select(p => (Tensor?)inputs[p.Name]).ToArray();
            for (int run = 0; run < 3; run++)
            {
                var actual = executor.Run(arenaPlan, inputs);
                for (int o = 0; o < expected.Length; o++)
                {
                    Assert.Equal(expected[o]!.Shape, actual[o]!.Shape);
                    Assert.True(expected[o]!.Bytes.SequenceEqual(actual[o]!.Bytes), $"{name} run {run}: output {o} differs");
                    actual[o]!.Dispose();
                }
                // The first run learns the plan from the sizes it produced; later runs use it.
                var memory = arenaPlan.Memory ?? arenaPlan.LearnedMemory(ordered);
                Assert.NotNull(memory);
                Assert.True(memory!.ArenaBytes < memory.UnsharedBytes / 2, $"{name}: arena {memory.ArenaBytes} of {memory.UnsharedBytes}");
                Assert.True(memory.ArenaBytes >= memory.PeakLiveBytes);
            }
            Assert.Null(heapPlan.LearnedMemory(ordered));
            foreach (var t in expected) t?.Dispose();
        }
        finally
        {
            foreach (var t in inputs.Values) t.Dispose();
        }
    }

    /// <summary>Makes two results of one shape, creating the second one first (so it takes the first's block).</summary>
    private sealed class ReversedPair : IKernel
    {
        public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
        {
            var x = inputs[0]!.Span<float>();
            var second = Tensor.Create(ElementType.Float, inputs[0]!.Shape);
            var first = Tensor.Create(ElementType.Float, inputs[0]!.Shape);
            for (int i = 0; i < x.Length; i++)
            {
                first.Span<float>()[i] = x[i] + 1;
                second.Span<float>()[i] = x[i] * 10;
            }
            outputs[0] = first;
            outputs[1] = second;
        }
    }

    [Fact]
    public void AResultInAnotherResultsBlockIsMovedOutOfTheArena()
    {
        // x → (p, q) by ReversedPair; r = Add(q, q) is produced after p dies, so the planner may give r p's bytes.
        var add = KernelRegistry.Reference().Create(new KernelNode("Add", "", 13, AttributeMap.Empty, [ElementType.Float, ElementType.Float], 1, "add"), out _)!;
        var neg = KernelRegistry.Reference().Create(new KernelNode("Neg", "", 13, AttributeMap.Empty, [ElementType.Float], 1, "neg"), out _)!;
        var node = new KernelNode("Pair", "", 13, AttributeMap.Empty, [ElementType.Float], 2, "pair");
        // slots: 0 x, 1 p, 2 q, 3 np, 4 r, 5 y
        var steps = new List<PlanStep>
        {
            new(node, new ReversedPair(), [0], [1, 2], []),
            new(new KernelNode("Neg", "", 13, AttributeMap.Empty, [ElementType.Float], 1, "neg"), neg, [1], [3], [1]),
            new(new KernelNode("Add", "", 13, AttributeMap.Empty, [ElementType.Float, ElementType.Float], 1, "add"), add, [2, 2], [4], [2]),
            new(new KernelNode("Add", "", 13, AttributeMap.Empty, [ElementType.Float, ElementType.Float], 1, "add2"), add, [3, 4], [5], [3, 4]),
        };
        var plan = new ExecutionPlan("pair", 6, [new PlanInput(0, "x", ElementType.Float, [3])], [], [], steps, [(5, "y")]);
        using var x = Tensor.FromFloats([3], [1f, 2f, 3f]);
        var executor = new PlanExecutor(1);
        for (int run = 0; run < 3; run++)
        {
            using var y = executor.Run(plan, new Dictionary<string, Tensor> { ["x"] = x })[0]!;
            // y = -(x + 1) + 20x
            Assert.Equal(new[] { 18f, 37f, 56f }, y.ToArray<float>());
        }
        Assert.NotNull(plan.LearnedMemory([x]));
    }
}
