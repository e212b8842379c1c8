using Alloy.Runtime;
using Alloy.Runtime.IO;
using Xunit;

namespace Alloy.Calibration.Tests;

/// <summary>Bad calibration data gets a clear error naming the file and the reason before anything runs (no cache entry is written).</summary>
public sealed class CalibrationDataTests
{
    private static void AssertRejected(string model, Tensor data, string fragment)
    {
        var dir = Int8TestKit.TempDir();
        try
        {
            var path = Path.Combine(dir, "calib.npy");
            using (data) NpyFile.Write(path, data);
            var cache = Path.Combine(dir, "cache");
            var e = Assert.Throws<CalibrationException>(() => Calibrator.Run(Int8TestKit.ModelPath(model, 17), path,
                new CalibrationOptions { Method = CalibrationMethod.Entropy, CacheDirectory = cache }));
            Assert.Contains(path, e.Message);
            Assert.Contains(fragment, e.Message);
            Assert.False(Directory.Exists(cache) && Directory.EnumerateFileSystemEntries(cache).Any());
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static float[] Zeros(int n) => new float[n];

    [Fact]
    public void WrongShape() => AssertRejected("digits_cnn", Tensor.FromFloats([4, 1, 8, 9], Zeros(4 * 72)), "has 9 in dimension 3, but input 'input' of digits_cnn.opset17.onnx needs 8");

    [Fact]
    public void WrongRank() => AssertRejected("digits_cnn", Tensor.FromFloats([4, 64], Zeros(4 * 64)), "has rank 2, but input 'input' of digits_cnn.opset17.onnx has rank 4");

    [Fact]
    public void WrongElementType() => AssertRejected("digits_mlp", Tensor.FromArray<double>(ElementType.Double, [4, 64], new double[256]), "element type is f64, but input 'input' of digits_mlp.opset17.onnx is f32");

    [Fact]
    public void IntegerData() => AssertRejected("digits_mlp", Tensor.FromArray<long>(ElementType.Int64, [4, 64], new long[256]), "element type is i64");

    [Fact]
    public void Empty() => AssertRejected("digits_mlp", Tensor.FromFloats([0, 64], []), "it is empty");

    [Fact]
    public void NaN()
    {
        var values = Zeros(3 * 64);
        values[2 * 64 + 5] = float.NaN;
        AssertRejected("digits_mlp", Tensor.FromFloats([3, 64], values), "sample 2 holds NaN (element 5 of the sample)");
    }

    [Fact]
    public void Infinity()
    {
        var values = Zeros(3 * 64);
        values[7] = float.NegativeInfinity;
        AssertRejected("digits_mlp", Tensor.FromFloats([3, 64], values), "sample 0 holds -Inf");
    }

    [Fact]
    public void ZeroDimensional() => AssertRejected("digits_mlp", Tensor.FromFloats([], [1f]), "a 0-d array has no samples");

    [Fact]
    public void MissingFile()
    {
        var e = Assert.Throws<CalibrationException>(() => Calibrator.Run(Int8TestKit.ModelPath("digits_mlp", 17), "/nonexistent/calib.npy"));
        Assert.Contains("/nonexistent/calib.npy", e.Message);
    }

    [Fact]
    public void BadOptions()
    {
        var data = Path.Combine(Int8TestKit.TrainedDir("digits_mlp"), "calib_input.npy");
        Assert.Contains("percentile", Assert.Throws<CalibrationException>(() => Calibrator.Run(Int8TestKit.ModelPath("digits_mlp", 17), data, new CalibrationOptions { Percentile = 101 })).Message);
        Assert.Contains("unknown calibration method 'kmeans'", Assert.Throws<CalibrationException>(() => CalibrationMethods.Parse("kmeans")).Message);
    }
}
