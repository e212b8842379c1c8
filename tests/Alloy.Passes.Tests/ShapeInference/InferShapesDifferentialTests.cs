using Alloy.Onnx;
using Alloy.Runtime;
using Alloy.Testing;
using Xunit;
using static Alloy.Passes.Tests.Casts.CastTestKit;

namespace Alloy.Passes.Tests.ShapeInference;

/// <summary>
/// infer-shapes only adds types: the reference runtime gives bit-identical outputs before and after it, on every
/// corpus model, with all node-result types forgotten first (so the runtime works from the inferred ones).
/// </summary>
public sealed class InferShapesDifferentialTests
{
    public static TheoryData<string> Models() => InferShapesCorpusTests.Models();

    [Theory]
    [MemberData(nameof(Models))]
    public void OutputsAreIdenticalAfterInferShapes(string relative)
    {
        var path = Path.Combine(RepoPaths.CorpusModels, relative);
        using var before = OnnxImporter.Load(path);
        using var after = OnnxImporter.Load(path);
        InferenceHarness.StripNodeResultTypes(after);
        Run(after, "infer-shapes");
        var inputs = RandomInputs(before, seed: 5, batch: 2);
        var expected = Execute(before, inputs);
        var actual = Execute(after, inputs);
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i].Shape.ToArray(), actual[i].Shape.ToArray());
            Assert.True(expected[i].Bytes.SequenceEqual(actual[i].Bytes), $"{relative}: output {i} differs after infer-shapes");
        }
        foreach (var t in inputs.Values) t.Dispose();
    }
}
