using System.Globalization;
using System.Net;
using System.Text;

namespace Alloy.Tuning;

/// <summary>
/// The human-readable report of a tuning run (<c>report.html</c>): one self-contained page with inline SVG and
/// CSS and no script: the Pareto plot of every evaluated trial (relative bit-ops against the metric; front joined,
/// chosen point ringed, target drawn), the per-group sensitivity chart, the chosen model's precision per op type,
/// and the trial history.
/// </summary>
public static class TuningReportHtml
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Write(TuningResult r, string metricName)
    {
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>alloy tune: ").Append(E(Path.GetFileName(r.ModelName))).Append("</title>\n<style>\n")
          .Append("body{font-family:sans-serif;margin:24px;color:#222;background:#fff}h1{font-size:22px}h2{font-size:18px;margin-top:28px}")
          .Append("table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#eef}")
          .Append("td.l,th.l{text-align:left}tr.pass td{background:#eaf7ea}tr.chosen td{background:#bfe5bf;font-weight:bold}")
          .Append(".point{fill:#4a7bd0}.point.pass{fill:#2e9e44}.front{fill:none;stroke:#e07b00;stroke-width:2}.chosen{fill:none;stroke:#d00;stroke-width:3}")
          .Append(".bar{fill:#4a7bd0}.axis{stroke:#333}.grid{stroke:#ddd}.target{stroke:#d00;stroke-dasharray:6 4}text{font-size:12px}")
          .Append("\n</style></head><body>\n");
        sb.Append("<h1>alloy tune: ").Append(E(r.ModelName)).Append("</h1>\n<p>");
        sb.Append(Inv, $"Strategy <b>{r.Config.Strategy.ToString().ToLowerInvariant()}</b>, metric <b>{E(metricName)}</b> ({(r.Config.HigherIsBetter ? "higher" : "lower")} is better), ");
        sb.Append(Inv, $"FP32 baseline <b>{F(r.Baseline)}</b>, tolerable loss {E(r.Config.TolerableLoss.ToString())}, threshold <b>{F(r.Threshold)}</b>.<br>");
        sb.Append(Inv, $"Chosen: trial {r.Chosen.Index}, <b>{E(r.Chosen.Label)}</b>, metric <b>{F(r.Chosen.Metric)}</b>, relative bit-ops <b>{r.Chosen.RelativeBitOps:F4}</b>, {r.Chosen.Spec.Fp32Nodes.Count} node(s) forced to FP32.<br>");
        sb.Append(Inv, $"{r.Trials.Count} trials, {r.Evaluations} evaluations ({r.ReusedTrials} trials from the history), {r.Phase1Evaluations} phase-1 measurements; {E(r.StopReason)}; {r.Elapsed.TotalSeconds:F1} s.</p>\n");

        sb.Append("<h2>Pareto front: relative bit-ops against ").Append(E(metricName)).Append("</h2>\n");
        ParetoSvg(sb, r);
        sb.Append("<h2>Layer-group sensitivity (phase 1)</h2>\n");
        SensitivitySvg(sb, r);
        sb.Append("<h2>Precision per op type (chosen model)</h2>\n");
        PrecisionTableHtml(sb, r);
        sb.Append("<h2>Trial history</h2>\n");
        HistoryTable(sb, r);
        sb.Append("</body></html>\n");
        return sb.ToString();
    }

    private static void ParetoSvg(StringBuilder sb, TuningResult r)
    {
        const double W = 720, H = 400, L = 70, R = 20, T = 20, B = 50;
        var points = r.Trials.Where(t => double.IsFinite(t.Metric)).ToList();
        if (points.Count == 0)
        {
            sb.Append("<p>No trial has a finite metric.</p>\n");
            return;
        }
        double x0 = 0, x1 = Math.Max(1.0, points.Max(p => p.RelativeBitOps)) * 1.02;
        var ys = points.Select(p => p.Metric).Append(r.Threshold).Where(double.IsFinite).ToList();
        double y0 = ys.Min(), y1 = ys.Max();
        if (y1 - y0 < 1e-12) { y0 -= 0.5 * Math.Max(1e-6, Math.Abs(y0)); y1 += 0.5 * Math.Max(1e-6, Math.Abs(y1)); }
        double pad = (y1 - y0) * 0.08;
        y0 -= pad; y1 += pad;
        double X(double v) => L + (v - x0) / (x1 - x0) * (W - L - R);
        double Y(double v) => T + (y1 - v) / (y1 - y0) * (H - T - B);
        sb.Append(Inv, $"<svg id=\"pareto\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\">\n");
        sb.Append(Inv, $"<rect x=\"0\" y=\"0\" width=\"{W}\" height=\"{H}\" fill=\"#fafafa\"/>\n");
        for (int i = 0; i <= 5; i++)
        {
            double xv = x0 + (x1 - x0) * i / 5, yv = y0 + (y1 - y0) * i / 5;
            sb.Append(Inv, $"<line class=\"grid\" x1=\"{X(xv):F1}\" y1=\"{T}\" x2=\"{X(xv):F1}\" y2=\"{H - B}\"/><text x=\"{X(xv):F1}\" y=\"{H - B + 16}\" text-anchor=\"middle\">{xv:F2}</text>\n");
            sb.Append(Inv, $"<line class=\"grid\" x1=\"{L}\" y1=\"{Y(yv):F1}\" x2=\"{W - R}\" y2=\"{Y(yv):F1}\"/><text x=\"{L - 6}\" y=\"{Y(yv) + 4:F1}\" text-anchor=\"end\">{yv.ToString("G4", Inv)}</text>\n");
        }
        sb.Append(Inv, $"<line class=\"axis\" x1=\"{L}\" y1=\"{H - B}\" x2=\"{W - R}\" y2=\"{H - B}\"/><line class=\"axis\" x1=\"{L}\" y1=\"{T}\" x2=\"{L}\" y2=\"{H - B}\"/>\n");
        sb.Append(Inv, $"<text x=\"{(L + W - R) / 2}\" y=\"{H - 10}\" text-anchor=\"middle\">relative bit-ops (FP32 = 1)</text>\n");
        if (double.IsFinite(r.Threshold))
            sb.Append(Inv, $"<line class=\"target\" x1=\"{L}\" y1=\"{Y(r.Threshold):F1}\" x2=\"{W - R}\" y2=\"{Y(r.Threshold):F1}\"><title>threshold {F(r.Threshold)}</title></line>\n");
        var front = r.ParetoFront.Where(t => double.IsFinite(t.Metric)).ToList();
        if (front.Count > 1)
            sb.Append("<polyline class=\"front\" points=\"").Append(string.Join(" ", front.Select(p => string.Create(Inv, $"{X(p.RelativeBitOps):F1},{Y(p.Metric):F1}")))).Append("\"/>\n");
        foreach (var p in points)
            sb.Append(Inv, $"<circle class=\"point{(p.Passed ? " pass" : "")}\" data-trial=\"{p.Index}\" cx=\"{X(p.RelativeBitOps):F1}\" cy=\"{Y(p.Metric):F1}\" r=\"5\"><title>trial {p.Index}: {E(p.Label)}; {F(p.Metric)} at {p.RelativeBitOps:F4}</title></circle>\n");
        if (double.IsFinite(r.Chosen.Metric))
            sb.Append(Inv, $"<circle class=\"chosen\" data-trial=\"{r.Chosen.Index}\" cx=\"{X(r.Chosen.RelativeBitOps):F1}\" cy=\"{Y(r.Chosen.Metric):F1}\" r=\"10\"><title>chosen: trial {r.Chosen.Index}</title></circle>\n");
        sb.Append("</svg>\n<p>Green: meets the target; orange line: Pareto front; red ring: chosen; dashed: threshold.</p>\n");
    }

    private static void SensitivitySvg(StringBuilder sb, TuningResult r)
    {
        var items = r.Sensitivities;
        if (items.Count == 0)
        {
            sb.Append("<p>No phase-1 measurement in this run (the fallback strategy ranks op types and groups by their fallback trials, listed in the history).</p>\n");
            return;
        }
        const double L = 260, BarW = 440, Row = 18;
        double H = items.Count * Row + 30, W = L + BarW + 80;
        var finite = items.Select(s => s.Value).Where(double.IsFinite).DefaultIfEmpty(0).ToList();
        double lo = Math.Min(0, finite.Min()), hi = Math.Max(finite.Max(), lo + 1e-9);
        sb.Append(Inv, $"<svg id=\"sensitivity\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\">\n");
        for (int i = 0; i < items.Count; i++)
        {
            var s = items[i];
            double v = double.IsFinite(s.Value) ? s.Value : lo;
            double width = Math.Max(1, (v - lo) / (hi - lo) * BarW);
            double y = 10 + i * Row;
            sb.Append(Inv, $"<text x=\"{L - 6}\" y=\"{y + 12}\" text-anchor=\"end\">{E(s.LowType)} {E(Short(s.Group.Label))}</text>");
            sb.Append(Inv, $"<rect class=\"bar\" data-group=\"{s.Group.Index}\" x=\"{L}\" y=\"{y + 2}\" width=\"{width:F1}\" height=\"{Row - 4}\"><title>{E(s.Group.Label)}: {F(s.Value)}</title></rect>");
            sb.Append(Inv, $"<text x=\"{L + width + 6:F1}\" y=\"{y + 12}\">{F(s.Value)}</text>\n");
        }
        sb.Append("</svg>\n<p>Each bar: the sensitivity metric with only that group in low precision (").Append(r.Config.SensitivityMetric == SensitivityMetric.Sqnr ? "SQNR in dB against FP32; shorter = more sensitive" : "the evaluation metric").Append(").</p>\n");
    }

    private static void PrecisionTableHtml(StringBuilder sb, TuningResult r)
    {
        var columns = r.PrecisionByOp.Values.SelectMany(row => row.Keys).Distinct().Order(StringComparer.Ordinal).ToList();
        sb.Append("<table id=\"precision\"><tr><th class=\"l\">op type</th>");
        foreach (var c in columns) sb.Append("<th>").Append(E(c)).Append("</th>");
        sb.Append("</tr>\n");
        foreach (var (op, row) in r.PrecisionByOp)
        {
            sb.Append("<tr><td class=\"l\">").Append(E(op)).Append("</td>");
            foreach (var c in columns) sb.Append("<td>").Append(row.GetValueOrDefault(c).ToString(Inv)).Append("</td>");
            sb.Append("</tr>\n");
        }
        sb.Append("</table>\n");
    }

    private static void HistoryTable(StringBuilder sb, TuningResult r)
    {
        sb.Append("<table id=\"history\"><tr><th>#</th><th class=\"l\">phase</th><th class=\"l\">candidate</th><th>fp32 nodes</th><th>metric</th><th>rel. bit-ops</th><th class=\"l\">meets target</th><th class=\"l\">source</th><th>seconds</th></tr>\n");
        foreach (var t in r.Trials)
        {
            var cls = t.Index == r.Chosen.Index ? "chosen" : t.Passed ? "pass" : "";
            sb.Append(Inv, $"<tr class=\"{cls}\"><td>{t.Index}</td><td class=\"l\">{E(t.Phase)}</td><td class=\"l\">{E(t.Label)}</td><td>{t.Spec.Fp32Nodes.Count}</td><td>{F(t.Metric)}</td><td>{t.RelativeBitOps:F4}</td><td class=\"l\">{(t.Passed ? "yes" : "no")}</td><td class=\"l\">{(t.Reused ? "history" : "evaluated")}</td><td>{t.Seconds:F2}</td></tr>\n");
        }
        sb.Append("</table>\n");
    }

    private static string Short(string s) => s.Length <= 40 ? s : s[..37] + "...";

    private static string F(double v) => double.IsFinite(v) ? v.ToString("G6", Inv) : v.ToString(Inv);

    private static string E(string s) => WebUtility.HtmlEncode(s);
}
