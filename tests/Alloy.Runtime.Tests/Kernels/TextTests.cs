using Xunit;
using static Alloy.Runtime.Tests.Kernels.LossSignalVisionTextKit;

namespace Alloy.Runtime.Tests.Kernels;

public sealed class TextTests
{
    // ---- StringNormalizer ----

    private static readonly string[] Week = ["monday", "tuesday", "wednesday", "thursday"];

    [Fact]
    public void StringNormalizerRemovesStopwordsAndChangesCase()
    {
        var x = Str([4], Week);
        Assert.Equal(Week, Run("StringNormalizer", 10, A(("is_case_sensitive", 1L)), x).Strings);
        Assert.Equal(["tuesday", "wednesday", "thursday"], Run("StringNormalizer", 10, A(("is_case_sensitive", 1L), ("stopwords", new[] { "monday" })), x).Strings);
        Assert.Equal(["TUESDAY", "WEDNESDAY", "THURSDAY"],
            Run("StringNormalizer", 10, A(("case_change_action", "UPPER"), ("is_case_sensitive", 1L), ("stopwords", new[] { "monday" })), x).Strings);
        var mixed = Str([3], "MonDay", "Tuesday", "ÉCOLE");
        Assert.Equal(["monday", "tuesday", "école"], Run("StringNormalizer", 10, A(("case_change_action", "LOWER")), mixed).Strings);
        Assert.Equal(["MonDay", "Tuesday", "ÉCOLE"], Run("StringNormalizer", 10, A(("is_case_sensitive", 1L), ("stopwords", new[] { "monday" })), mixed).Strings);
    }

    [Fact]
    public void StringNormalizerIgnoresCaseByDefaultAndKeepsTheRowShape()
    {
        var x = Str([1, 6], "Monday", "tuesday", "wednesday", "Monday", "tuesday", "wednesday");
        var y = Run("StringNormalizer", 10, A(("case_change_action", "UPPER"), ("stopwords", new[] { "monday" })), x);
        Assert.Equal([1L, 4], y.Shape);
        Assert.Equal(["TUESDAY", "WEDNESDAY", "TUESDAY", "WEDNESDAY"], y.Strings);
        var lower = Run("StringNormalizer", 10, A(("case_change_action", "LOWER"), ("stopwords", new[] { "TUESDAY" }), ("locale", "en_US")), x);
        Assert.Equal(["monday", "wednesday", "monday", "wednesday"], lower.Strings);
        // German sharp s has no one-to-one upper case and stays as it is.
        Assert.Equal(["STRASSE", "STRAßE"], Run("StringNormalizer", 10, A(("case_change_action", "UPPER")), Str([2], "strasse", "straße")).Strings);
    }

    [Fact]
    public void StringNormalizerLeavesOneEmptyStringWhenEverythingIsRemoved()
    {
        var y = Run("StringNormalizer", 10, A(("case_change_action", "UPPER"), ("is_case_sensitive", 1L), ("stopwords", new[] { "monday" })), Str([2], "monday", "monday"));
        Assert.Equal([1L], y.Shape);
        Assert.Equal([""], y.Strings);
        var two = Run("StringNormalizer", 10, A(("stopwords", new[] { "a", "b" })), Str([1, 3], "A", "b", "a"));
        Assert.Equal([1L, 1], two.Shape);
        Assert.Equal([""], two.Strings);
    }

    [Fact]
    public void StringNormalizerRejectsBadInputsAndAttributes()
    {
        Assert.Contains("[C] or [1, C]", Fails("StringNormalizer", 10, null, Str([2, 2], "a", "b", "c", "d")).Message);
        Assert.Contains("string", Fails("StringNormalizer", 10, null, I64([1], 1)).Message);
        Assert.Contains("case_change_action", Declines("StringNormalizer", 10, A(("case_change_action", "TITLE"))));
        Assert.Contains("locale", Declines("StringNormalizer", 10, A(("locale", "tr_TR"))));
        Assert.NotNull(Create("StringNormalizer", 10, A(("locale", "en_US.UTF-8")), out _));
    }

    // ---- TfIdfVectorizer ----

    private static readonly long[] Pool = [2, 3, 5, 4, /* bigrams */ 5, 6, 7, 8, 6, 7];
    private static readonly int[] Items = [1, 1, 3, 3, 3, 7, 8, 6, 7, 5, 6, 8];

    private static Dictionary<string, object> TfIdf(string mode, long min, long max, long skip, long[]? pool = null, long[]? counts = null, long[]? indexes = null)
    {
        var a = A(("mode", mode), ("min_gram_length", min), ("max_gram_length", max), ("max_skip_count", skip),
            ("ngram_counts", counts ?? new long[] { 0, 4 }), ("ngram_indexes", indexes ?? new long[] { 0, 1, 2, 3, 4, 5, 6 }));
        a["pool_int64s"] = pool ?? Pool;
        return a;
    }

    /// <summary>Counts by brute force: every position, every skip, every size, compared item by item with each pool n-gram.</summary>
    private static double[] BruteForceCounts(long[] row, long[][] grams, long[] indexes, long min, long max, long skip, int outputs)
    {
        var counts = new double[outputs];
        for (int g = 0; g < grams.Length; g++)
        {
            int size = grams[g].Length;
            if (size < min || size > max) continue;
            var skips = size == 1 ? new long[] { 0 } : Enumerable.Range(0, (int)skip + 1).Select(s => (long)s).ToArray();
            foreach (var s in skips)
                for (int start = 0; start + (size - 1) * (s + 1) < row.Length; start++)
                    if (Enumerable.Range(0, size).All(k => row[start + k * (s + 1)] == grams[g][k])) counts[indexes[g]]++;
        }
        return counts;
    }

    private static readonly long[][] PoolGrams = [[2], [3], [5], [4], [5, 6], [7, 8], [6, 7]];

    [Theory]
    [InlineData(2L, 2L, 0L)]
    [InlineData(2L, 2L, 5L)]
    [InlineData(1L, 2L, 5L)]
    [InlineData(1L, 1L, 3L)]
    [InlineData(1L, 2L, 1L)]
    public void TfCountsNgramsWithSkips(long min, long max, long skip)
    {
        var y = Run("TfIdfVectorizer", 9, TfIdf("TF", min, max, skip), I32([12], Items));
        Assert.Equal(ElementType.Float, y.Type);
        Assert.Equal([7L], y.Shape);
        var expected = BruteForceCounts(Items.Select(v => (long)v).ToArray(), PoolGrams, [0, 1, 2, 3, 4, 5, 6], min, max, skip, 7);
        Assert.Equal(expected, D(y));
    }

    [Fact]
    public void TfMatchesTheOnnxExamples()
    {
        Assert.Equal([0.0, 0, 0, 0, 1, 1, 1], D(Run("TfIdfVectorizer", 9, TfIdf("TF", 2, 2, 0), I32([12], Items))));
        Assert.Equal([0.0, 0, 0, 0, 1, 3, 1], D(Run("TfIdfVectorizer", 9, TfIdf("TF", 2, 2, 5), I32([12], Items))));
        Assert.Equal([0.0, 3, 1, 0, 1, 3, 1], D(Run("TfIdfVectorizer", 9, TfIdf("TF", 1, 2, 5), I32([12], Items))));
        var batch = Run("TfIdfVectorizer", 9, TfIdf("TF", 1, 2, 5), I64([2, 6], Items.Select(v => (long)v).ToArray()));
        Assert.Equal([2L, 7], batch.Shape);
        Assert.Equal([0.0, 3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 1], D(batch));
        // No unigrams in the pool at all: the bigrams take ids 0, 1, 2.
        var empty = Run("TfIdfVectorizer", 9, TfIdf("TF", 2, 2, 0, [5, 6, 7, 8, 6, 7], [0, 0], [0, 1, 2]), I32([12], Items));
        Assert.Equal([1.0, 1, 1], D(empty));
    }

    [Fact]
    public void IdfAndTfIdfWeightTheCounts()
    {
        var weights = new float[] { 0.5f, 1.5f, 2, 3, 0.25f, 4, 8 };
        var tf = D(Run("TfIdfVectorizer", 9, TfIdf("TF", 1, 2, 5), I32([12], Items)));
        var idf = TfIdf("IDF", 1, 2, 5);
        idf["weights"] = weights;
        Assert.Equal(tf.Select((c, i) => c > 0 ? (double)weights[i] : 0), D(Run("TfIdfVectorizer", 9, idf, I32([12], Items))));
        var tfidf = TfIdf("TFIDF", 1, 2, 5);
        tfidf["weights"] = weights;
        Assert.Equal(tf.Select((c, i) => (double)(float)(c * weights[i])), D(Run("TfIdfVectorizer", 9, tfidf, I32([12], Items))));
        // Without weights IDF marks presence and TFIDF equals TF.
        Assert.Equal(tf.Select(c => c > 0 ? 1.0 : 0), D(Run("TfIdfVectorizer", 9, TfIdf("IDF", 1, 2, 5), I32([12], Items))));
        Assert.Equal(tf, D(Run("TfIdfVectorizer", 9, TfIdf("TFIDF", 1, 2, 5), I32([12], Items))));
    }

    [Fact]
    public void TfIdfMapsNgramsToTheirOutputIndexes()
    {
        // The pool's 7 n-grams land on output positions in reverse, with position 7 unused and 8 the size.
        long[] indexes = [8, 6, 5, 4, 3, 2, 1];
        var y = D(Run("TfIdfVectorizer", 9, TfIdf("TF", 1, 2, 5, indexes: indexes), I32([12], Items)));
        Assert.Equal(9, y.Length);
        Assert.Equal(BruteForceCounts(Items.Select(v => (long)v).ToArray(), PoolGrams, indexes, 1, 2, 5, 9), y);
    }

    [Fact]
    public void TfIdfCountsStringNgrams()
    {
        var a = A(("mode", "TF"), ("min_gram_length", 1L), ("max_gram_length", 3L), ("max_skip_count", 1L),
            ("ngram_counts", new long[] { 0, 2, 4 }), ("ngram_indexes", new long[] { 0, 1, 2, 3 }),
            ("pool_strings", new[] { "a", "bc", /* bigram */ "a", "bc", /* trigram */ "a", "bc", "d" }));
        var x = Str([2, 5], "a", "bc", "d", "a", "x", /* row 2 */ "a", "x", "bc", "x", "d");
        var y = Run("TfIdfVectorizer", 9, a, x);
        Assert.Equal([2L, 4], y.Shape);
        // Row 1: a ×2, bc ×1, (a, bc) adjacent once, (a, bc, d) once; row 2: a, bc, (a, bc) with one skip, (a, bc, d) with one skip.
        Assert.Equal([2.0, 1, 1, 1, 1, 1, 1, 1], D(y));
        // Strings that merely concatenate alike do not match: "ab" + "c" is not "a" + "bc".
        Assert.Equal([0.0, 0, 0, 0], D(Run("TfIdfVectorizer", 9, a, Str([2], "ab", "c"))));
    }

    [Fact]
    public void TfIdfRejectsBadAttributesAndInputs()
    {
        Assert.Contains("mode", Declines("TfIdfVectorizer", 9, TfIdf("BM25", 1, 2, 0)));
        Assert.Contains("min_gram_length", Declines("TfIdfVectorizer", 9, TfIdf("TF", 3, 2, 0)));
        Assert.Contains("multiple of 2", Declines("TfIdfVectorizer", 9, TfIdf("TF", 1, 2, 0, [1, 2, 3], [0, 2], [0, 1, 2])));
        Assert.Contains("ngram_indexes", Declines("TfIdfVectorizer", 9, TfIdf("TF", 1, 2, 0, indexes: [0, 1, 2])));
        var both = TfIdf("TF", 1, 2, 0);
        both["pool_strings"] = new[] { "a" };
        Assert.Contains("exactly one", Declines("TfIdfVectorizer", 9, both));
        var shortWeights = TfIdf("IDF", 1, 2, 0);
        shortWeights["weights"] = new float[] { 1, 2 };
        Assert.Contains("weights", Declines("TfIdfVectorizer", 9, shortWeights));
        Assert.Contains("int32 or int64", Fails("TfIdfVectorizer", 9, TfIdf("TF", 1, 2, 0), Str([1], "a")).Message);
        Assert.Contains("[C] or [B, C]", Fails("TfIdfVectorizer", 9, TfIdf("TF", 1, 2, 0), I64([1, 1, 1], 1)).Message);
    }
}
