using Alloy.Runtime.Numerics;
using static Alloy.Runtime.Kernels.Reference.LinearAlgebraHelpers;

namespace Alloy.Runtime.Kernels.Reference;

internal static partial class ReferenceKernels
{
    static partial void RegisterRecurrent(KernelRegistry r)
    {
        r.Register("RNN", (KernelNode n, out string? reason) => CreateRecurrent(n, RecurrentCell.Rnn, out reason));
        r.Register("GRU", (KernelNode n, out string? reason) => CreateRecurrent(n, RecurrentCell.Gru, out reason));
        r.Register("LSTM", (KernelNode n, out string? reason) => CreateRecurrent(n, RecurrentCell.Lstm, out reason));
    }

    private static IKernel? CreateRecurrent(KernelNode n, RecurrentCell cell, out string? reason)
    {
        reason = FloatTypeReason(n, 0, "X") ?? FloatTypeReason(n, 1, "W") ?? FloatTypeReason(n, 2, "R");
        if (reason is not null) return null;
        var a = n.Attributes;
        var direction = a.GetString("direction", "forward");
        if (direction is not ("forward" or "reverse" or "bidirectional"))
        {
            reason = $"{n.OpType}: direction '{direction}' is not forward, reverse or bidirectional";
            return null;
        }
        int dirs = direction == "bidirectional" ? 2 : 1;
        long layout = a.GetInt("layout", 0);
        if (layout is not (0 or 1))
        {
            reason = $"{n.OpType}: layout {layout} is not 0 or 1";
            return null;
        }
        int perDir = cell switch { RecurrentCell.Rnn => 1, RecurrentCell.Gru => 2, _ => 3 };
        string[] defaults = cell switch
        {
            RecurrentCell.Rnn => ["Tanh"],
            RecurrentCell.Gru => ["Sigmoid", "Tanh"],
            _ => ["Sigmoid", "Tanh", "Tanh"],
        };
        var names = a.GetStrings("activations") ?? [];
        if (names.Length == 0) names = [.. Enumerable.Range(0, dirs).SelectMany(_ => defaults)];
        else if (names.Length == perDir && dirs == 2) names = [.. names, .. names];
        else if (names.Length != perDir * dirs)
        {
            reason = $"{n.OpType}: {names.Length} activations given, expected {perDir * dirs} ({perDir} per direction)";
            return null;
        }
        var alphas = new Queue<float>(a.GetFloats("activation_alpha") ?? []);
        var betas = new Queue<float>(a.GetFloats("activation_beta") ?? []);
        var acts = new RecurrentActivation[names.Length];
        for (int i = 0; i < names.Length; i++)
        {
            var act = RecurrentActivation.Create(names[i], alphas, betas);
            if (act is null)
            {
                reason = $"{n.OpType}: activation '{names[i]}' is not supported";
                return null;
            }
            acts[i] = act;
        }
        double? clip = a.Has("clip") ? a.GetFloat("clip", 0f) : null;
        if (clip is <= 0)
        {
            reason = $"{n.OpType}: clip {clip} must be positive";
            return null;
        }
        long? hidden = a.Has("hidden_size") ? a.GetInt("hidden_size") : null;
        return new RecurrentKernel(n.OpType, cell, direction, layout == 1, hidden, acts, clip,
            linearBeforeReset: a.GetInt("linear_before_reset", 0) != 0, inputForget: a.GetInt("input_forget", 0) != 0);
    }
}

internal enum RecurrentCell { Rnn, Gru, Lstm }

/// <summary>
/// An activation function of the recurrent ops, with its alpha/beta. Alphas and betas are consumed in order
/// by the activations that take them; missing ones take the defaults of the corresponding ONNX ops
/// (Affine 1/0, LeakyRelu 0.01, ThresholdedRelu 1, ScaledTanh 1/1, HardSigmoid 0.2/0.5, Elu 1).
/// </summary>
internal sealed class RecurrentActivation(string name, Func<double, double> f)
{
    public string Name { get; } = name;
    public double Apply(double x) => f(x);

    public static RecurrentActivation? Create(string name, Queue<float> alphas, Queue<float> betas)
    {
        double Alpha(double d) => alphas.Count > 0 ? alphas.Dequeue() : d;
        double Beta(double d) => betas.Count > 0 ? betas.Dequeue() : d;
        switch (name.ToLowerInvariant())
        {
            case "relu": return new(name, x => Math.Max(x, 0));
            case "tanh": return new(name, Math.Tanh);
            case "sigmoid": return new(name, x => 1 / (1 + Math.Exp(-x)));
            case "softsign": return new(name, x => x / (1 + Math.Abs(x)));
            case "softplus": return new(name, x => x > 0 ? x + Math.Log(1 + Math.Exp(-x)) : Math.Log(1 + Math.Exp(x)));
            case "affine": { double a = Alpha(1), b = Beta(0); return new(name, x => a * x + b); }
            case "leakyrelu": { double a = Alpha(0.01f); return new(name, x => x >= 0 ? x : a * x); }
            case "thresholdedrelu": { double a = Alpha(1); return new(name, x => x > a ? x : 0); }
            case "scaledtanh": { double a = Alpha(1), b = Beta(1); return new(name, x => a * Math.Tanh(b * x)); }
            case "hardsigmoid": { double a = Alpha(0.2f), b = Beta(0.5f); return new(name, x => Math.Max(0, Math.Min(1, a * x + b))); }
            case "elu": { double a = Alpha(1); return new(name, x => x >= 0 ? x : a * (Math.Exp(x) - 1)); }
            default: return null;
        }
    }
}

/// <summary>
/// RNN (opset 7, 14), GRU (opset 7, 14) and LSTM (opset 7, 14), forward / reverse / bidirectional, layout 0
/// (X [seq, batch, input], Y [seq, dirs, batch, hidden], Y_h / Y_c [dirs, batch, hidden]) or layout 1 (batch
/// first: X [batch, seq, input], Y [batch, seq, dirs, hidden], Y_h / Y_c [batch, dirs, hidden]).
/// Gate order: GRU z, r, h; LSTM i, o, f, c (peepholes P: i, o, f). Optional B (Wb then Rb), sequence_lens
/// (steps past a batch entry's length give zeros in Y; Y_h / Y_c hold its last valid step, zeros for length 0;
/// the reverse direction starts at its last valid step), initial_h, initial_c, clip (applied to every gate
/// pre-activation), GRU linear_before_reset, LSTM input_forget (f = 1 - i).
/// Every gate pre-activation (W x + R h + biases, and peepholes) is one double sum; the hidden and cell
/// states are rounded to the element type at every step (they are the tensors Y holds).
/// </summary>
internal sealed class RecurrentKernel(string op, RecurrentCell cell, string direction, bool batchFirst, long? hiddenSize,
    RecurrentActivation[] acts, double? clip, bool linearBeforeReset, bool inputForget) : IKernel
{
    private int Gates => cell switch { RecurrentCell.Rnn => 1, RecurrentCell.Gru => 3, _ => 4 };

    public void Run(KernelContext context, ReadOnlySpan<Tensor?> inputs, Span<Tensor?> outputs)
    {
        var x = Required(inputs, 0, op, "X");
        var w = Required(inputs, 1, op, "W");
        var r = Required(inputs, 2, op, "R");
        RequireFloat(x, op, "X");
        RequireSameType(x, "X", w, "W", op);
        RequireSameType(x, "X", r, "R", op);
        var type = x.Type;
        int dirs = direction == "bidirectional" ? 2 : 1;
        int gates = Gates;
        if (x.Rank != 3) throw new KernelException($"{op}: X must have rank 3, got {x.ShapeText}");
        long seq = batchFirst ? x.Shape[1] : x.Shape[0], batch = batchFirst ? x.Shape[0] : x.Shape[1], inSize = x.Shape[2];
        if (r.Rank != 3) throw new KernelException($"{op}: R must have rank 3, got {r.ShapeText}");
        long hid = hiddenSize ?? r.Shape[2];
        void CheckShape(Tensor t, string name, params long[] expected)
        {
            if (!t.Shape.SequenceEqual(expected))
                throw new KernelException($"{op}: input '{name}' has shape {t.ShapeText}, expected {ShapeText(expected)}");
        }
        CheckShape(w, "W", dirs, gates * hid, inSize);
        CheckShape(r, "R", dirs, gates * hid, hid);
        var wv = ElementConvert.ToDoubles(w);
        var rv = ElementConvert.ToDoubles(r);
        var bv = new double[dirs * 2 * gates * hid];
        if (Optional(inputs, 3) is { } b)
        {
            RequireSameType(x, "X", b, "B", op);
            CheckShape(b, "B", dirs, 2 * gates * hid);
            bv = ElementConvert.ToDoubles(b);
        }
        var lens = Enumerable.Repeat(seq, (int)batch).ToArray();
        if (Optional(inputs, 4) is { } sl)
        {
            if (!sl.Type.IsInteger()) throw new KernelException($"{op}: sequence_lens is {sl.Type.Name()}, expected int32");
            CheckShape(sl, "sequence_lens", batch);
            lens = ElementConvert.ToLongs(sl);
            foreach (var l in lens)
                if (l < 0 || l > seq) throw new KernelException($"{op}: sequence_lens value {l} is outside [0, {seq}]");
        }
        long[] stateShape = batchFirst ? [batch, dirs, hid] : [dirs, batch, hid];
        long StateIndex(int d, long bt, long j) => batchFirst ? (bt * dirs + d) * hid + j : (d * batch + bt) * hid + j;
        double[]? h0 = null, c0 = null, pv = null;
        if (Optional(inputs, 5) is { } ih)
        {
            RequireSameType(x, "X", ih, "initial_h", op);
            CheckShape(ih, "initial_h", stateShape);
            h0 = ElementConvert.ToDoubles(ih);
        }
        if (cell == RecurrentCell.Lstm)
        {
            if (Optional(inputs, 6) is { } ic)
            {
                RequireSameType(x, "X", ic, "initial_c", op);
                CheckShape(ic, "initial_c", stateShape);
                c0 = ElementConvert.ToDoubles(ic);
            }
            if (Optional(inputs, 7) is { } p)
            {
                RequireSameType(x, "X", p, "P", op);
                CheckShape(p, "P", dirs, 3 * hid);
                pv = ElementConvert.ToDoubles(p);
            }
        }
        var xv = ElementConvert.ToDoubles(x);
        long XIndex(long t, long bt) => batchFirst ? (bt * seq + t) * inSize : (t * batch + bt) * inSize;
        long YIndex(long t, int d, long bt) => batchFirst ? ((bt * seq + t) * dirs + d) * hid : ((t * dirs + d) * batch + bt) * hid;

        var y = new double[seq * dirs * batch * hid];
        var yh = new double[dirs * batch * hid];
        var yc = new double[dirs * batch * hid];
        int perDir = acts.Length / dirs;
        var h = new double[hid];
        var c = new double[hid];
        var pre = new double[gates * hid];
        for (int d = 0; d < dirs; d++)
        {
            bool reverse = direction == "reverse" || d == 1;
            var f = acts[d * perDir];
            var g = perDir > 1 ? acts[d * perDir + 1] : f;
            var hAct = perDir > 2 ? acts[d * perDir + 2] : f;
            long wBase = d * gates * hid * inSize, rBase = d * gates * hid * hid, bBase = d * 2 * gates * hid;
            // W x + Wb (+ R h + Rb unless gate is GRU's h with linear_before_reset or reset applied first)
            double Input(long gate, long j, long xb)
            {
                double s = bv[bBase + gate * hid + j];
                long row = wBase + (gate * hid + j) * inSize;
                for (long k = 0; k < inSize; k++) s += wv[row + k] * xv[xb + k];
                return s;
            }
            double Recur(long gate, long j, double[] state)
            {
                double s = bv[bBase + (gates + gate) * hid + j];
                long row = rBase + (gate * hid + j) * hid;
                for (long k = 0; k < hid; k++) s += rv[row + k] * state[k];
                return s;
            }
            double Clip(double v) => clip is { } cl ? Math.Clamp(v, -cl, cl) : v;

            for (long bt = 0; bt < batch; bt++)
            {
                for (long j = 0; j < hid; j++)
                {
                    h[j] = h0 is null ? 0 : h0[StateIndex(d, bt, j)];
                    c[j] = c0 is null ? 0 : c0[StateIndex(d, bt, j)];
                }
                long len = lens[bt];
                for (long s = 0; s < len; s++)
                {
                    long t = reverse ? len - 1 - s : s;
                    long xb = XIndex(t, bt);
                    switch (cell)
                    {
                        case RecurrentCell.Rnn:
                            for (long j = 0; j < hid; j++) pre[j] = f.Apply(Clip(Input(0, j, xb) + Recur(0, j, h)));
                            for (long j = 0; j < hid; j++) h[j] = RoundTo(type, pre[j]);
                            break;
                        case RecurrentCell.Gru:
                        {
                            var z = new double[hid];
                            var rg = new double[hid];
                            for (long j = 0; j < hid; j++)
                            {
                                z[j] = f.Apply(Clip(Input(0, j, xb) + Recur(0, j, h)));
                                rg[j] = f.Apply(Clip(Input(1, j, xb) + Recur(1, j, h)));
                            }
                            var rh = h.Select((v, j) => rg[j] * v).ToArray();
                            var hNew = new double[hid];
                            for (long j = 0; j < hid; j++)
                            {
                                double cand = linearBeforeReset
                                    ? Input(2, j, xb) + rg[j] * Recur(2, j, h)
                                    : Input(2, j, xb) + Recur(2, j, rh);
                                double ht = g.Apply(Clip(cand));
                                hNew[j] = (1 - z[j]) * ht + z[j] * h[j];
                            }
                            for (long j = 0; j < hid; j++) h[j] = RoundTo(type, hNew[j]);
                            break;
                        }
                        default:
                        {
                            long pBase = d * 3 * hid;
                            var cNew = new double[hid];
                            var hNew = new double[hid];
                            for (long j = 0; j < hid; j++)
                            {
                                double pi = pv is null ? 0 : pv[pBase + j], po = pv is null ? 0 : pv[pBase + hid + j], pf = pv is null ? 0 : pv[pBase + 2 * hid + j];
                                double ig = f.Apply(Clip(Input(0, j, xb) + Recur(0, j, h) + pi * c[j]));
                                double fg = inputForget ? 1 - ig : f.Apply(Clip(Input(2, j, xb) + Recur(2, j, h) + pf * c[j]));
                                double cg = g.Apply(Clip(Input(3, j, xb) + Recur(3, j, h)));
                                cNew[j] = RoundTo(type, fg * c[j] + ig * cg);
                                double og = f.Apply(Clip(Input(1, j, xb) + Recur(1, j, h) + po * cNew[j]));
                                hNew[j] = RoundTo(type, og * hAct.Apply(cNew[j]));
                            }
                            Array.Copy(cNew, c, hid);
                            Array.Copy(hNew, h, hid);
                            break;
                        }
                    }
                    Array.Copy(h, 0, y, YIndex(t, d, bt), hid);
                }
                // A batch entry of length 0 has no last step: its Y_h / Y_c stay zero (as ONNX Runtime does).
                if (len > 0)
                    for (long j = 0; j < hid; j++)
                    {
                        yh[StateIndex(d, bt, j)] = h[j];
                        yc[StateIndex(d, bt, j)] = c[j];
                    }
            }
        }
        long[] yShape = batchFirst ? [batch, seq, dirs, hid] : [seq, dirs, batch, hid];
        if (outputs.Length > 0) outputs[0] = ElementConvert.FromDoubles(type, yShape, y);
        if (outputs.Length > 1) outputs[1] = ElementConvert.FromDoubles(type, stateShape, yh);
        if (outputs.Length > 2 && cell == RecurrentCell.Lstm) outputs[2] = ElementConvert.FromDoubles(type, stateShape, yc);
    }
}
