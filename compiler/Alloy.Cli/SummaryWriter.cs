using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Alloy.Cli;

/// <summary>Renders a <see cref="ModelSummary"/> as text for people or JSON for tools.</summary>
public static class SummaryWriter
{
    public static string Text(ModelSummary s)
    {
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.Append(inv, $"model:       {s.File}\n");
        sb.Append(inv, $"ir_version:  {s.IrVersion}\n");
        if (s.Producer is not null) sb.Append(inv, $"producer:    {s.Producer}\n");
        sb.Append("opsets:      ").Append(string.Join(", ", s.Opsets.Select(o => $"{(o.Domain.Length == 0 ? "ai.onnx" : o.Domain)} {o.Version}"))).Append('\n');
        sb.Append(inv, $"nodes:       {s.NodeCount} ({s.SubgraphCount} subgraphs, {s.FunctionCount} functions)\n");
        sb.Append(inv, $"parameters:  {s.ParameterCount:N0} in {s.InitializerCount} initializers, {FormatBytes(s.ParameterBytes)}\n");
        sb.Append("inputs:\n");
        foreach (var (n, t) in s.Inputs) sb.Append(inv, $"  {n}: {t}\n");
        sb.Append("outputs:\n");
        foreach (var (n, t) in s.Outputs) sb.Append(inv, $"  {n}: {t}\n");
        sb.Append("element types:\n");
        foreach (var (e, c) in s.ElementTypes) sb.Append(inv, $"  {e,-10} {c,6}\n");
        sb.Append("ops:\n");
        int width = s.OpHistogram.Count == 0 ? 0 : s.OpHistogram.Max(o => o.Op.Length);
        foreach (var (op, c) in s.OpHistogram) sb.Append("  ").Append(op.PadRight(width)).Append(' ').Append(c.ToString(inv).PadLeft(6)).Append('\n');
        return sb.ToString();
    }

    public static string Json(ModelSummary s)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("model", s.File);
            w.WriteNumber("ir_version", s.IrVersion);
            if (s.Producer is not null) w.WriteString("producer", s.Producer);
            w.WriteStartArray("opsets");
            foreach (var o in s.Opsets)
            {
                w.WriteStartObject();
                w.WriteString("domain", o.Domain);
                w.WriteNumber("version", o.Version);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            WriteValues(w, "inputs", s.Inputs);
            WriteValues(w, "outputs", s.Outputs);
            w.WriteNumber("node_count", s.NodeCount);
            w.WriteNumber("subgraph_count", s.SubgraphCount);
            w.WriteNumber("function_count", s.FunctionCount);
            w.WriteNumber("initializer_count", s.InitializerCount);
            w.WriteNumber("parameter_count", s.ParameterCount);
            w.WriteNumber("parameter_bytes", s.ParameterBytes);
            w.WriteStartObject("element_types");
            foreach (var (e, c) in s.ElementTypes) w.WriteNumber(e, c);
            w.WriteEndObject();
            w.WriteStartObject("ops");
            foreach (var (op, c) in s.OpHistogram) w.WriteNumber(op, c);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray()) + "\n";
    }

    private static void WriteValues(Utf8JsonWriter w, string name, IReadOnlyList<(string Name, string Type)> values)
    {
        w.WriteStartArray(name);
        foreach (var (n, t) in values)
        {
            w.WriteStartObject();
            w.WriteString("name", n);
            w.WriteString("type", t);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static string FormatBytes(long b) => b switch
    {
        < 1024 => $"{b} B",
        < 1 << 20 => $"{b / 1024.0:F1} KiB",
        < 1 << 30 => $"{b / 1048576.0:F1} MiB",
        _ => $"{b / 1073741824.0:F2} GiB",
    };
}
