using Alloy.Backend;
using Alloy.IR;
using Alloy.Onnx;
using Alloy.Runtime;
using Alloy.Runtime.Execution;
using Alloy.Runtime.IO;
using Alloy.Runtime.Kernels.Managed;
using Xunit;

namespace Alloy.Calibration.Tests;

/// <summary>
/// Calibrated statistics against an exact reference: every node result of the model made a graph output, run over
/// the same batches, all values kept, then min/max and sorted-order percentiles computed directly.
/// </summary>
public sealed class CalibrationStatisticsTests
{
    private const int Batch = 32;

    /// <summary>All values of every float tensor (the input and every node result) over the calibration set.</summary>
    private static Dictionary<string, List<float>> ReferenceValues(string modelPath, string dataPath)
    {
        using var model = OnnxImporter.Load(modelPath);
        var outputs = model.Graph.Outputs.ToHashSet();
        foreach (var n in model.Graph.Nodes)
            foreach (var v in n.Outputs)
                if (v.Name.Length > 0 && !outputs.Contains(v) && v.Type is null or TensorType { ElementType: DataType.Float or DataType.Undefined }) model.Graph.AddOutput(v);
        var plan = PlanCompiler.Compile(model, ManagedKernels.CreateRegistry());
        var values = new Dictionary<string, List<float>>(StringComparer.Ordinal);
        var inputName = plan.Inputs[0].Name;
        using var reader = NpyReader.Open(dataPath);
        foreach (var batch in reader.ReadBatches(Batch))
        {
            using (batch)
            {
                Add(values, inputName, batch);
                var results = new PlanExecutor(0).Run(plan, new Dictionary<string, Tensor> { [inputName] = batch });
                for (int i = 0; i < results.Length; i++)
                    using (results[i])
                        if (results[i] is { Type: ElementType.Float } t) Add(values, plan.Outputs[i].Name, t);
            }
        }
        return values;
    }

    private static void Add(Dictionary<string, List<float>> values, string name, Tensor t)
    {
        if (!values.TryGetValue(name, out var list)) values[name] = list = [];
        list.AddRange(t.ToArray<float>());
    }

    [Theory]
    [InlineData("digits_cnn", 17)]
    [InlineData("digits_transformer", 13)]
    public void MinMaxIsTheExactSmallestAndLargestValue(string name, int opset)
    {
        var path = Int8TestKit.ModelPath(name, opset);
        var data = Path.Combine(Int8TestKit.TrainedDir(name), "calib_input.npy");
        var reference = ReferenceValues(path, data);
        var result = Calibrator.Run(path, data, new CalibrationOptions { Method = CalibrationMethod.MinMax, BatchSize = Batch });
        Assert.Equal(256, result.Samples);
        Assert.Equal(8, result.Batches);
        // Every tensor the runtime computes is observed (results the backend folded into constants at compile time are not).
        Assert.Subset(reference.Keys.ToHashSet(), result.Ranges.Keys.ToHashSet());
        using (var model = OnnxImporter.Load(path))
            foreach (var n in model.Graph.Nodes.Where(n => n.OpType is "Conv" or "MatMul" or "Gemm" or "Relu" or "Softmax"))
                Assert.Contains(n.Outputs[0].Name, result.Ranges.Keys);
        foreach (var (tensor, values) in reference)
        {
            if (!result.Ranges.ContainsKey(tensor)) continue;
            Assert.Equal(values.Min(), result.Ranges[tensor].Min);
            Assert.Equal(values.Max(), result.Ranges[tensor].Max);
        }
    }

    [Theory]
    [InlineData(99.99)]
    [InlineData(99.0)]
    [InlineData(90.0)]
    public void PercentileIsWithinOneBinOfTheExactPercentile(double p)
    {
        var path = Int8TestKit.ModelPath("digits_cnn", 13);
        var data = Path.Combine(Int8TestKit.TrainedDir("digits_cnn"), "calib_input.npy");
        var reference = ReferenceValues(path, data);
        var options = new CalibrationOptions { Method = CalibrationMethod.Percentile, Percentile = p, BatchSize = Batch };
        var result = Calibrator.Run(path, data, options);
        foreach (var (tensor, values) in reference)
        {
            if (!result.Ranges.ContainsKey(tensor)) continue;
            var sorted = values.Select(v => (double)v).Order().ToArray();
            int n = sorted.Length;
            double min = sorted[0], max = sorted[^1], width = (max - min) / options.Bins, slack = 1e-9 * Math.Max(1, Math.Abs(max) + Math.Abs(min));
            double exactLow = sorted[(int)Math.Floor((100 - p) / 100 * n)];
            double exactHigh = sorted[Math.Max(0, (int)Math.Ceiling(p / 100 * n) - 1)];
            var r = result.Ranges[tensor];
            Assert.InRange(r.Min, exactLow - width - slack, exactLow + slack);
            Assert.InRange(r.Max, exactHigh - slack, exactHigh + width + slack);
        }
    }

    [Fact]
    public void EntropyAndMseClipInsideTheObservedRange()
    {
        var path = Int8TestKit.ModelPath("digits_cnn", 17);
        var data = Path.Combine(Int8TestKit.TrainedDir("digits_cnn"), "calib_input.npy");
        var minmax = Calibrator.Run(path, data, new CalibrationOptions { Method = CalibrationMethod.MinMax });
        foreach (var method in new[] { CalibrationMethod.Entropy, CalibrationMethod.Mse })
        {
            var result = Calibrator.Run(path, data, new CalibrationOptions { Method = method });
            foreach (var (tensor, r) in result.Ranges)
            {
                var full = minmax.Ranges[tensor];
                Assert.InRange(r.Min, full.Min, 0);
                Assert.InRange(r.Max, Math.Min(0, full.Max), full.Max);
                // The threshold is at least the 128th bin of 2048 (entropy) or the first (MSE).
                Assert.True(Math.Max(-r.Min, r.Max) >= Math.Max(-full.Min, full.Max) / 2048 * (method == CalibrationMethod.Entropy ? 128 : 1) - 1e-9, $"{method} {tensor}");
            }
        }
    }

    [Fact]
    public void EntropyKeepsAThresholdWithNoInformationLossAndMseMinimisesTheError()
    {
        // N values below t and one outlier at 10000: the expected error N·(t/255)²/12 + (10000 − t)² is least at
        // t* = 10000 / (1 + N / (255² · 12)); the method finds it to within a bin.
        const int n = 100_000;
        var h = new Histogram(0, 10000, 2048, absolute: true);
        h.Add(Enumerable.Range(0, n).Select(i => (float)(i % 1000)).Append(10000f).ToArray());
        double optimum = 10000 / (1 + n / (255.0 * 255 * 12));
        Assert.InRange(RangeMethods.MseThreshold(h, signed: false), optimum - h.Width, optimum + h.Width);
        // A histogram with as many occupied bins as quantization levels loses nothing at the full range.
        var exact = new Histogram(0, 2048, 2048, absolute: true);
        exact.Add(Enumerable.Range(0, 128).Select(i => (float)(i * 16 + 8)).ToArray());
        Assert.InRange(RangeMethods.EntropyThreshold(exact), 2040, 2048);
    }
}
