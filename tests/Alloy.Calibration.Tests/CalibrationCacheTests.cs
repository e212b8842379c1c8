using Xunit;

namespace Alloy.Calibration.Tests;

/// <summary>The statistics cache: a miss computes and writes, a hit returns the same ranges without running; the key covers model, data and method.</summary>
public sealed class CalibrationCacheTests
{
    [Fact]
    public void HitsAndMisses()
    {
        var dir = Int8TestKit.TempDir();
        try
        {
            var model = Int8TestKit.ModelPath("digits_mlp", 17);
            var data = Path.Combine(Int8TestKit.TrainedDir("digits_mlp"), "calib_input.npy");
            var cache = Path.Combine(dir, "cache");
            var options = new CalibrationOptions { Method = CalibrationMethod.Percentile, CacheDirectory = cache };

            var first = Calibrator.Run(model, data, options);
            Assert.False(first.CacheHit);
            Assert.True(File.Exists(first.CachePath));
            Assert.Single(Directory.GetFiles(cache));

            var second = Calibrator.Run(model, data, options);
            Assert.True(second.CacheHit);
            Assert.Equal(first.CachePath, second.CachePath);
            Assert.Equal(first.Samples, second.Samples);
            Assert.Equal(first.Ranges.OrderBy(k => k.Key), second.Ranges.OrderBy(k => k.Key));

            // Another method, another percentile, other data and another model are misses with files of their own.
            Assert.False(Calibrator.Run(model, data, options with { Method = CalibrationMethod.MinMax }).CacheHit);
            Assert.False(Calibrator.Run(model, data, options with { Percentile = 99.9 }).CacheHit);
            var otherData = Path.Combine(dir, "half.npy");
            using (var reader = Alloy.Runtime.IO.NpyReader.Open(data))
            using (var half = reader.ReadRows(128)!)
                Alloy.Runtime.IO.NpyFile.Write(otherData, half);
            var fromHalf = Calibrator.Run(model, otherData, options);
            Assert.False(fromHalf.CacheHit);
            Assert.Equal(128, fromHalf.Samples);
            Assert.False(Calibrator.Run(Int8TestKit.ModelPath("digits_mlp", 13), data, options).CacheHit); // different bytes: opset 13
            Assert.Equal(5, Directory.GetFiles(cache).Length);

            // A damaged entry is recomputed and rewritten, never trusted.
            File.WriteAllText(first.CachePath!, "{ not json");
            var repaired = Calibrator.Run(model, data, options);
            Assert.False(repaired.CacheHit);
            Assert.True(Calibrator.Run(model, data, options).CacheHit);
            Assert.Empty(Directory.GetFiles(cache, "*.tmp"));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
