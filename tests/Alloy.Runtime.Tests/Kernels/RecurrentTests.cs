using Xunit;
using Alloy.Runtime.Numerics;
using static Alloy.Runtime.Tests.Kernels.LinAlgHarness;

namespace Alloy.Runtime.Tests.Kernels;

public sealed class RecurrentTests
{
    private static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    /// <summary>A recurrent problem in layout 0 with everything optional spelled out.</summary>
    private sealed class Problem
    {
        public string Cell = "LSTM";
        public long Seq, Batch, In, Hid;
        public string Direction = "forward";
        public int Dirs => Direction == "bidirectional" ? 2 : 1;
        public int Gates => Cell switch { "RNN" => 1, "GRU" => 3, _ => 4 };
        public double[] X = [], W = [], R = [];
        public double[]? B, P, H0, C0;
        public long[]? Lens;
        public double? Clip;
        public bool LinearBeforeReset, InputForget;
        public ElementType Type = ElementType.Float;
        /// <summary>f, g, h per direction.</summary>
        public Func<double, double>[][]? Acts;

        public static Problem Make(string cell, long seq, long batch, long input, long hid, string direction, int seed, ElementType type = ElementType.Float)
        {
            var p = new Problem { Cell = cell, Seq = seq, Batch = batch, In = input, Hid = hid, Direction = direction, Type = type };
            p.X = RandomOf(type, seq * batch * input, seed);
            p.W = RandomOf(type, p.Dirs * p.Gates * hid * input, seed + 1);
            p.R = RandomOf(type, p.Dirs * p.Gates * hid * hid, seed + 2);
            return p;
        }

        public Tensor?[] Inputs()
        {
            var list = new List<Tensor?>
            {
                T(Type, [Seq, Batch, In], X), T(Type, [Dirs, Gates * Hid, In], W), T(Type, [Dirs, Gates * Hid, Hid], R),
                B is null ? null : T(Type, [Dirs, 2 * Gates * Hid], B),
                Lens is null ? null : ElementConvert.FromLongs(ElementType.Int32, [Batch], Lens),
                H0 is null ? null : T(Type, [Dirs, Batch, Hid], H0),
            };
            if (Cell == "LSTM")
            {
                list.Add(C0 is null ? null : T(Type, [Dirs, Batch, Hid], C0));
                list.Add(P is null ? null : T(Type, [Dirs, 3 * Hid], P));
            }
            return [.. list];
        }

        /// <summary>The recurrence written out step by step: Y [seq, dirs, batch, hid], Y_h and Y_c [dirs, batch, hid].</summary>
        public (double[] Y, double[] Yh, double[] Yc) Reference()
        {
            var y = new double[Seq * Dirs * Batch * Hid];
            var yh = new double[Dirs * Batch * Hid];
            var yc = new double[Dirs * Batch * Hid];
            for (int d = 0; d < Dirs; d++)
            {
                var acts = Acts?[d] ?? Cell switch
                {
                    "RNN" => [Math.Tanh],
                    "GRU" => [Sigmoid, Math.Tanh],
                    _ => new Func<double, double>[] { Sigmoid, Math.Tanh, Math.Tanh },
                };
                double Cl(double v) => Clip is { } c ? Math.Max(-c, Math.Min(c, v)) : v;
                // gate pre-activation pieces
                double Wx(int gate, long j, long t, long b)
                {
                    double s = B?[d * 2 * Gates * Hid + gate * Hid + j] ?? 0;
                    for (long k = 0; k < In; k++) s += W[((d * Gates + gate) * Hid + j) * In + k] * X[(t * Batch + b) * In + k];
                    return s;
                }
                double Rh(int gate, long j, double[] h)
                {
                    double s = B?[d * 2 * Gates * Hid + (Gates + gate) * Hid + j] ?? 0;
                    for (long k = 0; k < Hid; k++) s += R[((d * Gates + gate) * Hid + j) * Hid + k] * h[k];
                    return s;
                }
                for (long b = 0; b < Batch; b++)
                {
                    var h = Enumerable.Range(0, (int)Hid).Select(j => H0?[(d * Batch + b) * Hid + j] ?? 0).ToArray();
                    var c = Enumerable.Range(0, (int)Hid).Select(j => C0?[(d * Batch + b) * Hid + j] ?? 0).ToArray();
                    long len = Lens?[b] ?? Seq;
                    bool reverse = Direction == "reverse" || d == 1;
                    for (long step = 0; step < len; step++)
                    {
                        long t = reverse ? len - 1 - step : step;
                        var hn = new double[Hid];
                        var cn = new double[Hid];
                        for (long j = 0; j < Hid; j++)
                        {
                            switch (Cell)
                            {
                                case "RNN":
                                    hn[j] = acts[0](Cl(Wx(0, j, t, b) + Rh(0, j, h)));
                                    break;
                                case "GRU":
                                {
                                    double z = acts[0](Cl(Wx(0, j, t, b) + Rh(0, j, h)));
                                    double rj(long k) => acts[0](Cl(Wx(1, k, t, b) + Rh(1, k, h)));
                                    double cand;
                                    if (LinearBeforeReset) cand = Wx(2, j, t, b) + rj(j) * Rh(2, j, h);
                                    else cand = Wx(2, j, t, b) + Rh(2, j, h.Select((v, k) => rj(k) * v).ToArray());
                                    hn[j] = (1 - z) * acts[1](Cl(cand)) + z * h[j];
                                    break;
                                }
                                default:
                                {
                                    double pi = P?[d * 3 * Hid + j] ?? 0, po = P?[d * 3 * Hid + Hid + j] ?? 0, pf = P?[d * 3 * Hid + 2 * Hid + j] ?? 0;
                                    double i = acts[0](Cl(Wx(0, j, t, b) + Rh(0, j, h) + pi * c[j]));
                                    double f = InputForget ? 1 - i : acts[0](Cl(Wx(2, j, t, b) + Rh(2, j, h) + pf * c[j]));
                                    double g = acts[1](Cl(Wx(3, j, t, b) + Rh(3, j, h)));
                                    cn[j] = Round(Type, f * c[j] + i * g);
                                    double o = acts[0](Cl(Wx(1, j, t, b) + Rh(1, j, h) + po * cn[j]));
                                    hn[j] = o * acts[2](cn[j]);
                                    break;
                                }
                            }
                        }
                        h = hn.Select(v => Round(Type, v)).ToArray();
                        if (Cell == "LSTM") c = cn;
                        for (long j = 0; j < Hid; j++) y[((t * Dirs + d) * Batch + b) * Hid + j] = h[j];
                    }
                    if (len == 0) continue;   // no last step: the final states stay zero
                    for (long j = 0; j < Hid; j++)
                    {
                        yh[(d * Batch + b) * Hid + j] = h[j];
                        yc[(d * Batch + b) * Hid + j] = c[j];
                    }
                }
            }
            return (y, yh, yc);
        }
    }

    private static Dictionary<string, object> Attrs(Problem p, params (string, object)[] extra)
    {
        var a = A(extra);
        a["hidden_size"] = p.Hid;
        a["direction"] = p.Direction;
        if (p.Clip is { } c) a["clip"] = (float)c;
        if (p.Cell == "GRU") a["linear_before_reset"] = p.LinearBeforeReset ? 1L : 0L;
        if (p.Cell == "LSTM") a["input_forget"] = p.InputForget ? 1L : 0L;
        return a;
    }

    private static void Check(Problem p, Dictionary<string, object> attrs)
    {
        int outputs = p.Cell == "LSTM" ? 3 : 2;
        var r = RunN(p.Cell, attrs, outputs, 14, p.Inputs());
        var (y, yh, yc) = p.Reference();
        AssertRounded(y, r[0], p.Type, [p.Seq, p.Dirs, p.Batch, p.Hid]);
        AssertRounded(yh, r[1], p.Type, [p.Dirs, p.Batch, p.Hid]);
        if (p.Cell == "LSTM") AssertRounded(yc, r[2], p.Type, [p.Dirs, p.Batch, p.Hid]);
    }

    [Fact]
    public void RnnByHand()
    {
        // hidden 1, input 1: h1 = tanh(2 * 1), h2 = tanh(2 * -1 + 0.5 * h1).
        var r = RunN("RNN", A(("hidden_size", 1L)), 2, 14, F32([2, 1, 1], [1, -1]), F32([1, 1, 1], [2]), F32([1, 1, 1], [0.5]));
        double h1 = Math.Tanh(2), h2 = Math.Tanh(-2 + 0.5 * (float)h1);
        AssertRounded([h1, h2], r[0], ElementType.Float, [2, 1, 1, 1]);
        AssertRounded([h2], r[1], ElementType.Float, [1, 1, 1]);
    }

    [Theory]
    [InlineData("forward")]
    [InlineData("reverse")]
    [InlineData("bidirectional")]
    public void RnnWithBiasInitialStateAndSequenceLengths(string direction)
    {
        var p = Problem.Make("RNN", 4, 3, 5, 3, direction, 30);
        p.B = Random(p.Dirs * 2 * 3, 33);
        p.H0 = Random(p.Dirs * 3 * 3, 34);
        p.Lens = [4, 2, 1];
        Check(p, Attrs(p));
    }

    [Fact]
    public void RnnActivationAlphaIsConsumedInOrder()
    {
        var p = Problem.Make("RNN", 3, 2, 2, 4, "bidirectional", 40);
        p.Acts = [[v => v >= 0 ? v : 0.3f * v], [v => Math.Max(0, Math.Min(1, 0.7f * v + 0.5f))]];
        Check(p, Attrs(p, ("activations", new[] { "LeakyRelu", "HardSigmoid" }), ("activation_alpha", new[] { 0.3f, 0.7f })));
    }

    [Theory]
    [InlineData(false, "forward")]
    [InlineData(true, "forward")]
    [InlineData(false, "bidirectional")]
    [InlineData(true, "bidirectional")]
    public void GruBothResetVariants(bool linearBeforeReset, string direction)
    {
        var p = Problem.Make("GRU", 5, 3, 4, 3, direction, 50);
        p.LinearBeforeReset = linearBeforeReset;
        p.B = Random(p.Dirs * 6 * 3, 53);
        p.H0 = Random(p.Dirs * 3 * 3, 54);
        p.Lens = [5, 3, 1];
        Check(p, Attrs(p));
    }

    [Theory]
    [InlineData("GRU")]
    [InlineData("LSTM")]
    public void ZeroLengthSequencesGiveZeroFinalStates(string cell)
    {
        var p = Problem.Make(cell, 3, 3, 2, 2, "bidirectional", 100);
        p.H0 = Random(2 * 3 * 2, 101);
        if (cell == "LSTM") p.C0 = Random(2 * 3 * 2, 102);
        p.Lens = [0, 3, 1];
        Check(p, Attrs(p));
        var r = RunN(cell, Attrs(p), cell == "LSTM" ? 3 : 2, 14, p.Inputs());
        var yh = ElementConvert.ToDoubles(r[1]!);
        for (int d = 0; d < 2; d++) for (int j = 0; j < 2; j++) Assert.Equal(0, yh[(d * 3 + 0) * 2 + j]);
    }

    [Fact]
    public void GruBFloat16RoundsTheStateEveryStep()
    {
        var p = Problem.Make("GRU", 4, 2, 3, 5, "reverse", 60, ElementType.BFloat16);
        p.LinearBeforeReset = true;
        p.B = RandomOf(ElementType.BFloat16, 6 * 5, 63);
        Check(p, Attrs(p));
    }

    [Theory]
    [InlineData(false, "forward")]
    [InlineData(true, "reverse")]
    [InlineData(false, "bidirectional")]
    public void LstmWithPeepholesClipAndInitialStates(bool inputForget, string direction)
    {
        var p = Problem.Make("LSTM", 4, 3, 3, 4, direction, 70);
        p.InputForget = inputForget;
        p.B = Random(p.Dirs * 8 * 4, 73).Select(v => 2 * v).ToArray();   // large enough for the clip to bite
        p.P = Random(p.Dirs * 3 * 4, 74);
        p.H0 = Random(p.Dirs * 3 * 4, 75);
        p.C0 = Random(p.Dirs * 3 * 4, 76);
        p.Lens = [2, 4, 3];
        p.Clip = 0.75;
        Check(p, Attrs(p));
    }

    [Fact]
    public void LstmFloat16AndCustomActivations()
    {
        var p = Problem.Make("LSTM", 3, 2, 4, 3, "forward", 80, ElementType.Float16);
        p.Acts = [[v => Math.Max(0, Math.Min(1, 0.3f * v + 0.4f)), Math.Tanh, v => 0.7f * Math.Tanh(1.1f * v)]];
        Check(p, Attrs(p, ("activations", new[] { "HardSigmoid", "Tanh", "ScaledTanh" }),
            ("activation_alpha", new[] { 0.3f, 0.7f }), ("activation_beta", new[] { 0.4f, 1.1f })));
    }

    [Fact]
    public void BatchFirstLayoutMatchesTheTransposedDefaultLayout()
    {
        var p = Problem.Make("LSTM", 4, 3, 2, 3, "bidirectional", 90);
        p.H0 = Random(2 * 3 * 3, 93);
        p.C0 = Random(2 * 3 * 3, 94);
        p.Lens = [1, 4, 2];
        var (y, yh, yc) = p.Reference();
        // Layout 1: X [batch, seq, in], states [batch, dirs, hid]; Y [batch, seq, dirs, hid].
        var x1 = new double[p.X.Length];
        for (int t = 0; t < 4; t++) for (int b = 0; b < 3; b++) for (int k = 0; k < 2; k++) x1[(b * 4 + t) * 2 + k] = p.X[(t * 3 + b) * 2 + k];
        double[] ToBatchFirst(double[] s)
        {
            var r = new double[s.Length];
            for (int d = 0; d < 2; d++) for (int b = 0; b < 3; b++) for (int j = 0; j < 3; j++) r[(b * 2 + d) * 3 + j] = s[(d * 3 + b) * 3 + j];
            return r;
        }
        var r1 = RunN("LSTM", Attrs(p, ("layout", 1L)), 3, 14, F32([3, 4, 2], x1), F32([2, 12, 2], p.W), F32([2, 12, 3], p.R), null,
            ElementConvert.FromLongs(ElementType.Int32, [3], p.Lens), F32([3, 2, 3], ToBatchFirst(p.H0)), F32([3, 2, 3], ToBatchFirst(p.C0)), null);
        var y1 = new double[y.Length];
        for (int t = 0; t < 4; t++) for (int d = 0; d < 2; d++) for (int b = 0; b < 3; b++) for (int j = 0; j < 3; j++)
                        y1[((b * 4 + t) * 2 + d) * 3 + j] = y[((t * 2 + d) * 3 + b) * 3 + j];
        AssertRounded(y1, r1[0], ElementType.Float, [3, 4, 2, 3]);
        AssertRounded(ToBatchFirst(yh), r1[1], ElementType.Float, [3, 2, 3]);
        AssertRounded(ToBatchFirst(yc), r1[2], ElementType.Float, [3, 2, 3]);
        // Steps past a sequence's length are zero in Y.
        var yv = ElementConvert.ToDoubles(r1[0]!);
        for (int t = 1; t < 4; t++) for (int j = 0; j < 6; j++) Assert.Equal(0, yv[(0 * 4 + t) * 6 + j]);
    }

    [Fact]
    public void RecurrentFactoriesRejectBadAttributes()
    {
        Assert.Null(Create("LSTM", A(("activations", new[] { "Sigmoid", "Tanh", "Swish" })), out var reason));
        Assert.Contains("Swish", reason);
        Assert.Null(Create("GRU", A(("activations", new[] { "Sigmoid", "Tanh", "Tanh" })), out reason));
        Assert.Contains("expected 2", reason);
        Assert.Null(Create("RNN", A(("direction", "sideways")), out reason));
        Assert.Null(Create("RNN", A(("layout", 2L)), out reason));
        var p = Problem.Make("GRU", 2, 1, 2, 2, "forward", 1);
        var e = Assert.Throws<Alloy.Runtime.Kernels.KernelException>(() => RunN("GRU", A(("hidden_size", 3L)), 2, 14, p.Inputs()));
        Assert.Contains("'W'", e.Message);
    }
}
