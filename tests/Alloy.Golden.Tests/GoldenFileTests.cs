using Alloy.Testing;
using Xunit;

namespace Alloy.Golden.Tests;

public sealed class GoldenFileTests
{
    [Fact]
    public void MismatchShowsLineDiffAndUpdateCommand()
    {
        if (GoldenFile.UpdateRequested) return; // this test checks comparison mode only
        var path = Path.Combine(Path.GetTempPath(), $"golden-{Guid.NewGuid():N}.expected.ir");
        File.WriteAllText(path, "a\nb\nc\nd\n");
        try
        {
            var failure = GoldenFile.Check(path, "a\nb\nX\nd\n");
            Assert.NotNull(failure);
            Assert.Contains("-c\n", failure);
            Assert.Contains("+X\n", failure);
            Assert.Contains("@@ line 3 @@", failure);
            Assert.Contains("UPDATE_GOLDEN=1", failure);
            Assert.Null(GoldenFile.Check(path, "a\nb\nc\nd\n"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void MissingGoldenFileIsAFailureNotAPass()
    {
        if (GoldenFile.UpdateRequested) return;
        var failure = GoldenFile.Check(Path.Combine(Path.GetTempPath(), $"missing-{Guid.NewGuid():N}.expected.ir"), "x");
        Assert.NotNull(failure);
        Assert.Contains("does not exist", failure);
    }

    [Fact]
    public void UpdateIsRefusedInCiAndWritesOtherwise()
    {
        var path = Path.Combine(Path.GetTempPath(), $"golden-{Guid.NewGuid():N}.expected.ir");
        try
        {
            var refused = GoldenFile.Check(path, "new\n", update: true, inCi: true);
            Assert.NotNull(refused);
            Assert.Contains("refused", refused);
            Assert.False(File.Exists(path));
            Assert.Null(GoldenFile.Check(path, "new\n", update: true, inCi: false));
            Assert.Equal("new\n", File.ReadAllText(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void LineDiffReportsInsertionsAndDeletions()
    {
        var diff = LineDiff.Format("1\n2\n3\n", "1\n3\n4\n");
        Assert.Contains("-2\n", diff);
        Assert.Contains("+4\n", diff);
        Assert.DoesNotContain("-1\n", diff);
    }
}
