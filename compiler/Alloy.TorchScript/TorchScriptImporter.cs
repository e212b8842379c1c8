using Alloy.IR;
using Alloy.TorchScript.Archive;
using Alloy.TorchScript.Lowering;
using Alloy.TorchScript.Pickle;
using Alloy.TorchScript.Script;

namespace Alloy.TorchScript;

/// <summary>
/// Reads a TorchScript archive (<c>torch.jit.trace</c> / <c>torch.jit.script</c> + <c>save</c>) into Alloy's IR
/// without PyTorch: the pickled module tree and tensors, the code under <c>code/</c>, lowered from the root
/// module's <c>forward</c>. Graph inputs are named after <c>forward</c>'s parameters, outputs <c>output_0</c>,
/// <c>output_1</c>, …; the emitted ops are ONNX opset 17. Stored tensors stay memory-mapped; the model owns the
/// mapping.
/// </summary>
public static class TorchScriptImporter
{
    public const long Opset = 17;

    public static Model Load(string path, TorchScriptImportOptions? options = null)
    {
        options ??= TorchScriptImportOptions.Default;
        var archive = TorchArchive.Open(path);
        bool handedOver = false;
        try
        {
            var model = Import(archive, options);
            model.AddResource(archive.TransferMapping());
            handedOver = true;
            return model;
        }
        finally
        {
            if (!handedOver) archive.Dispose();
        }
    }

    /// <summary>The names of <c>forward</c>'s parameters (the graph inputs), read without lowering the model.</summary>
    public static IReadOnlyList<string> InputNames(string path)
    {
        using var archive = TorchArchive.Open(path);
        var root = Unpickle(archive, "data.pkl", "data", (_, _) => { });
        if (root is not TorchObject module)
            throw new TorchScriptException(archive.Path, null, 0, $"data.pkl holds {Lowerer.Describe(root)}, not a TorchScript module");
        var cls = new CodeTable(archive).FindClass(module.TypeName) ?? throw new TorchScriptException(archive.Path, null, 0, $"the root module's class '{module.TypeName}' has no code under code/");
        var forward = cls.Methods.GetValueOrDefault("forward") ?? throw new TorchScriptException(archive.Path, cls.File, cls.Line, $"class '{cls.QualifiedName}' has no forward method");
        return forward.Parameters.Skip(1).Select(p => p.Name).ToList();
    }

    private static object? Unpickle(TorchArchive archive, string entry, string folder, Action<StorageRef, string> remember)
    {
        var cache = new Dictionary<string, StorageRef>(StringComparer.Ordinal);
        object? PersistentLoad(PickleTuple pid)
        {
            var items = pid.Items;
            if (items.Length != 5 || items[0] is not "storage" || items[1] is not PickleGlobal type || items[2] is not string key || items[4] is not long numel)
                throw new PickleException($"{entry}: persistent id {pid} is not ('storage', type, key, location, numel)");
            if (!Unpickler.StorageTypes.TryGetValue(type.Name, out var dtype))
                throw new PickleException($"{entry}: storage type '{type}' is not supported");
            if (cache.TryGetValue(key, out var known)) return known;
            var s = new StorageRef(key, dtype, numel, items[3] as string ?? "cpu");
            remember(s, folder);
            cache[key] = s;
            return s;
        }
        try
        {
            return new Unpickler(archive.ReadBytes(entry), entry, PersistentLoad).Load();
        }
        catch (PickleException e)
        {
            throw new TorchScriptException(archive.Path, null, 0, e.Message, e);
        }
    }

    private static Model Import(TorchArchive archive, TorchScriptImportOptions options)
    {
        var folders = new List<(StorageRef, string)>();
        var root = Unpickle(archive, "data.pkl", "data", (s, f) => folders.Add((s, f)));
        object?[] constants = [];
        if (archive.Contains("constants.pkl"))
        {
            var c = Unpickle(archive, "constants.pkl", "constants", (s, f) => folders.Add((s, f)));
            constants = c is PickleTuple t ? t.Items : throw new TorchScriptException(archive.Path, null, 0, "constants.pkl does not hold a tuple");
        }
        if (root is not TorchObject module)
            throw new TorchScriptException(archive.Path, null, 0, $"data.pkl holds {Lowerer.Describe(root)}, not a TorchScript module");

        var code = new CodeTable(archive);
        var cls = code.FindClass(module.TypeName) ?? throw new TorchScriptException(archive.Path, null, 0, $"the root module's class '{module.TypeName}' has no code under code/");
        var forward = cls.Methods.GetValueOrDefault("forward") ?? throw new TorchScriptException(archive.Path, cls.File, cls.Line, $"class '{cls.QualifiedName}' has no forward method");

        var graph = new Graph(module.TypeName[(module.TypeName.LastIndexOf('.') + 1)..]);
        var model = new Model(graph)
        {
            IrVersion = 8,
            ProducerName = "pytorch",
            DocString = $"TorchScript archive {Path.GetFileName(archive.Path)} (file-format version {archive.Version})",
            SourcePath = archive.Path,
        };
        model.Opsets.Add(new OpsetImport("", Opset));
        model.Metadata.Add(new("torchscript.format_version", archive.Version.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        model.Metadata.Add(new("torchscript.module", module.TypeName));

        var lowerer = new Lowerer(archive, code, graph, []);
        foreach (var (s, f) in folders) lowerer.RememberFolder(s, f);
        var constantValues = constants.Select((c, i) => c is TorchTensor { Sizes.Length: 0 } t ? lowerer.ScalarFromTensor(t, $"CONSTANTS.c{i}") : c).ToArray();
        lowerer = new Lowerer(archive, code, graph, constantValues);
        foreach (var (s, f) in folders) lowerer.RememberFolder(s, f);
        lowerer.NamePaths(module);

        // Graph inputs: forward's parameters after self. A parameter with a default (mask=None, …) keeps its
        // default unless an input type is given for it.
        var inputs = new List<KeyValuePair<string, object?>>();
        var builder = lowerer.Builder;
        for (int i = 0; i < forward.Parameters.Count; i++) builder.Reserve($"output_{i}");
        foreach (var p in forward.Parameters.Skip(1))
        {
            options.InputTypes.TryGetValue(p.Name, out var declared);
            if (p.Default is not null && declared is null) continue;
            var typeName = TypeText(p.Type);
            if (typeName is not ("Tensor" or "Optional[Tensor]"))
                throw new TorchScriptException(archive.Path, forward.File, forward.Line, $"forward parameter '{p.Name}' has type {typeName}; only Tensor parameters can be graph inputs");
            builder.Reserve(p.Name);
            var type = declared ?? new TensorType(DataType.Float, null);
            var v = graph.AddInput(p.Name, type);
            inputs.Add(new(p.Name, new TensorValue(v, type.ElementType, type.Shape?.Dims.ToArray())));
        }
        foreach (var name in options.InputTypes.Keys)
            if (graph.FindLocal(name) is null)
                throw new TorchScriptException(archive.Path, forward.File, forward.Line, $"an input type is given for '{name}', but forward has no parameter of that name (it takes {string.Join(", ", forward.Parameters.Skip(1).Select(x => x.Name))})");

        object? result;
        try
        {
            result = lowerer.CallForward(module, inputs);
        }
        catch (ScriptRaiseException e)
        {
            throw lowerer.Fail($"the model raises for these inputs: {e.Message}");
        }
        catch (PickleException e)
        {
            throw lowerer.Fail(e.Message);
        }
        catch (Exception e) when (e is IrException or ArgumentException or InvalidOperationException or IndexOutOfRangeException or OverflowException)
        {
            throw lowerer.Fail($"cannot lower this code: {e.Message}");
        }

        var outputs = Flatten(result);
        if (outputs.Count == 0) throw new TorchScriptException(archive.Path, forward.File, forward.Line, "forward returns no tensor");
        for (int i = 0; i < outputs.Count; i++)
        {
            var v = outputs[i] switch
            {
                TensorValue t => t.Ir,
                DynNumber n => n.Ir,
                long or double or bool => lowerer.NumberAs(outputs[i], outputs[i] is double ? DataType.Double : outputs[i] is bool ? DataType.Bool : DataType.Int64),
                _ => throw new TorchScriptException(archive.Path, forward.File, forward.Line, $"forward returns {Lowerer.Describe(outputs[i])} as output {i}; only tensors and numbers can be graph outputs"),
            };
            var name = $"output_{i}";
            if (v.Kind == ValueKind.NodeResult && v.Owner == graph && !graph.Outputs.Contains(v)) graph.Rename(v, name);
            else
            {
                var node = graph.AddNode("Identity", [v], [name]);
                node.Outputs[0].Type = v.Type;
                v = node.Outputs[0];
            }
            graph.AddOutput(v);
        }
        RemoveDeadCode(graph);
        var issues = Verifier.Verify(model);
        if (issues.Count > 0)
            throw new InvalidOperationException($"{archive.Path}: the lowered IR is invalid: {string.Join("; ", issues.Take(5))}");
        return model;
    }

    private static List<object?> Flatten(object? result)
    {
        var list = new List<object?>();
        void Add(object? v)
        {
            if (v is PickleTuple t) foreach (var x in t.Items) Add(x);
            else if (v is List<object?> l) foreach (var x in l) Add(x);
            else list.Add(v);
        }
        Add(result);
        return list;
    }

    private static string TypeText(Expr? e) => e switch
    {
        null => "Tensor",
        NameExpr n => n.Id,
        AttributeExpr a => TypeText(a.Target) + "." + a.Name,
        SubscriptExpr s => $"{TypeText(s.Target)}[{TypeText(s.Index)}]",
        TupleExpr t => string.Join(", ", t.Items.Select(TypeText)),
        ConstExpr { Value: null } => "None",
        _ => "?",
    };

    /// <summary>Removes nodes whose results nobody uses (size computations of folded checks) and unused constants.</summary>
    private static void RemoveDeadCode(Graph graph)
    {
        bool changed = true;
        while (changed)
        {
            changed = false;
            for (var n = graph.LastNode; n is not null;)
            {
                var prev = n.Prev;
                if (n.Outputs.All(o => !o.HasUses))
                {
                    graph.Erase(n);
                    changed = true;
                }
                n = prev;
            }
        }
        foreach (var c in graph.Constants.ToList())
            if (c.Kind == ValueKind.Constant && !c.HasUses) graph.RemoveConstant(c);
    }
}
