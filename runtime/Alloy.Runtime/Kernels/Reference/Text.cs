using System.Globalization;
using System.Text;
using static Alloy.Runtime.Kernels.Reference.ElementwiseHelpers;

namespace Alloy.Runtime.Kernels.Reference;

/// <summary>Text family: StringNormalizer (opset 10) and TfIdfVectorizer (opset 9).</summary>
internal static partial class ReferenceKernels
{
    static partial void RegisterText(KernelRegistry r)
    {
        r.Register("StringNormalizer", (KernelNode n, out string? reason) => StringNormalizerKernel.Create(n, out reason));
        r.Register("TfIdfVectorizer", (KernelNode n, out string? reason) => TfIdfVectorizerKernel.Create(n, out reason));
    }
}

internal enum CaseChange { None, Lower, Upper }

/// <summary>
/// StringNormalizer: removes the stopwords from a string tensor of shape [C] or [1, C] (exact matches when
/// is_case_sensitive, else matches ignoring case), then changes the case of the remaining words
/// (case_change_action NONE / LOWER / UPPER). When every word is removed the output is a single empty string
/// ([1] or [1, 1]). Case mapping is Unicode's simple (one-to-one) mapping, which is the en_US behaviour; the
/// supported locales are "" (default) and en_US (also written en-US, with an optional encoding suffix), C and POSIX.
/// </summary>
internal sealed class StringNormalizerKernel(CaseChange change, bool caseSensitive, HashSet<string> stopwords) : IKernel
{
    private const string Op = "StringNormalizer";

    public static IKernel? Create(KernelNode n, out string? reason)
    {
        reason = null;
        var a = n.Attributes;
        var action = a.GetString("case_change_action", "NONE");
        CaseChange? change = action switch
        {
            "NONE" => CaseChange.None,
            "LOWER" => CaseChange.Lower,
            "UPPER" => CaseChange.Upper,
            _ => null,
        };
        if (change is null)
        {
            reason = $"{Op}: attribute 'case_change_action' is '{action}', expected NONE, LOWER or UPPER";
            return null;
        }
        var locale = a.GetString("locale", "");
        var language = locale.Split('.')[0];
        if (language is not ("" or "en_US" or "en-US" or "C" or "POSIX"))
        {
            reason = $"{Op}: locale '{locale}' is not supported (only \"\" and en_US)";
            return null;
        }
        bool caseSensitive = a.GetInt("is_case_sensitive", 0) != 0;
        var words = a.GetStrings("stopwords") ?? [];
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var w in words) set.Add(caseSensitive ? w : Fold(w, change.Value));
        return new StringNormalizerKernel(change.Value, caseSensitive, set);
    }

    /// <summary>The form used to compare words ignoring case: upper case when the output is upper-cased, else lower.</summary>
    private static string Fold(string s, CaseChange change) =>
        change == CaseChange.Upper ? s.ToUpperInvariant() : s.ToLowerInvariant();

    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = Required(inputs, 0, Op, "X");
        if (x.Type != ElementType.String) throw new KernelException($"{Op}: input 'X' is {x.Type.Name()}, expected string");
        bool twoD = x.Rank == 2;
        if (!(x.Rank == 1 || (twoD && x.Shape[0] == 1)))
            throw new KernelException($"{Op}: input 'X' must have shape [C] or [1, C], got {x.ShapeText}");
        var kept = new List<string>();
        foreach (var word in x.Strings)
        {
            if (stopwords.Contains(caseSensitive ? word : Fold(word, change))) continue;
            kept.Add(change switch
            {
                CaseChange.Lower => word.ToLowerInvariant(),
                CaseChange.Upper => word.ToUpperInvariant(),
                _ => word,
            });
        }
        if (kept.Count == 0) kept.Add("");
        outputs[0] = Tensor.FromStrings(twoD ? [1, kept.Count] : [kept.Count], kept.ToArray());
    }
}

internal enum TfIdfMode { Tf, Idf, TfIdf }

/// <summary>
/// TfIdfVectorizer: counts the pool's n-grams in each row of an int32 / int64 (pool_int64s) or string (pool_strings)
/// input of shape [C] or [B, C]. The pool lists the 1-grams from ngram_counts[0], the 2-grams from ngram_counts[1],
/// and so on; the k-th n-gram of the pool (counting across all sizes) adds to output position ngram_indexes[k] (a
/// repeated n-gram counts at its last position). Only n-grams of min_gram_length..max_gram_length are counted; an
/// n-gram with skip s takes every (s + 1)-th item, for s in 0..max_skip_count, and 1-grams are counted once. Output
/// float [max(ngram_indexes) + 1] or [B, that]: TF the counts, IDF weight (1 without weights) where the count is
/// non-zero, TFIDF count × weight. As in ONNX Runtime and the ONNX reference, weights are indexed by output position.
/// </summary>
internal sealed class TfIdfVectorizerKernel(TfIdfMode mode, long minGram, long maxGram, long maxSkip, Dictionary<string, long> grams,
    bool stringPool, long outputSize, double[]? weights) : IKernel
{
    private const string Op = "TfIdfVectorizer";

    public static IKernel? Create(KernelNode n, out string? reason)
    {
        reason = null;
        var a = n.Attributes;
        var modeName = a.GetString("mode", "");
        TfIdfMode? mode = modeName switch { "TF" => TfIdfMode.Tf, "IDF" => TfIdfMode.Idf, "TFIDF" => TfIdfMode.TfIdf, _ => null };
        if (mode is null) return Fail($"attribute 'mode' is '{modeName}', expected TF, IDF or TFIDF", out reason);
        foreach (var required in new[] { "min_gram_length", "max_gram_length", "max_skip_count", "ngram_counts", "ngram_indexes" })
            if (!a.Has(required)) return Fail($"attribute '{required}' is required", out reason);
        long minGram = a.GetInt("min_gram_length"), maxGram = a.GetInt("max_gram_length"), maxSkip = a.GetInt("max_skip_count");
        if (minGram < 1 || maxGram < minGram || maxSkip < 0)
            return Fail($"need 1 <= min_gram_length ({minGram}) <= max_gram_length ({maxGram}) and max_skip_count ({maxSkip}) >= 0", out reason);
        var ints = a.GetInts("pool_int64s");
        var strings = a.GetStrings("pool_strings");
        if ((ints is null) == (strings is null)) return Fail("exactly one of 'pool_int64s' and 'pool_strings' must be given", out reason);
        var atoms = ints?.Select(IntAtom).ToArray() ?? strings!.Select(StringAtom).ToArray();
        var counts = a.GetInts("ngram_counts")!;
        var indexes = a.GetInts("ngram_indexes")!;
        if (indexes.Length == 0 || indexes.Any(i => i < 0)) return Fail("'ngram_indexes' must list non-negative output positions", out reason);

        var grams = new Dictionary<string, long>(StringComparer.Ordinal);
        long gramId = 0;
        for (int i = 0; i < counts.Length; i++)
        {
            long size = i + 1;
            long start = counts[i], end = i + 1 < counts.Length ? counts[i + 1] : atoms.Length;
            if (start < 0 || end < start || end > atoms.Length)
                return Fail($"'ngram_counts' [{string.Join(",", counts)}] does not split a pool of {atoms.Length} items", out reason);
            if ((end - start) % size != 0)
                return Fail($"the {size}-gram part of the pool has {end - start} items, not a multiple of {size}", out reason);
            for (long p = start; p < end; p += size, gramId++)
            {
                if (gramId >= indexes.Length)
                    return Fail($"the pool holds more n-grams than 'ngram_indexes' lists ({indexes.Length})", out reason);
                if (size >= minGram && size <= maxGram) grams[string.Concat(atoms[(int)p..(int)(p + size)])] = indexes[gramId];
            }
        }
        long outputSize = indexes.Max() + 1;
        double[]? weights = a.GetFloats("weights")?.Select(w => (double)w).ToArray();
        if (weights is not null && mode != TfIdfMode.Tf && weights.Length < outputSize)
            return Fail($"'weights' has {weights.Length} values, fewer than the {outputSize} output positions", out reason);
        return new TfIdfVectorizerKernel(mode.Value, minGram, maxGram, maxSkip, grams, strings is not null, outputSize, weights);
    }

    private static IKernel? Fail(string message, out string? reason)
    {
        reason = $"{Op}: {message}";
        return null;
    }

    // Each item as an unambiguous string piece, so an n-gram's key is the concatenation of its items' pieces.
    private static string IntAtom(long v) => v.ToString(CultureInfo.InvariantCulture) + ";";
    private static string StringAtom(string s) => s.Length.ToString(CultureInfo.InvariantCulture) + ":" + s;

    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = Required(inputs, 0, Op, "X");
        if (stringPool ? x.Type != ElementType.String : x.Type is not (ElementType.Int32 or ElementType.Int64))
            throw new KernelException($"{Op}: input 'X' is {x.Type.Name()}, expected {(stringPool ? "string (the pool is pool_strings)" : "int32 or int64 (the pool is pool_int64s)")}");
        if (x.Rank > 2) throw new KernelException($"{Op}: input 'X' must have shape [C] or [B, C], got {x.ShapeText}");
        long rows = x.Rank == 2 ? x.Shape[0] : 1;
        long c = x.Rank == 0 ? 1 : x.Shape[^1];
        string[] atoms = stringPool ? x.Strings.Select(StringAtom).ToArray() : Numerics.ElementConvert.ToLongs(x).Select(IntAtom).ToArray();
        var counts = new long[rows * outputSize];
        var key = new StringBuilder();
        for (long r = 0; r < rows; r++)
            for (long skip = 0; skip <= maxSkip; skip++)
            {
                long distance = skip + 1;
                long smallest = skip == 0 ? minGram : Math.Max(minGram, 2); // 1-grams do not depend on the skip
                if (smallest > maxGram) break;
                for (long start = 0; start < c; start++)
                    for (long size = smallest; size <= maxGram && start + (size - 1) * distance < c; size++)
                    {
                        key.Clear();
                        for (long k = 0; k < size; k++) key.Append(atoms[r * c + start + k * distance]);
                        if (grams.TryGetValue(key.ToString(), out var position)) counts[r * outputSize + position]++;
                    }
            }

        var y = new float[counts.Length];
        for (long i = 0; i < counts.Length; i++)
        {
            double weight = weights?[i % outputSize] ?? 1.0;
            y[i] = mode switch
            {
                TfIdfMode.Tf => counts[i],
                TfIdfMode.Idf => counts[i] > 0 ? (float)weight : 0f,
                _ => (float)(counts[i] * weight),
            };
        }
        outputs[0] = Tensor.FromArray<float>(ElementType.Float, x.Rank == 2 ? [rows, outputSize] : [outputSize], y);
    }
}
