using System.Text.Json;
using Alloy.Backend;
using Alloy.IR;
using Alloy.Onnx;
using Alloy.Runtime;
using Alloy.Runtime.Execution;
using Alloy.Runtime.IO;
using Alloy.Runtime.Kernels.Managed;
using Alloy.Runtime.Numerics;
using Alloy.Testing;

namespace Alloy.Tuning.Tests;

/// <summary>The trained corpus models, data subsets, and an SQNR evaluation against torch's reference logits.</summary>
public static class TuningTestKit
{
    public static readonly string[] TrainedNames = ["digits_cnn", "digits_gru", "digits_mlp", "digits_transformer"];

    public static string Dir(string name) => Path.Combine(RepoPaths.CorpusModels, "trained", name);

    /// <summary>
    /// BF16 with every op allowed to run low (<c>schema=alloy</c>): the digits CNN's convolutions then form layer
    /// groups, which the strategy tests need (ONNX admits a bfloat16 Conv only from opset 22).
    /// </summary>
    public static MixedPrecisionConfig AlloyBf16 => new(["bf16", "fp32"]) { AllowNonstandardTypes = true };

    public static string Onnx(string name, int opset) => Path.Combine(Dir(name), $"{name}.opset{opset}.onnx");

    public static double Fp32Accuracy(string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir(name), "model.json")));
        return doc.RootElement.GetProperty("fp32_accuracy").GetDouble();
    }

    public static string TempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "alloy-tune-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>The first <paramref name="rows"/> rows of a corpus array.</summary>
    public static Tensor Rows(string name, string file, int rows)
    {
        using var all = NpyFile.Read(Path.Combine(Dir(name), file));
        return TensorRows.Slice(all, 0, Math.Min(rows, all.Shape[0]));
    }

    /// <summary>Writes the first rows of a corpus array to <paramref name="dir"/> and returns the path.</summary>
    public static string Subset(string name, string file, int rows, string dir)
    {
        using var t = Rows(name, file, rows);
        var path = Path.Combine(dir, $"{name}.{rows}.{file}");
        NpyFile.Write(path, t);
        return path;
    }

    /// <summary>
    /// An evaluation: SQNR (dB, capped at 100) of the candidate's logits against torch's FP32 reference logits on
    /// the first rows of the evaluation set. Counts its calls and the candidates it saw.
    /// </summary>
    public sealed class SqnrAgainstTorch : IDisposable
    {
        private readonly Tensor _input;
        private readonly Tensor _reference;
        private readonly string _inputName;

        public SqnrAgainstTorch(string name, Model model, int rows)
        {
            _input = Rows(name, "eval_input.npy", rows);
            _reference = Rows(name, "ref_logits.npy", rows);
            _inputName = model.Graph.Inputs.Single(v => v.Constant is null).Name;
        }

        public List<string> Evaluated { get; } = [];

        public Action? AfterEach { get; set; }

        public IReadOnlyDictionary<string, Tensor> Inputs => new Dictionary<string, Tensor> { [_inputName] = _input };

        public double Evaluate(CompiledCandidate c)
        {
            var outs = c.Run(Inputs);
            try
            {
                lock (Evaluated) Evaluated.Add(c.Spec.Key);
                return FidelityMetrics.Sqnr([_reference], [outs[0]]);
            }
            finally
            {
                foreach (var o in outs) o.Dispose();
                AfterEach?.Invoke();
            }
        }

        public void Dispose()
        {
            _input.Dispose();
            _reference.Dispose();
        }
    }

    /// <summary>Runs a saved model on Alloy's runtime (one batch) and returns its first output.</summary>
    public static Tensor RunSaved(string onnxPath, Tensor input)
    {
        using var m = OnnxImporter.Load(onnxPath);
        var plan = PlanCompiler.Compile(m, ManagedKernels.CreateRegistry());
        var name = m.Graph.Inputs.Single(v => v.Constant is null).Name;
        var outs = new PlanExecutor().Run(plan, new Dictionary<string, Tensor> { [name] = input });
        for (int i = 1; i < outs.Length; i++) outs[i]?.Dispose();
        return outs[0]!;
    }

    /// <summary>Top-1 accuracy computed here, independently of the tuner's metric code.</summary>
    public static double Top1(Tensor logits, Tensor labels)
    {
        var v = ElementConvert.ToDoubles(logits);
        var y = ElementConvert.ToLongs(labels);
        int n = (int)logits.Shape[0], k = (int)logits.Shape[1], correct = 0;
        for (int i = 0; i < n; i++)
        {
            int best = 0;
            for (int j = 1; j < k; j++) if (v[i * k + j] > v[i * k + best]) best = j;
            if (best == y[i]) correct++;
        }
        return correct / (double)n;
    }

    public static JsonElement ReadJson(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.Clone();
    }
}
