using Alloy.Backend;
using Alloy.IR;
using Alloy.Runtime;
using Alloy.Runtime.Execution;
using Alloy.Runtime.Kernels;
using Alloy.Runtime.Kernels.Managed;

namespace Alloy.Tuning;

/// <summary>
/// A candidate ready to evaluate: its configuration, its compiled model and cost, and <see cref="Run"/>, which
/// runs inputs of any number of rows on Alloy's runtime in batches, one plan per worker on all cores.
/// </summary>
public sealed class CompiledCandidate : IDisposable
{
    private readonly int _workers;
    private readonly int _batchSize;
    private readonly Func<KernelRegistry> _kernels;
    private ExecutionPlan[]? _plans;

    internal CompiledCandidate(CandidateSpec spec, Model model, double bitOps, double relativeBitOps, int workers, int batchSize, Func<KernelRegistry>? kernels = null)
    {
        Spec = spec;
        Model = model;
        BitOps = bitOps;
        RelativeBitOps = relativeBitOps;
        _workers = Math.Max(1, workers);
        _batchSize = Math.Max(1, batchSize);
        _kernels = kernels ?? ManagedKernels.CreateRegistry;
    }

    /// <summary>Wraps a model as it is (the FP32 reference, a model tuned earlier) so it can be run in batches.</summary>
    public static CompiledCandidate ForModel(Model model, int workers = 0, int batchSize = 64) =>
        new(CandidateSpec.Baseline, model, BitOpsCostModel.BitOps(model), 1, workers > 0 ? workers : Environment.ProcessorCount, batchSize);

    public CandidateSpec Spec { get; }

    /// <summary>Stops <see cref="Run"/> when the tuning run is cancelled.</summary>
    public CancellationToken Cancellation { get; init; }

    /// <summary>The candidate's model after the pipeline (precisions annotated, casts inserted).</summary>
    public Model Model { get; }

    /// <summary>Cost in bit-operations (<see cref="BitOpsCostModel"/>).</summary>
    public double BitOps { get; }

    /// <summary>Cost relative to the FP32 model.</summary>
    public double RelativeBitOps { get; }

    /// <summary>The graph's input names (without initializers).</summary>
    public IReadOnlyList<string> InputNames => Model.Graph.Inputs.Where(v => v.Constant is null).Select(v => v.Name).ToList();

    public IReadOnlyList<string> OutputNames => Model.Graph.Outputs.Select(v => v.Name).ToList();

    /// <summary>
    /// Runs all rows of <paramref name="inputs"/> (every input split along dimension 0) and returns each output
    /// with the rows stacked again. The caller owns the outputs.
    /// </summary>
    public Tensor[] Run(IReadOnlyDictionary<string, Tensor> inputs, CancellationToken cancellation = default)
    {
        if (!cancellation.CanBeCanceled) cancellation = Cancellation;
        if (inputs.Count == 0) throw new TuningException($"{Model.SourcePath ?? Model.Graph.Name}: no inputs were given");
        long rows = -1;
        foreach (var (name, t) in inputs)
        {
            long r = TensorRows.Rows(t);
            if (t.Rank == 0 || (rows >= 0 && r != rows))
                throw new TuningException($"input '{name}' has shape {t.ShapeText}: every input needs the same number of rows (dimension 0)");
            rows = r;
        }
        if (rows == 0) throw new TuningException("the inputs have no rows");
        var plans = Plans();
        int batches = (int)((rows + _batchSize - 1) / _batchSize);
        var results = new Tensor[batches][];
        int next = -1;
        Exception? failure = null;
        void Worker(int w)
        {
            var executor = new PlanExecutor(1);
            while (failure is null && !cancellation.IsCancellationRequested)
            {
                int b = Interlocked.Increment(ref next);
                if (b >= batches) return;
                long start = (long)b * _batchSize, count = Math.Min(_batchSize, rows - start);
                var batch = new Dictionary<string, Tensor>(StringComparer.Ordinal);
                try
                {
                    foreach (var (name, t) in inputs) batch[name] = TensorRows.Slice(t, start, count);
                    var outs = executor.Run(plans[w], batch);
                    results[b] = outs.Select((o, i) => o ?? throw new TuningException($"output '{plans[w].Outputs[i].Name}' was not produced")).ToArray();
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref failure, e, null);
                }
                finally
                {
                    foreach (var t in batch.Values) t.Dispose();
                }
            }
        }
        int workers = Math.Min(plans.Length, batches);
        var threads = Enumerable.Range(1, Math.Max(0, workers - 1)).Select(w => new Thread(() => Worker(w)) { IsBackground = true }).ToList();
        threads.ForEach(t => t.Start());
        Worker(0);
        threads.ForEach(t => t.Join());
        try
        {
            cancellation.ThrowIfCancellationRequested();
            if (failure is ExecutionException ee) throw new TuningException($"{Model.SourcePath ?? Model.Graph.Name}: candidate {Spec.Key}: {ee.Message}", ee);
            if (failure is not null) throw new TuningException($"{Model.SourcePath ?? Model.Graph.Name}: candidate {Spec.Key}: {failure.Message}", failure);
            int outputs = results[0].Length;
            var stacked = new Tensor[outputs];
            for (int i = 0; i < outputs; i++) stacked[i] = TensorRows.Concat(results.Select(r => r[i]).ToList());
            return stacked;
        }
        finally
        {
            foreach (var r in results)
                if (r is not null)
                    foreach (var t in r) t.Dispose();
        }
    }

    private ExecutionPlan[] Plans()
    {
        if (_plans is not null) return _plans;
        var plans = new ExecutionPlan[_workers];
        try
        {
            for (int i = 0; i < plans.Length; i++) plans[i] = PlanCompiler.Compile(Model, _kernels());
        }
        catch (UnsupportedModelException e)
        {
            throw new TuningException($"{Model.SourcePath ?? Model.Graph.Name}: candidate {Spec.Key} cannot run on Alloy's runtime: {e.Message}", e);
        }
        return _plans = plans;
    }

    public void Dispose() => Model.Dispose();
}
