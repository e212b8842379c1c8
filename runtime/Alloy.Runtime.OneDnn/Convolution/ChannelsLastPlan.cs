using Alloy.Runtime.Execution;

namespace Alloy.Runtime.OneDnn.Convolution;

/// <summary>
/// Agrees on channels-last (NHWC) data between oneDNN convolutions of a plan: a convolution's result that only oneDNN
/// convolutions read, as their data operand, and that is not a graph output, is stored NHWC and read NHWC, so the
/// reorders to and from NCHW on that edge disappear. Every other value stays NCHW. Runs as a
/// <see cref="Kernels.KernelRegistry.PlanFinishers">plan finisher</see> of the oneDNN registry.
/// </summary>
internal static class ChannelsLastPlan
{
    /// <summary>Marks the channels-last edges of <paramref name="plan"/>; returns how many values are stored NHWC.</summary>
    public static int Apply(ExecutionPlan plan)
    {
        var readers = new Dictionary<int, List<(int Step, int Operand)>>();
        for (int i = 0; i < plan.Steps.Count; i++)
        {
            var inputs = plan.Steps[i].InputSlots;
            for (int j = 0; j < inputs.Length; j++)
                if (inputs[j] >= 0)
                {
                    if (!readers.TryGetValue(inputs[j], out var list)) readers[inputs[j]] = list = [];
                    list.Add((i, j));
                }
        }
        var graphOutputs = plan.Outputs.Select(o => o.Slot).ToHashSet();
        int edges = 0;
        foreach (var step in plan.Steps)
        {
            if (step.Kernel is not IChannelsLastConvolution producer || step.OutputSlots.Length != 1) continue;
            int slot = step.OutputSlots[0];
            if (slot < 0 || graphOutputs.Contains(slot) || !readers.TryGetValue(slot, out var uses) || uses.Count == 0) continue;
            if (!uses.All(u => u.Operand == 0 && plan.Steps[u.Step].Kernel is IChannelsLastConvolution)) continue;
            producer.ChannelsLastOutput = true;
            foreach (var u in uses) ((IChannelsLastConvolution)plan.Steps[u.Step].Kernel).ChannelsLastInput = true;
            edges++;
        }
        return edges;
    }
}
