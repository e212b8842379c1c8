using Alloy.IR;
using Alloy.Runtime;
using Alloy.Runtime.IO;

namespace Alloy.Calibration;

/// <summary>
/// Checks calibration data against the model's input before anything runs: one float array whose element type, rank
/// and fixed dimensions match the input, at least one row, and no NaN or infinity (scanned in streamed chunks).
/// </summary>
public static class CalibrationData
{
    /// <summary>Bytes read at a time while scanning the data for NaN and infinity.</summary>
    private const long ScanChunkBytes = 64L << 20;

    /// <summary>Rows to run at once: the model's static batch size when it has one, else <paramref name="batchSize"/>.</summary>
    public static long Validate(string dataPath, Value input, string modelName, int batchSize)
    {
        NpyReader reader;
        try
        {
            reader = NpyReader.Open(dataPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CalibrationException($"calibration data {dataPath}: {e.Message}", e);
        }
        using (reader)
        {
            var tt = input.Type as TensorType;
            var expected = tt?.ElementType ?? DataType.Undefined;
            if (expected != DataType.Undefined && (int)reader.Type != (int)expected)
                throw new CalibrationException($"calibration data {dataPath}: element type is {reader.Type.Name()}, but input '{input.Name}' of {modelName} is {expected.ShortName()}");
            if (!reader.Type.IsFloat())
                throw new CalibrationException($"calibration data {dataPath}: element type is {reader.Type.Name()}; calibration needs float data");
            var shape = reader.Shape;
            if (shape.Length == 0)
                throw new CalibrationException($"calibration data {dataPath}: a 0-d array has no samples (shape (){ExpectedText(tt)})");
            if (tt?.Shape is { } s)
            {
                if (s.Rank != shape.Length)
                    throw new CalibrationException($"calibration data {dataPath}: shape {reader.Header.ShapeText} has rank {shape.Length}, but input '{input.Name}' of {modelName} has rank {s.Rank}{ExpectedText(tt)}");
                for (int d = 1; d < shape.Length; d++)
                    if (s.Dims[d].Size is { } size && size != shape[d])
                        throw new CalibrationException($"calibration data {dataPath}: shape {reader.Header.ShapeText} has {shape[d]} in dimension {d}, but input '{input.Name}' of {modelName} needs {size}{ExpectedText(tt)}");
            }
            if (shape[0] == 0)
                throw new CalibrationException($"calibration data {dataPath}: it is empty (shape {reader.Header.ShapeText}); calibration needs at least one sample");
            long rows = batchSize;
            if (tt?.Shape is { Rank: > 0 } fixedShape && fixedShape.Dims[0].Size is { } fixedBatch)
            {
                if (shape[0] % fixedBatch != 0)
                    throw new CalibrationException($"calibration data {dataPath}: {shape[0]} samples do not split into batches of {fixedBatch}, the fixed batch size of input '{input.Name}' of {modelName}");
                rows = fixedBatch;
            }
            long row = 0;
            long rowBytes = Math.Max(1, reader.Header.DataLength / shape[0]);
            foreach (var batch in reader.ReadBatches(Math.Max(1, ScanChunkBytes / rowBytes)))
            {
                using (batch)
                {
                    long bad = FirstNonFinite(batch);
                    if (bad >= 0)
                    {
                        long perRow = batch.Length / batch.Shape[0];
                        throw new CalibrationException($"calibration data {dataPath}: sample {row + bad / perRow} holds {Describe(batch, bad)} (element {bad % perRow} of the sample); calibration data must be finite");
                    }
                    row += batch.Shape[0];
                }
            }
            return rows;
        }
    }

    private static string ExpectedText(TensorType? tt) => tt?.Shape is { } s ? $"; the model expects {s}" : "";

    private static long FirstNonFinite(Tensor t)
    {
        if (t.Type == ElementType.Float)
        {
            var span = t.Span<float>();
            for (int i = 0; i < span.Length; i++)
                if (!float.IsFinite(span[i])) return i;
            return -1;
        }
        for (long i = 0; i < t.Length; i++)
            if (!double.IsFinite(ElementConvert(t, i))) return i;
        return -1;
    }

    private static string Describe(Tensor t, long i)
    {
        double v = ElementConvert(t, i);
        return double.IsNaN(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf";
    }

    private static double ElementConvert(Tensor t, long i) => Alloy.Runtime.Numerics.ElementConvert.GetDouble(t, i);
}
