using Alloy.IR;

namespace Alloy.Cli;

/// <summary>What <c>alloy inspect</c> reports about a model.</summary>
public sealed record ModelSummary(
    string File,
    long IrVersion,
    string? Producer,
    IReadOnlyList<OpsetImport> Opsets,
    IReadOnlyList<(string Name, string Type)> Inputs,
    IReadOnlyList<(string Name, string Type)> Outputs,
    int NodeCount,
    int SubgraphCount,
    int FunctionCount,
    IReadOnlyList<(string Op, int Count)> OpHistogram,
    IReadOnlyList<(string ElementType, int Count)> ElementTypes,
    long ParameterCount,
    long ParameterBytes,
    int InitializerCount)
{
    public static ModelSummary Of(Model model, string file)
    {
        var ops = new Dictionary<string, int>(StringComparer.Ordinal);
        var elems = new Dictionary<string, int>(StringComparer.Ordinal);
        int nodes = 0, subgraphs = 0, initializers = 0;
        long parameters = 0, bytes = 0;
        void CountType(IrType? t)
        {
            if (t is TensorType tt) elems[tt.ElementType.ShortName()] = elems.GetValueOrDefault(tt.ElementType.ShortName()) + 1;
        }
        foreach (var g in model.Graph.SelfAndSubgraphs())
        {
            if (g != model.Graph) subgraphs++;
            foreach (var v in g.Inputs) CountType(v.Type);
            foreach (var v in g.Constants)
            {
                if (v.Kind == ValueKind.Constant || v.Constant is not null) initializers++;
                CountType(v.Type);
                if (v.Constant is { } c)
                {
                    parameters += c.ElementCount;
                    bytes += c.Data.ByteLength;
                }
                else if (v.SparseConstant is { } s)
                {
                    parameters += s.Values.ElementCount;
                    bytes += s.Values.Data.ByteLength + s.Indices.Data.ByteLength;
                }
            }
            foreach (var n in g.Nodes)
            {
                nodes++;
                var key = n.IsDefaultDomain ? n.OpType : $"{n.Domain}::{n.OpType}";
                ops[key] = ops.GetValueOrDefault(key) + 1;
                foreach (var r in n.Outputs) CountType(r.Type);
            }
        }
        return new ModelSummary(
            file,
            model.IrVersion,
            model.ProducerName is null ? null : $"{model.ProducerName} {model.ProducerVersion}".Trim(),
            model.Opsets,
            model.Graph.Inputs.Where(v => v.Constant is null).Select(v => (v.Name, TypeText(v.Type))).ToList(),
            model.Graph.Outputs.Select(v => (v.Name, TypeText(v.Type))).ToList(),
            nodes,
            subgraphs,
            model.Functions.Count,
            ops.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (kv.Key, kv.Value)).ToList(),
            elems.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (kv.Key, kv.Value)).ToList(),
            parameters,
            bytes,
            initializers);
    }

    public static string TypeText(IrType? t) => t switch
    {
        null => "?",
        TensorType tt => tt.ElementType.ShortName() + (tt.Shape is null ? "[*]" : tt.Shape.ToString()),
        SparseTensorType s => $"sparse<{s.ElementType.ShortName()}{(s.Shape is null ? "[*]" : s.Shape.ToString())}>",
        SequenceType s => $"seq<{TypeText(s.ElementType)}>",
        OptionalType o => $"opt<{TypeText(o.ElementType)}>",
        MapType m => $"map<{m.KeyType.ShortName()}, {TypeText(m.ValueType)}>",
        OpaqueType o => $"opaque<{o.Domain}, {o.Name}>",
        _ => t.ToString() ?? "?",
    };
}
