using Xunit;
using Xunit.Abstractions;

namespace Alloy.Onnx.Tests;

/// <summary>Every ONNX conformance model (libonnx-testdata) survives import → verify → export semantically unchanged.</summary>
public sealed class ConformanceRoundTripTests(ConformanceFixture fixture, ITestOutputHelper output) : IClassFixture<ConformanceFixture>
{
    public const int ExpectedModelCount = 1072;
    private const string Missing = "<conformance models missing>";

    public static IEnumerable<object[]> Models()
    {
        var models = TestEnvironment.ConformanceModels();
        if (models is null || models.Count == 0)
        {
            yield return [Missing];
            yield break;
        }
        foreach (var m in models) yield return [m];
    }

    /// <summary>Writes the stage counts to the test output (the per-model cases carry the assertions).</summary>
    [Fact]
    public void Summary()
    {
        output.WriteLine(fixture.Summary());
        Assert.True(fixture.SetupError is null, fixture.SetupError);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void RoundTripIsSemanticallyIdentical(string model)
    {
        Assert.True(model != Missing, TestEnvironment.MissingConformanceMessage);
        fixture.AssertRoundTrip(model);
    }

    [Fact]
    public void EveryConformanceModelIsACase()
    {
        var models = TestEnvironment.ConformanceModels();
        Assert.True(models is not null, TestEnvironment.MissingConformanceMessage);
        Assert.Equal(ExpectedModelCount, models!.Count);
        Assert.Equal(ExpectedModelCount, Models().Count());
    }
}
