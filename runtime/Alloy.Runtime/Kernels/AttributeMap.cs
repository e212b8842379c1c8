using Alloy.Runtime.Execution;

namespace Alloy.Runtime.Kernels;

/// <summary>
/// A node's attributes as the runtime sees them. Values are <c>long</c>, <c>float</c>, <c>string</c>,
/// <c>long[]</c>, <c>float[]</c>, <c>string[]</c>, <see cref="Tensor"/>, <see cref="Tensor"/>[],
/// <see cref="ExecutionPlan"/> (a subgraph) or <see cref="ExecutionPlan"/>[].
/// </summary>
public sealed class AttributeMap
{
    public static readonly AttributeMap Empty = new(new Dictionary<string, object>());

    private readonly IReadOnlyDictionary<string, object> _values;

    public AttributeMap(IReadOnlyDictionary<string, object> values) => _values = values;

    public bool Has(string name) => _values.ContainsKey(name);
    public IEnumerable<string> Names => _values.Keys;

    public long GetInt(string name, long fallback) => _values.TryGetValue(name, out var v) ? As<long>(name, v) : fallback;
    public long GetInt(string name) => As<long>(name, Require(name));
    public float GetFloat(string name, float fallback) => _values.TryGetValue(name, out var v) ? As<float>(name, v) : fallback;
    public string GetString(string name, string fallback) => _values.TryGetValue(name, out var v) ? As<string>(name, v) : fallback;
    public string? GetStringOrNull(string name) => _values.TryGetValue(name, out var v) ? As<string>(name, v) : null;
    public long[]? GetInts(string name) => _values.TryGetValue(name, out var v) ? As<long[]>(name, v) : null;
    public float[]? GetFloats(string name) => _values.TryGetValue(name, out var v) ? As<float[]>(name, v) : null;
    public string[]? GetStrings(string name) => _values.TryGetValue(name, out var v) ? As<string[]>(name, v) : null;
    public Tensor? GetTensor(string name) => _values.TryGetValue(name, out var v) ? As<Tensor>(name, v) : null;
    public ExecutionPlan? GetGraph(string name) => _values.TryGetValue(name, out var v) ? As<ExecutionPlan>(name, v) : null;
    public ExecutionPlan GetRequiredGraph(string name) => As<ExecutionPlan>(name, Require(name));

    private object Require(string name) =>
        _values.TryGetValue(name, out var v) ? v : throw new KernelException($"required attribute '{name}' is missing");

    private static T As<T>(string name, object v) =>
        v is T t ? t : throw new KernelException($"attribute '{name}' is a {Describe(v)}, expected {typeof(T).Name}");

    private static string Describe(object v) => v switch
    {
        long => "int",
        float => "float",
        string => "string",
        long[] => "list of ints",
        float[] => "list of floats",
        string[] => "list of strings",
        Tensor => "tensor",
        _ => v.GetType().Name,
    };
}
