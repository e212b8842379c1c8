using System.Text;
using System.Text.Json;

namespace Alloy.Tuning;

/// <summary>The machine-readable report of a tuning run (<c>report.json</c>).</summary>
public static class TuningReportJson
{
    public static string Write(TuningResult r, string metricName)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("model", r.ModelName);
            w.WriteString("model_hash", r.ModelHash);
            w.WriteString("strategy", r.Config.Strategy.ToString().ToLowerInvariant());
            w.WriteStartArray("config_set");
            foreach (var c in r.Config.ConfigSet) w.WriteStringValue(TuningSession.Describe(c));
            w.WriteEndArray();
            w.WriteString("metric", metricName);
            w.WriteBoolean("higher_is_better", r.Config.HigherIsBetter);
            w.WriteStartObject("tolerable_loss");
            w.WriteNumber("amount", r.Config.TolerableLoss.Amount);
            w.WriteBoolean("relative", r.Config.TolerableLoss.Relative);
            w.WriteEndObject();
            Number(w, "baseline", r.Baseline);
            Number(w, "threshold", r.Threshold);
            w.WriteStartObject("chosen");
            Trial(w, r.Chosen, withNodes: true);
            w.WriteEndObject();
            w.WriteNumber("evaluations", r.Evaluations);
            w.WriteNumber("phase1_evaluations", r.Phase1Evaluations);
            w.WriteNumber("reused_trials", r.ReusedTrials);
            w.WriteNumber("trial_count", r.Trials.Count);
            w.WriteString("stop_reason", r.StopReason);
            w.WriteNumber("seconds", Math.Round(r.Elapsed.TotalSeconds, 3));
            w.WriteStartObject("precision_by_op");
            foreach (var (op, row) in r.PrecisionByOp)
            {
                w.WriteStartObject(op);
                foreach (var (prec, count) in row) w.WriteNumber(prec, count);
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteStartArray("groups");
            foreach (var g in r.Graphs)
                foreach (var group in g.Groups)
                {
                    w.WriteStartObject();
                    w.WriteString("low_type", g.LowType);
                    w.WriteNumber("index", group.Index);
                    w.WriteString("label", group.Label);
                    w.WriteStartArray("nodes");
                    foreach (var n in group.Nodes) w.WriteStringValue(n);
                    w.WriteEndArray();
                    w.WriteEndObject();
                }
            w.WriteEndArray();
            w.WriteStartArray("sensitivity");
            foreach (var s in r.Sensitivities)
            {
                w.WriteStartObject();
                w.WriteString("low_type", s.LowType);
                w.WriteNumber("group", s.Group.Index);
                w.WriteString("label", s.Group.Label);
                Number(w, "value", s.Value);
                w.WriteBoolean("cached", s.Reused);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("pareto_front");
            foreach (var t in r.ParetoFront) w.WriteNumberValue(t.Index);
            w.WriteEndArray();
            w.WriteStartArray("trials");
            foreach (var t in r.Trials)
            {
                w.WriteStartObject();
                Trial(w, t, withNodes: false);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray()) + "\n";
    }

    private static void Trial(Utf8JsonWriter w, TrialRecord t, bool withNodes)
    {
        w.WriteNumber("trial", t.Index);
        w.WriteString("phase", t.Phase);
        w.WriteString("label", t.Label);
        w.WriteString("key", t.Spec.Key);
        w.WriteString("low_type", t.Spec.LowType);
        w.WriteNumber("fp32_node_count", t.Spec.Fp32Nodes.Count);
        if (withNodes)
        {
            w.WriteStartArray("fp32_nodes");
            foreach (var n in t.Spec.Fp32Nodes) w.WriteStringValue(n);
            w.WriteEndArray();
        }
        Number(w, "metric", t.Metric);
        w.WriteNumber("relative_bit_ops", Math.Round(t.RelativeBitOps, 6));
        w.WriteBoolean("passed", t.Passed);
        w.WriteBoolean("cached", t.Reused);
        w.WriteNumber("seconds", Math.Round(t.Seconds, 3));
    }

    /// <summary>JSON has no NaN or infinity: those are written as null.</summary>
    private static void Number(Utf8JsonWriter w, string name, double v)
    {
        if (double.IsFinite(v)) w.WriteNumber(name, v);
        else w.WriteNull(name);
    }
}
