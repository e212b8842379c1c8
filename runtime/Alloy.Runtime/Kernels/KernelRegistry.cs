namespace Alloy.Runtime.Kernels;

/// <summary>
/// Creates a kernel for a node, or returns null with the reason it cannot (unsupported attribute value,
/// input type, opset).
/// </summary>
public delegate IKernel? KernelFactory(KernelNode node, out string? reason);

/// <summary>Kernel factories by (domain, op). The default domain is "" (ONNX's "ai.onnx" maps to it).</summary>
public sealed class KernelRegistry
{
    private readonly Dictionary<(string Domain, string Op), KernelFactory> _factories = [];
    private readonly List<Action<Execution.ExecutionPlan>> _finishers = [];

    /// <summary>
    /// Steps the plan compiler runs on every plan it builds from this registry's kernels, after binding them (kernel sets
    /// that agree on something between steps, such as a data layout, configure their kernels here).
    /// </summary>
    public IReadOnlyList<Action<Execution.ExecutionPlan>> PlanFinishers => _finishers;

    /// <summary>Adds a step to <see cref="PlanFinishers"/>.</summary>
    public void AddPlanFinisher(Action<Execution.ExecutionPlan> finisher) => _finishers.Add(finisher ?? throw new ArgumentNullException(nameof(finisher)));

    public void Register(string op, KernelFactory factory, string domain = "") => _factories[(Normalize(domain), op)] = factory;

    /// <summary>Registers a kernel that needs nothing from the node but its attributes.</summary>
    public void Register(string op, Func<KernelNode, IKernel> create, string domain = "") =>
        Register(op, (KernelNode n, out string? reason) =>
        {
            reason = null;
            return create(n);
        }, domain);

    public bool Supports(string domain, string op) => _factories.ContainsKey((Normalize(domain), op));

    public IEnumerable<(string Domain, string Op)> Ops => _factories.Keys.OrderBy(k => k.Domain).ThenBy(k => k.Op);

    public IKernel? Create(KernelNode node, out string? reason)
    {
        if (!_factories.TryGetValue((Normalize(node.Domain), node.OpType), out var factory))
        {
            reason = $"no kernel for op '{(node.Domain.Length == 0 ? "" : node.Domain + "::")}{node.OpType}'";
            return null;
        }
        try
        {
            return factory(node, out reason);
        }
        catch (KernelException e)
        {
            reason = e.Message;
            return null;
        }
    }

    private static string Normalize(string domain) => domain == "ai.onnx" ? "" : domain;

    /// <summary>The reference kernels: every supported op, written for clarity; they define the numerics.</summary>
    public static KernelRegistry Reference()
    {
        var r = new KernelRegistry();
        Kernels.Reference.ReferenceKernels.RegisterAll(r);
        return r;
    }
}
