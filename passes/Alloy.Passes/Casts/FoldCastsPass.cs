using Alloy.IR;
using Alloy.Pipeline;
using static Alloy.Passes.Casts.CastGraph;

namespace Alloy.Passes.Casts;

/// <summary>
/// <c>fold-casts</c>: removes Casts that change no value. A chain <c>x:A → Cast(B) → Cast(C)</c> becomes
/// <c>Cast(C)</c> of x (or x itself when C = A) only when B represents every value of A exactly
/// (<see cref="DataTypes.RepresentsExactly"/>); a rounding chain such as f32 → bf16 → f32 stays unless
/// <c>fold-lossy=true</c>. Duplicate Casts of one value merge, Casts to their operand's own type vanish, a Cast of a
/// constant becomes a converted constant, and a Cast after DequantizeLinear becomes the DequantizeLinear's output
/// type when the opset allows it and the result is provably the same.
/// </summary>
public sealed class FoldCastsPass(bool foldLossy = false) : IPass
{
    public const string PassId = "fold-casts";

    public string Id => PassId;
    public string Description => "remove Casts that change no value: exact chains, duplicates, no-ops, Casts of constants and after DequantizeLinear";
    public bool FoldLossy { get; } = foldLossy;

    public static FoldCastsPass Create(IReadOnlyDictionary<string, string> options)
    {
        var o = new PassOptions(PassId, options);
        var pass = new FoldCastsPass(o.Bool("fold-lossy", false));
        o.RejectUnknown();
        return pass;
    }

    public void Run(Model model, PassContext context) => new FoldCastsRun(model, context, FoldLossy).Execute();
}

internal sealed class FoldCastsRun
{
    /// <summary>Largest (scale elements × quantized values) the DequantizeLinear exactness proof enumerates.</summary>
    private const long DequantizeProofLimit = 1 << 22;

    private readonly Model _model;
    private readonly PassContext _context;
    private readonly bool _foldLossy;
    private readonly NameSource _names;
    private readonly Statistic _chain, _lossy, _noop, _duplicate, _constant, _dequantize, _lossyKept;

    /// <summary>Per graph being walked: the first Cast seen for each (operand, attributes).</summary>
    private readonly List<(Graph Graph, Dictionary<(Value, string), Node> Seen)> _scopes = [];

    public FoldCastsRun(Model model, PassContext context, bool foldLossy)
    {
        _model = model;
        _context = context;
        _foldLossy = foldLossy;
        _names = new NameSource(model);
        _chain = context.Statistic("casts-removed-chain", "Casts removed by collapsing exact chains (intermediate type represents the source exactly)");
        _lossy = context.Statistic("casts-removed-lossy-chain", "Casts removed by collapsing rounding chains (only with fold-lossy=true)");
        _noop = context.Statistic("casts-removed-noop", "Casts to their operand's own type removed");
        _duplicate = context.Statistic("casts-removed-duplicate", "duplicate Casts of one value to one type merged");
        _constant = context.Statistic("casts-removed-constant", "Casts of constants replaced by converted constants");
        _dequantize = context.Statistic("casts-removed-dequantize", "Casts folded into the output type of DequantizeLinear");
        _lossyKept = context.Statistic("lossy-chains-kept", "Cast chains kept because the intermediate type rounds");
    }

    public void Execute() => ProcessGraph(_model.Graph);

    private void ProcessGraph(Graph g)
    {
        var seen = new Dictionary<(Value, string), Node>();
        _scopes.Add((g, seen));
        foreach (var n in g.Nodes)
        {
            _context.ThrowIfCancelled();
            if (IsCast(n)) FoldCast(n, seen);
            if (n.Owner is null) continue;
            foreach (var body in n.Subgraphs) ProcessGraph(body);
        }
        _scopes.RemoveAt(_scopes.Count - 1);
    }

    private void Removed(Statistic rule, long count = 1)
    {
        rule.Add(count);
        _context.MarkChanged();
    }

    private void FoldCast(Node n, Dictionary<(Value, string), Node> seen)
    {
        var g = n.Owner!;
        if (CastTarget(n) is not { } to) return;
        Statistic? chained = null;

        // Chains: read through earlier Casts that kept every value.
        while (n.Inputs[0] is { } x)
        {
            if (TryFoldConstant(n, x)) return;
            if (x.Kind != ValueKind.NodeResult || x.Producer is not { } m || !IsCast(m) || m.Inputs[0] is not { } source) break;
            if (Elem(source) is not { } a || CastTarget(m) is not { } b) break;
            bool exact = b.RepresentsExactly(a);
            if (!exact && !_foldLossy)
            {
                _lossyKept.Add();
                break;
            }
            g.SetOperand(n, 0, source);
            chained = exact && chained != _lossy ? _chain : _lossy;
            if (!x.HasUses)
            {
                Forget(m, seen);
                g.Erase(m);
                Removed(exact ? _chain : _lossy);
            }
            else _context.MarkChanged();
        }
        if (n.Inputs[0] is not { } input) return;

        // No-op: the operand already has the target type.
        if (Elem(input) == to && ReplaceAndErase(n, input))
        {
            Removed(chained ?? _noop);
            return;
        }

        // Duplicate of an earlier Cast of the same value (in this graph or, for a captured value, an enclosing one).
        var key = AttributeKey(n);
        if (FindEarlier(input, key, seen) is { } earlier && ReplaceAndErase(n, earlier.Outputs[0]))
        {
            Removed(_duplicate);
            return;
        }

        if (TryFoldDequantize(n, input, to)) return;
        seen.TryAdd((input, key), n);
    }

    private static string AttributeKey(Node n)
    {
        var attributes = n.Attributes;
        // The usual Cast has only "to": the same key without sorting and joining.
        if (attributes.Count == 1) return attributes[0].Name + "=" + Describe(attributes[0].Value);
        return string.Join(";", attributes.OrderBy(a => a.Name, StringComparer.Ordinal).Select(a => $"{a.Name}={Describe(a.Value)}"));
    }

    private static string Describe(AttrValue v) => v switch
    {
        IntAttr i => i.Value.ToString(System.Globalization.CultureInfo.InvariantCulture),
        FloatAttr f => BitConverter.SingleToUInt32Bits(f.Value).ToString(System.Globalization.CultureInfo.InvariantCulture),
        StringAttr s => "\"" + s.Value + "\"",
        _ => v.GetHashCode().ToString(System.Globalization.CultureInfo.InvariantCulture) + v.Kind,
    };

    private Node? FindEarlier(Value input, string key, Dictionary<(Value, string), Node> seen)
    {
        if (seen.TryGetValue((input, key), out var local) && local.Owner is not null) return local;
        // A captured value: a Cast of it in an enclosing graph seen so far comes before the node owning this body.
        var v = input;
        for (int s = _scopes.Count - 2; s >= 0 && v is { Kind: ValueKind.Capture, Outer: { } outer }; s--)
        {
            v = outer;
            if (v.Owner != _scopes[s].Graph) continue;
            if (_scopes[s].Seen.TryGetValue((v, key), out var found) && found.Owner is not null) return found;
        }
        return null;
    }

    private static void Forget(Node m, Dictionary<(Value, string), Node> seen)
    {
        if (m.Inputs[0] is { } i) seen.Remove((i, AttributeKey(m)));
    }

    // ---- constants ----

    private bool TryFoldConstant(Node n, Value x)
    {
        if (ConstantConversion.ConstantData(x) is not { } data || CastTarget(n) is not { } to) return false;
        if (!ConstantConversion.TryConvert(data, to, out var converted, out _)) return false;
        var g = n.Owner!;
        var result = n.Outputs[0];
        var name = result.Name;
        var k = g.AddConstant(_names.Fresh(g, name + "_const"), converted!);
        g.ReplaceAllUsesWith(result, k);
        g.Erase(n);
        g.Rename(k, name);
        Removed(_constant);

        var root = Root(x);
        if (!x.HasUses && x.Kind == ValueKind.Constant) g.RemoveConstant(x);
        else if (!root.HasUses && root.Kind == ValueKind.NodeResult && root.Producer is { } p && p.Owner is { } owner && !p.Outputs.Any(r => r.HasUses))
            owner.Erase(p);
        return true;
    }

    // ---- DequantizeLinear ----

    /// <summary>
    /// <c>DequantizeLinear(x) : T → Cast(U)</c> becomes <c>DequantizeLinear(x) : U</c>: from opset 23 through the
    /// <c>output_dtype</c> attribute; in opsets 19–22 (output type = x_scale's type) by converting a constant scale
    /// to U, only when every scale value is exact in U. Either way only when, for every quantized value q and every
    /// scale s with zero point z of the constant quantization parameters, rounding (q − z)·s once to U equals
    /// rounding it to T and then to U — proven by enumeration (8- and 16-bit quantized types).
    /// </summary>
    private bool TryFoldDequantize(Node n, Value y, DataType to)
    {
        if (y.Kind != ValueKind.NodeResult || y.Producer is not { OpType: "DequantizeLinear", IsDefaultDomain: true } dq) return false;
        if (y.ResultIndex != 0 || y.Uses.Count != 1 || to is not (DataType.Float or DataType.Float16 or DataType.BFloat16)) return false;
        if (n.Attributes.Any(a => a.Name is not ("to" or "saturate"))) return false;
        long opset = _model.DefaultOpset ?? 0;
        if (opset < 19) return false;
        if (Elem(y) is not { } t || !FloatFormat.IsSupported(t) || dq.Inputs.Count < 2 || dq.Inputs[1] is not { } scale) return false;
        if (Elem(scale) is not (DataType.Float or DataType.Float16 or DataType.BFloat16)) return false;
        if (Elem(dq.Inputs[0]) is not ({ } q and (DataType.Int8 or DataType.UInt8 or DataType.Int16 or DataType.UInt16))) return false;
        long outputDtype = dq.GetInt("output_dtype", 0);
        if ((outputDtype != 0 ? (DataType)outputDtype : Elem(scale)) != t) return false;
        if (!CastGraph.CanReplace(n.Outputs[0], y)) return false;

        if (ConstantConversion.ConstantData(scale) is not { } scaleData) return false;
        var zeroPoint = dq.Inputs.Count > 2 ? dq.Inputs[2] : null;
        var zeroData = zeroPoint is null ? null : ConstantConversion.ConstantData(zeroPoint);
        if (zeroPoint is not null && zeroData is null) return false;
        var range = q.Facts();
        long values = (long)(range.IntegerMax - range.IntegerMin + 1);
        if (scaleData.ElementCount * values > DequantizeProofLimit) return false;
        var scales = ConstantConversion.ReadAsDoubles(scaleData, DequantizeProofLimit);
        var zeros = zeroData is null ? null : ConstantConversion.ReadAsDoubles(zeroData, DequantizeProofLimit);
        if (scales is null || (zeroData is not null && (zeros is null || zeros.Length != scales.Length))) return false;

        bool viaAttribute = opset >= 23;
        if (!viaAttribute)
        {
            if (outputDtype != 0) return false;
            foreach (var s in scales)
                if (!double.IsNaN(s) && FloatFormat.Round(s, to) != s) return false;
        }
        for (int i = 0; i < scales.Length; i++)
        {
            double z = zeros?[i] ?? 0;
            for (double qv = range.IntegerMin; qv <= range.IntegerMax; qv++)
            {
                double d = (qv - z) * scales[i]; // exact: at most 17 + 24 significant bits
                double once = FloatFormat.Round(d, to), twice = FloatFormat.Round(FloatFormat.Round(d, t), to);
                if (BitConverter.DoubleToInt64Bits(once) != BitConverter.DoubleToInt64Bits(twice)) return false;
            }
        }

        var g = n.Owner!;
        if (viaAttribute)
        {
            dq.SetAttribute(Attr.Int("output_dtype", (long)to));
        }
        else
        {
            var owner = Root(scale).Owner;
            if (!ConstantConversion.TryConvert(scaleData, to, out var converted, out _)) return false;
            var k = owner.AddConstant(_names.Fresh(owner, $"{Root(scale).Name}_{to.ShortName()}"), converted!);
            dq.Owner!.SetOperand(dq, 1, k);
            var old = Root(scale);
            if (!old.HasUses && old.Kind == ValueKind.Constant) old.Owner.RemoveConstant(old);
        }
        SetElem(y, to);
        ReplaceAndErase(n, y);
        Removed(_dequantize);
        return true;
    }
}
