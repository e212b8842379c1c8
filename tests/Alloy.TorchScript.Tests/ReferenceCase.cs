using System.Collections.Immutable;
using Alloy.Backend;
using Alloy.IR;
using Alloy.Onnx;
using Alloy.Runtime;
using Alloy.Runtime.IO;
using Alloy.Testing;
using Alloy.TorchScript;

namespace Alloy.TorchScript.Tests;

/// <summary>
/// A TorchScript archive with torch's reference inputs and outputs: the corpus's <c>test_data_set_0/*.pb</c>
/// (shared with the ONNX twin) or the fixture script's <c>&lt;stem&gt;.input_N.npy</c> / <c>.output_N.npy</c>.
/// Reference inputs map to <c>forward</c>'s parameters by position.
/// </summary>
public sealed class ReferenceCase : IDisposable
{
    private ReferenceCase(string path, List<Tensor> inputs, List<Tensor> outputs)
    {
        Path = path;
        Inputs = inputs;
        Outputs = outputs;
    }

    public string Path { get; }
    public List<Tensor> Inputs { get; }
    public List<Tensor> Outputs { get; }

    /// <summary>Every .pt file of the corpus, relative to its models folder, sorted.</summary>
    public static IReadOnlyList<string> CorpusArchives() =>
        Directory.EnumerateFiles(RepoPaths.CorpusModels, "*.pt", SearchOption.AllDirectories)
            .Select(p => System.IO.Path.GetRelativePath(RepoPaths.CorpusModels, p).Replace('\\', '/'))
            .Order(StringComparer.Ordinal).ToList();

    public static ReferenceCase Load(string path)
    {
        var inputs = new List<Tensor>();
        var outputs = new List<Tensor>();
        var dir = System.IO.Path.GetDirectoryName(path)!;
        var stem = System.IO.Path.GetFileNameWithoutExtension(path);
        if (File.Exists(System.IO.Path.Combine(dir, $"{stem}.input_0.npy")))
        {
            for (int i = 0; File.Exists(System.IO.Path.Combine(dir, $"{stem}.input_{i}.npy")); i++) inputs.Add(NpyFile.Read(System.IO.Path.Combine(dir, $"{stem}.input_{i}.npy")));
            for (int i = 0; File.Exists(System.IO.Path.Combine(dir, $"{stem}.output_{i}.npy")); i++) outputs.Add(NpyFile.Read(System.IO.Path.Combine(dir, $"{stem}.output_{i}.npy")));
        }
        else
        {
            var data = System.IO.Path.Combine(dir, "test_data_set_0");
            for (int i = 0; File.Exists(System.IO.Path.Combine(data, $"input_{i}.pb")); i++) inputs.Add(ConstantTensors.ToTensor(OnnxTensorFile.Read(System.IO.Path.Combine(data, $"input_{i}.pb")).Value));
            for (int i = 0; File.Exists(System.IO.Path.Combine(data, $"output_{i}.pb")); i++) outputs.Add(ConstantTensors.ToTensor(OnnxTensorFile.Read(System.IO.Path.Combine(data, $"output_{i}.pb")).Value));
        }
        if (inputs.Count == 0 || outputs.Count == 0) throw new InvalidOperationException($"{path}: no reference inputs/outputs beside it");
        return new ReferenceCase(path, inputs, outputs);
    }

    /// <summary>Input types from the reference inputs, with the batch dimension symbolic (N).</summary>
    public TorchScriptImportOptions Options(IReadOnlyList<string> parameterNames)
    {
        var types = new Dictionary<string, TensorType>();
        for (int i = 0; i < Inputs.Count && i < parameterNames.Count; i++)
        {
            var t = Inputs[i];
            var dims = t.Shape.Select((d, k) => k == 0 ? Dim.Named("N") : Dim.Of(d)).ToImmutableArray();
            types[parameterNames[i]] = new TensorType((DataType)(int)t.Type, new Shape(dims));
        }
        return new TorchScriptImportOptions { InputTypes = types };
    }

    /// <summary>Imports the archive with input types taken from the reference inputs.</summary>
    public Model Import()
    {
        return TorchScriptImporter.Load(Path, Options(TorchScriptImporter.InputNames(Path)));
    }

    public Dictionary<string, Tensor> Feed(Model model)
    {
        var feed = new Dictionary<string, Tensor>();
        for (int i = 0; i < model.Graph.Inputs.Count; i++) feed[model.Graph.Inputs[i].Name] = Inputs[i];
        return feed;
    }

    public void Dispose()
    {
        foreach (var t in Inputs) t.Dispose();
        foreach (var t in Outputs) t.Dispose();
    }
}
