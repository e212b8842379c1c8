using System.Text;

namespace Alloy.Testing;

/// <summary>A unified-style line diff (longest common subsequence, with context), for golden-file failures.</summary>
public static class LineDiff
{
    public static string Format(string expected, string actual, int context = 2, int maxLines = 80)
    {
        var a = expected.Split('\n');
        var b = actual.Split('\n');
        // Trim the common prefix and suffix so the LCS table stays small on large files.
        int pre = 0;
        while (pre < a.Length && pre < b.Length && a[pre] == b[pre]) pre++;
        int suf = 0;
        while (suf < a.Length - pre && suf < b.Length - pre && a[^(suf + 1)] == b[^(suf + 1)]) suf++;
        var x = a[pre..^suf];
        var y = b[pre..^suf];
        var ops = new List<(char Op, string Line, int LineNo)>();
        if ((long)x.Length * y.Length > 4_000_000)
        {
            foreach (var l in x) ops.Add(('-', l, 0));
            foreach (var l in y) ops.Add(('+', l, 0));
        }
        else
        {
            var lcs = new int[x.Length + 1, y.Length + 1];
            for (int i = x.Length - 1; i >= 0; i--)
                for (int j = y.Length - 1; j >= 0; j--)
                    lcs[i, j] = x[i] == y[j] ? lcs[i + 1, j + 1] + 1 : Math.Max(lcs[i + 1, j], lcs[i, j + 1]);
            int p = 0, q = 0;
            while (p < x.Length || q < y.Length)
            {
                if (p < x.Length && q < y.Length && x[p] == y[q]) { ops.Add((' ', x[p], pre + p + 1)); p++; q++; }
                else if (q < y.Length && (p == x.Length || lcs[p, q + 1] >= lcs[p + 1, q])) { ops.Add(('+', y[q], pre + p + 1)); q++; }
                else { ops.Add(('-', x[p], pre + p + 1)); p++; }
            }
        }
        var sb = new StringBuilder();
        sb.Append("--- expected\n+++ actual\n");
        int written = 0;
        for (int i = 0; i < ops.Count && written < maxLines; i++)
        {
            bool near = false;
            for (int k = Math.Max(0, i - context); k <= Math.Min(ops.Count - 1, i + context); k++)
                if (ops[k].Op != ' ') { near = true; break; }
            if (!near) continue;
            if (ops[i].Op != ' ' && (i == 0 || ops[i - 1].Op == ' ') && ops[i].LineNo > 0)
                sb.Append("@@ line ").Append(ops[i].LineNo).Append(" @@\n");
            sb.Append(ops[i].Op).Append(ops[i].Line).Append('\n');
            written++;
        }
        if (written >= maxLines) sb.Append("... (diff truncated)\n");
        return sb.ToString();
    }
}
