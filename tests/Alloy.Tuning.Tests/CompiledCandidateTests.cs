using Alloy.Onnx;
using Alloy.Runtime.Numerics;
using Xunit;

namespace Alloy.Tuning.Tests;

/// <summary>Batched, multi-worker runs give the same rows in the same order as one whole run, and match torch's reference.</summary>
public sealed class CompiledCandidateTests
{
    [Fact]
    public void BatchesOnSeveralWorkersStackToTheWholeRun()
    {
        using var input = TuningTestKit.Rows("digits_cnn", "eval_input.npy", 100);
        using var reference = TuningTestKit.Rows("digits_cnn", "ref_logits.npy", 100);
        var model = OnnxImporter.Load(TuningTestKit.Onnx("digits_cnn", 17));
        var name = model.Graph.Inputs.Single(v => v.Constant is null).Name;
        var inputs = new Dictionary<string, Alloy.Runtime.Tensor> { [name] = input };

        using var whole = CompiledCandidate.ForModel(model, workers: 1, batchSize: 1000);
        var a = whole.Run(inputs);
        using var copy = CompiledCandidate.ForModel(OnnxImporter.Load(TuningTestKit.Onnx("digits_cnn", 17)), workers: 3, batchSize: 7);
        var b = copy.Run(inputs);
        try
        {
            Assert.Equal([100L, 10L], b[0].Shape);
            Assert.True(a[0].Bytes.SequenceEqual(b[0].Bytes), "batched outputs differ from the whole run");
            var got = ElementConvert.ToDoubles(b[0]);
            var want = ElementConvert.ToDoubles(reference);
            for (int i = 0; i < want.Length; i++) Assert.True(Math.Abs(got[i] - want[i]) <= 1e-4 * Math.Max(1, Math.Abs(want[i])), $"logit {i}: {got[i]} vs torch {want[i]}");
        }
        finally
        {
            foreach (var t in a.Concat(b)) t.Dispose();
        }
    }

    [Fact]
    public void EmptyOrMisshapenInputsAreErrors()
    {
        using var candidate = CompiledCandidate.ForModel(OnnxImporter.Load(TuningTestKit.Onnx("digits_mlp", 17)));
        using var empty = Alloy.Runtime.Tensor.Create(Alloy.Runtime.ElementType.Float, [0, 64]);
        var name = candidate.InputNames.Single();
        Assert.Contains("no rows", Assert.Throws<TuningException>(() => candidate.Run(new Dictionary<string, Alloy.Runtime.Tensor> { [name] = empty })).Message);
        using var wrong = TuningTestKit.Rows("digits_cnn", "eval_input.npy", 4);
        var e = Assert.Throws<TuningException>(() => candidate.Run(new Dictionary<string, Alloy.Runtime.Tensor> { [name] = wrong }));
        Assert.Contains("shape", e.Message);
    }
}
