namespace Alloy.IR;

/// <summary>An operator set a model or function imports.</summary>
public readonly record struct OpsetImport(string Domain, long Version);

/// <summary>A model-local function (ONNX <c>FunctionProto</c>): a body graph whose inputs carry no types.</summary>
public sealed class Function(string domain, string name, Graph body)
{
    public string Domain { get; set; } = domain;
    public string Name { get; set; } = name;
    public string Overload { get; set; } = "";
    public Graph Body { get; } = body;
    public string? DocString { get; set; }
    public List<string> AttributeNames { get; } = [];
    /// <summary>Attributes declared with a default value.</summary>
    public List<Attr> AttributeDefaults { get; } = [];
    public List<OpsetImport> Opsets { get; } = [];
    public List<KeyValuePair<string, string>> Metadata { get; } = [];
}

/// <summary>A whole model: main graph, opsets, metadata, functions. Owns the mapped files its constants read from.</summary>
public sealed class Model(Graph graph) : IDisposable
{
    private readonly List<IDisposable> _resources = [];

    public Graph Graph { get; } = graph;
    public long IrVersion { get; set; } = 10;
    public List<OpsetImport> Opsets { get; } = [];
    public string? ProducerName { get; set; }
    public string? ProducerVersion { get; set; }
    public string? Domain { get; set; }
    public long? ModelVersion { get; set; }
    public string? DocString { get; set; }
    public List<KeyValuePair<string, string>> Metadata { get; } = [];
    public List<Function> Functions { get; } = [];

    /// <summary>Training information, kept as the serialized bytes of each entry and written back unchanged.</summary>
    public List<byte[]> OpaqueTrainingInfo { get; } = [];

    /// <summary>Other serialized fields of the model record Alloy does not interpret, written back unchanged.</summary>
    public byte[] OpaqueExtraFields { get; set; } = [];

    /// <summary>The file the model was read from, for messages.</summary>
    public string? SourcePath { get; set; }

    /// <summary>The default-domain opset version, or null when none is imported.</summary>
    public long? DefaultOpset => Opsets.Where(o => o.Domain is "" or "ai.onnx").Select(o => (long?)o.Version).FirstOrDefault();

    public void AddResource(IDisposable resource) => _resources.Add(resource);

    public void Dispose()
    {
        foreach (var r in _resources) r.Dispose();
        _resources.Clear();
    }
}
