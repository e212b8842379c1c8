using System.Diagnostics;
using System.Globalization;
using Alloy.Backend;
using Alloy.IR;
using Alloy.Onnx;
using Alloy.Passes.Precision;
using Alloy.Runtime;
using Alloy.Runtime.Execution;
using Alloy.Runtime.IO;
using Alloy.Runtime.Kernels;
using Alloy.Runtime.Kernels.Managed;

namespace Alloy.Calibration;

/// <summary>
/// Runs the FP32 model in Alloy's runtime over calibration data read from a <c>.npy</c> file in batches and collects
/// the statistics of every float tensor (the graph input and every node result of the main graph) as the batches
/// stream through: min/max in a first pass, a histogram over that range in a second pass for the percentile, entropy
/// and MSE methods. Only one batch's activations are alive at a time, and each is dropped after its last use as in
/// any run. Results are cached on disk by model hash, data hash and method.
/// </summary>
public static class Calibrator
{
    public static CalibrationResult Run(string modelPath, string dataPath, CalibrationOptions? options = null)
    {
        options ??= new CalibrationOptions();
        options.Validate();
        using var model = OnnxImporter.Load(modelPath);
        var modelName = Path.GetFileName(modelPath);
        var input = SingleInput(model, modelName);
        long batchRows = CalibrationData.Validate(dataPath, input, modelName, options.BatchSize);

        string modelHash = CalibrationCache.Sha256OfFile(modelPath), dataHash = CalibrationCache.Sha256OfFile(dataPath);
        string? cachePath = null;
        if (options.CacheDirectory is { } dir)
        {
            cachePath = CalibrationCache.PathFor(dir, options.Method.Name(), CalibrationCache.Key(modelHash, dataHash, options.KeyText));
            if (CalibrationCache.TryRead(cachePath) is { } hit && hit.ModelSha256 == modelHash && hit.DataSha256 == dataHash && hit.Method == options.Method)
                return hit;
        }

        var clock = Stopwatch.StartNew();
        var result = Collect(model, modelName, input, dataPath, batchRows, options) with
        {
            ModelSha256 = modelHash,
            DataSha256 = dataHash,
        };
        result = result with { Elapsed = clock.Elapsed, CachePath = cachePath };
        if (cachePath is not null) CalibrationCache.Write(cachePath, result, options.KeyText);
        return result;
    }

    private static Value SingleInput(Model model, string modelName)
    {
        var inputs = model.Graph.Inputs.Where(v => v.Constant is null).ToList();
        if (inputs.Count != 1)
            throw new CalibrationException($"{modelName} has {inputs.Count} inputs ({string.Join(", ", inputs.Select(v => v.Name))}); calibration from one .npy file needs a model with exactly one input");
        return inputs[0];
    }

    private static CalibrationResult Collect(Model model, string modelName, Value input, string dataPath, long batchRows, CalibrationOptions options)
    {
        var stats = new Dictionary<string, TensorStatistics>(StringComparer.Ordinal);
        TensorStatistics Stat(string name) => stats.TryGetValue(name, out var s) ? s : stats[name] = new TensorStatistics(name);

        // Steps are matched to IR nodes by name: give every unnamed node one (this model is calibration's own copy).
        var resultNames = new Dictionary<string, string[]>(StringComparer.Ordinal);
        int unnamed = 0;
        var taken = new HashSet<string>(model.Graph.Nodes.Select(n => n.Name), StringComparer.Ordinal);
        foreach (var n in model.Graph.Nodes)
        {
            if (n.Name.Length == 0 || resultNames.ContainsKey(n.Name))
            {
                string name;
                do name = string.Create(CultureInfo.InvariantCulture, $"__calibration_{unnamed++}"); while (!taken.Add(name));
                n.Name = name;
            }
            resultNames[n.Name] = n.Outputs.Select(v => v.Name).ToArray();
        }

        // The plan compiler runs a Relu / Clip that alone consumes a result in the producing kernel's epilogue, and
        // that result would never exist to be observed: making it a graph output of this copy keeps both tensors.
        foreach (var n in model.Graph.Nodes.ToList())
            if (n.Outputs.Count == 1 && n.Outputs[0].Uses is [{ Kind: UseKind.Operand, User: { OpType: "Relu" or "Clip", IsDefaultDomain: true } }])
                model.Graph.AddOutput(n.Outputs[0]);

        ExecutionPlan plan;
        try
        {
            plan = PlanCompiler.Compile(model, ManagedKernels.CreateRegistry());
        }
        catch (UnsupportedModelException e)
        {
            throw new CalibrationException($"{modelName} cannot run in Alloy's runtime for calibration: {e.Message}", e);
        }

        bool histogramPass = false;
        void Observe(string name, Tensor t)
        {
            var s = Stat(name);
            var span = t.Span<float>();
            if (histogramPass) s.Histogram?.Add(span);
            else s.Observe(span);
        }

        var steps = plan.Steps.Select(step =>
        {
            var names = resultNames.GetValueOrDefault(step.Node.Name) ?? [];
            return step with
            {
                Kernel = new ObservingKernel(step.Kernel, (i, t) =>
                {
                    if (i < names.Length && names[i].Length > 0) Observe(names[i], t);
                }),
            };
        }).ToList();
        var observed = new ExecutionPlan(plan.Name, plan.SlotCount, plan.Inputs, plan.Captures, plan.Constants, steps, plan.Outputs) { FoldedNodes = plan.FoldedNodes };
        var executor = new PlanExecutor(options.Threads);

        long samples = 0;
        int batches = 0;
        void RunAll(string phase)
        {
            using var reader = NpyReader.Open(dataPath);
            long total = reader.Rows;
            long done = 0;
            foreach (var batch in reader.ReadBatches(batchRows))
            {
                long rows = batch.Shape[0];
                using (batch)
                {
                    if (batch.Type == ElementType.Float) Observe(input.Name, batch);
                    Tensor?[] outputs;
                    try
                    {
                        outputs = executor.Run(observed, new Dictionary<string, Tensor> { [input.Name] = batch });
                    }
                    catch (ExecutionException e)
                    {
                        throw new CalibrationException($"{modelName}: calibration run failed on samples {done}..{done + rows - 1} of {dataPath}: {e.Message}", e);
                    }
                    foreach (var o in outputs) o?.Dispose();
                    done += rows;
                    if (!histogramPass)
                    {
                        samples += rows;
                        batches++;
                    }
                }
                // At most about ten progress lines per pass.
                if (options.Progress is { } progress && (done == total || done * 10 / total != (done - rows) * 10 / total))
                    progress(string.Create(CultureInfo.InvariantCulture, $"calibration {phase}: {done}/{total} samples"));
            }
        }

        RunAll("ranges");
        if (RangeMethods.NeedsHistogram(options.Method, out bool absolute))
        {
            foreach (var s in stats.Values)
                if (s.Count > 0)
                    s.Histogram = absolute ? new Histogram(0, s.MaxAbs, options.Bins, true) : new Histogram(s.Min, s.Max, options.Bins, false);
            histogramPass = true;
            RunAll("histograms");
        }

        var ranges = new Dictionary<string, ValueRange>(StringComparer.Ordinal);
        foreach (var s in stats.Values)
            if (s.Count > 0) ranges[s.Name] = RangeMethods.Range(s, options);
        return new CalibrationResult(options.Method, samples, batches, ranges, "", "")
        {
            NonFiniteActivations = stats.Values.Sum(s => s.NonFinite),
        };
    }
}
