using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Globalization;

namespace Alloy.IR;

/// <summary>
/// Reads the IR text form (see docs/ir.md) written by <see cref="IrPrinter"/> or by hand. One pass, linear in
/// the text. Errors throw <see cref="IrParseException"/> with line and column.
/// </summary>
public static class IrParser
{
    /// <summary>Parses a model: an optional <c>module {...}</c> header, the main graph, then functions.</summary>
    public static Model ParseModel(string text) => new IrReader(text).ReadModel();

    /// <summary>Parses one top-level <c>graph</c>.</summary>
    public static Graph ParseGraph(string text) => new IrReader(text).ReadGraphOnly();
}

internal sealed class IrReader
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private readonly IrLexer _lex;
    private readonly Token[] _buf = new Token[4];
    private int _head, _count;
    private Token _last;

    public IrReader(string text) => _lex = new IrLexer(text);

    // ---- token stream ----

    private Token Peek(int k = 0)
    {
        while (_count <= k)
        {
            _buf[(_head + _count) & 3] = _lex.Next();
            _count++;
        }
        return _buf[(_head + k) & 3];
    }

    private Token Next()
    {
        var t = Peek();
        _head = (_head + 1) & 3;
        _count--;
        _last = t;
        return t;
    }

    private static IrParseException Error(Token t, string message) => new(t.Line, t.Col, message);

    private static string Describe(Token t) => t.Kind switch
    {
        TokenKind.Eof => "end of input",
        TokenKind.String => $"string \"{IrSyntax.Escape(t.Text)}\"",
        TokenKind.ValueName => $"'{ValueText(t.Text)}'",
        TokenKind.GraphName => $"'@{t.Text}'",
        TokenKind.Hex => $"'0x{t.Text}'",
        TokenKind.Digest => $"'sha256:{t.Text}'",
        _ => $"'{t.Text}'",
    };

    private static string ValueText(string name) => "%" + (IrSyntax.IsBareName(name) ? name : "\"" + IrSyntax.Escape(name) + "\"");

    private Token Expect(TokenKind kind, string what)
    {
        var t = Peek();
        if (t.Kind != kind) throw Error(t, $"expected {what} but found {Describe(t)}");
        return Next();
    }

    private Token ExpectWord(string word)
    {
        var t = Peek();
        if (!t.IsWord(word)) throw Error(t, $"expected '{word}' but found {Describe(t)}");
        return Next();
    }

    private bool Accept(TokenKind kind)
    {
        if (Peek().Kind != kind) return false;
        Next();
        return true;
    }

    /// <summary>True when the next token is <paramref name="word"/> on the same line, followed by <paramref name="then"/>.</summary>
    private bool AtSuffix(string word, TokenKind then) => Peek().IsWord(word) && !Peek().NewLine && Peek(1).Kind == then;

    /// <summary>An identifier or a quoted string.</summary>
    private string NameLike(string what)
    {
        var t = Peek();
        if (t.Kind is TokenKind.Ident or TokenKind.String) return Next().Text;
        throw Error(t, $"expected {what} but found {Describe(t)}");
    }

    private string QuotedString(string what = "a string") => Expect(TokenKind.String, what).Text;

    private string Paren(string what)
    {
        Expect(TokenKind.LParen, "'('");
        var s = QuotedString(what);
        Expect(TokenKind.RParen, "')'");
        return s;
    }

    private List<KeyValuePair<string, string>> Dict()
    {
        Expect(TokenKind.LBrace, "'{'");
        var list = new List<KeyValuePair<string, string>>();
        if (Accept(TokenKind.RBrace)) return list;
        do
        {
            var k = QuotedString("a quoted key");
            Expect(TokenKind.Equals, "'='");
            var v = QuotedString("a quoted value");
            list.Add(new(k, v));
        }
        while (Accept(TokenKind.Comma));
        Expect(TokenKind.RBrace, "'}'");
        return list;
    }

    private long Integer(string what = "an integer")
    {
        var t = Peek();
        if (t.Kind != TokenKind.Number || t.IsFloat) throw Error(t, $"expected {what} but found {Describe(t)}");
        Next();
        if (!long.TryParse(t.Text, NumberStyles.AllowLeadingSign, Inv, out var v)) throw Error(t, $"integer '{t.Text}' is out of range");
        return v;
    }

    private List<OpsetImport> Opsets()
    {
        Expect(TokenKind.LBrace, "'{'");
        var list = new List<OpsetImport>();
        if (Accept(TokenKind.RBrace)) return list;
        do
        {
            var d = QuotedString("a quoted domain");
            Expect(TokenKind.Equals, "'='");
            list.Add(new OpsetImport(d, Integer("an opset version")));
        }
        while (Accept(TokenKind.Comma));
        Expect(TokenKind.RBrace, "'}'");
        return list;
    }

    private void ExpectEof()
    {
        var t = Peek();
        if (t.Kind != TokenKind.Eof) throw Error(t, $"expected end of input but found {Describe(t)}");
    }

    // ---- model ----

    public Graph ReadGraphOnly()
    {
        var g = ReadGraph(null);
        ExpectEof();
        return g;
    }

    public Model ReadModel()
    {
        long? irVersion = null, modelVersion = null;
        string? producerName = null, producerVersion = null, domain = null, doc = null;
        List<OpsetImport>? opsets = null;
        List<KeyValuePair<string, string>>? metadata = null;
        if (Peek().IsWord("module"))
        {
            Next();
            Expect(TokenKind.LBrace, "'{'");
            var seen = new HashSet<string>(StringComparer.Ordinal);
            if (!Accept(TokenKind.RBrace))
            {
                do
                {
                    var keyTok = Expect(TokenKind.Ident, "a module field");
                    if (!seen.Add(keyTok.Text)) throw Error(keyTok, $"module field '{keyTok.Text}' is given twice");
                    Expect(TokenKind.Equals, "'='");
                    switch (keyTok.Text)
                    {
                        case "ir_version": irVersion = Integer(); break;
                        case "opsets": opsets = Opsets(); break;
                        case "producer_name": producerName = QuotedString(); break;
                        case "producer_version": producerVersion = QuotedString(); break;
                        case "domain": domain = QuotedString(); break;
                        case "model_version": modelVersion = Integer(); break;
                        case "doc": doc = QuotedString(); break;
                        case "metadata": metadata = Dict(); break;
                        default: throw Error(keyTok, $"unknown module field '{keyTok.Text}'");
                    }
                }
                while (Accept(TokenKind.Comma));
                Expect(TokenKind.RBrace, "'}'");
            }
        }
        var graph = ReadGraph(null);
        var model = new Model(graph)
        {
            ProducerName = producerName,
            ProducerVersion = producerVersion,
            Domain = domain,
            ModelVersion = modelVersion,
            DocString = doc,
        };
        if (irVersion is { } iv) model.IrVersion = iv;
        if (opsets is not null) model.Opsets.AddRange(opsets);
        if (metadata is not null) model.Metadata.AddRange(metadata);
        while (Peek().IsWord("func")) model.Functions.Add(ReadFunction());
        ExpectEof();
        return model;
    }

    private Function ReadFunction()
    {
        ExpectWord("func");
        string domain = "", overload = "";
        var name = NameLike("a function name");
        if (Accept(TokenKind.ColonColon))
        {
            domain = name;
            name = NameLike("a function name");
        }
        if (Peek().Kind == TokenKind.Colon && !Peek().SpaceBefore)
        {
            Next();
            overload = NameLike("an overload name");
        }
        var body = new Graph(name);
        var f = new Function(domain, name, body) { Overload = overload };
        var sig = ReadSignature(body);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (Peek().Kind == TokenKind.Ident)
        {
            var t = Peek();
            if (!seen.Add(t.Text)) throw Error(t, $"'{t.Text}' is given twice");
            switch (t.Text)
            {
                case "attrs":
                    Next();
                    Expect(TokenKind.LBracket, "'['");
                    if (!Accept(TokenKind.RBracket))
                    {
                        do
                        {
                            var nt = Peek();
                            var an = NameLike("an attribute name");
                            if (f.AttributeNames.Contains(an) || f.AttributeDefaults.Any(a => a.Name == an))
                                throw Error(nt, $"attribute '{an}' is declared twice");
                            if (Accept(TokenKind.Equals))
                            {
                                var vt = Peek();
                                var (value, annotation) = ReadAttrValue(body);
                                if (value is null) throw Error(vt, $"expected an attribute value but found {Describe(vt)}");
                                f.AttributeDefaults.Add(new Attr(an, value) { DocString = AtSuffix("doc", TokenKind.LParen) ? DocSuffix() : null });
                                _ = annotation;
                            }
                            else f.AttributeNames.Add(an);
                        }
                        while (Accept(TokenKind.Comma));
                        Expect(TokenKind.RBracket, "']'");
                    }
                    break;
                case "opsets":
                    Next();
                    f.Opsets.AddRange(Opsets());
                    break;
                case "doc":
                    Next();
                    f.DocString = Paren("a doc string");
                    break;
                case "meta":
                    Next();
                    f.Metadata.AddRange(Dict());
                    break;
                case "body":
                    Next();
                    body.Name = Expect(TokenKind.GraphName, "a graph name").Text;
                    break;
                case "attributes":
                    ReadGraphAttributes(body);
                    break;
                default:
                    throw Error(t, $"expected '{{' but found {Describe(t)}");
            }
        }
        ReadBody(body, sig);
        return f;
    }

    private string DocSuffix()
    {
        Next();
        return Paren("a doc string");
    }

    // ---- graphs ----

    private sealed record OutputSig(Token Tok, bool HasType, IrType? Type, string? Doc);

    private sealed class Signature
    {
        public readonly List<(Value Input, TensorConstant Data)> Defaults = [];
        public readonly List<OutputSig> Outputs = [];
    }

    private Graph ReadGraph(Graph? parent)
    {
        ExpectWord("graph");
        var nameTok = Expect(TokenKind.GraphName, "a graph name such as '@main'");
        var g = new Graph(nameTok.Text, parent);
        var sig = ReadSignature(g);
        if (Peek().IsWord("attributes")) ReadGraphAttributes(g);
        ReadBody(g, sig);
        return g;
    }

    private Signature ReadSignature(Graph g)
    {
        var sig = new Signature();
        Expect(TokenKind.LParen, "'('");
        if (!Accept(TokenKind.RParen))
        {
            do
            {
                var t = Expect(TokenKind.ValueName, "an input name");
                if (g.FindLocal(t.Text) is not null) throw Error(t, $"value '{ValueText(t.Text)}' is defined twice");
                IrType? type = null;
                if (Accept(TokenKind.Colon)) type = ReadType();
                var input = g.AddInput(t.Text, type);
                if (Accept(TokenKind.Equals))
                {
                    TensorConstant data;
                    if (Peek().IsWord("dense"))
                    {
                        var dt = Peek();
                        if (type is not TensorType { Shape: { IsFullyKnown: true } shape } tt)
                            throw Error(dt, "a default written as 'dense<...>' alone needs an input type with known dimensions");
                        data = ReadDense(tt.ElementType, [.. shape.Dims.Select(d => d.Size!.Value)]);
                    }
                    else data = ReadTensorLiteral();
                    sig.Defaults.Add((input, data));
                }
                if (AtSuffix("doc", TokenKind.LParen)) input.DocString = DocSuffix();
            }
            while (Accept(TokenKind.Comma));
            Expect(TokenKind.RParen, "')'");
        }
        if (Peek().IsWord("captures"))
        {
            var ct = Next();
            if (g.Parent is null) throw Error(ct, "a top-level graph cannot capture values");
            Expect(TokenKind.LParen, "'('");
            do
            {
                var t = Expect(TokenKind.ValueName, "a captured value");
                bool hasType = false;
                IrType? type = null;
                if (Accept(TokenKind.Colon))
                {
                    hasType = true;
                    type = ReadType();
                }
                var outerTok = t;
                if (Accept(TokenKind.Equals)) outerTok = Expect(TokenKind.ValueName, "an outer value");
                if (g.FindLocal(t.Text) is not null) throw Error(t, $"value '{ValueText(t.Text)}' is defined twice");
                var outer = g.Parent.Lookup(outerTok.Text) ?? throw Error(outerTok, $"undefined value '{ValueText(outerTok.Text)}'");
                int before = g.Captures.Count;
                Value c;
                try
                {
                    c = g.Capture(outer);
                    if (g.Captures.Count == before) throw Error(outerTok, $"value '{ValueText(outerTok.Text)}' is captured twice");
                    if (c.Name != t.Text) g.Rename(c, t.Text);
                }
                catch (IrException e) { throw Error(t, e.Message); }
                if (hasType) c.Type = type;
            }
            while (Accept(TokenKind.Comma));
            Expect(TokenKind.RParen, "')'");
        }
        Expect(TokenKind.Arrow, "'->'");
        Expect(TokenKind.LParen, "'('");
        if (!Accept(TokenKind.RParen))
        {
            do
            {
                var t = Expect(TokenKind.ValueName, "an output name");
                bool hasType = false;
                IrType? type = null;
                if (Accept(TokenKind.Colon))
                {
                    hasType = true;
                    type = ReadType();
                }
                string? doc = AtSuffix("doc", TokenKind.LParen) ? DocSuffix() : null;
                sig.Outputs.Add(new OutputSig(t, hasType, type, doc));
            }
            while (Accept(TokenKind.Comma));
            Expect(TokenKind.RParen, "')'");
        }
        return sig;
    }

    private void ReadGraphAttributes(Graph g)
    {
        ExpectWord("attributes");
        Expect(TokenKind.LBrace, "'{'");
        if (Accept(TokenKind.RBrace)) return;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        do
        {
            var k = Expect(TokenKind.Ident, "a graph field");
            if (!seen.Add(k.Text)) throw Error(k, $"graph field '{k.Text}' is given twice");
            Expect(TokenKind.Equals, "'='");
            switch (k.Text)
            {
                case "doc": g.DocString = QuotedString(); break;
                case "metadata": g.Metadata.AddRange(Dict()); break;
                case "quantization":
                    Expect(TokenKind.LBracket, "'['");
                    if (!Accept(TokenKind.RBracket))
                    {
                        do
                        {
                            var tensor = QuotedString("a quoted tensor name");
                            Expect(TokenKind.Equals, "'='");
                            g.QuantizationAnnotations.Add(new TensorAnnotation(tensor, Dict()));
                        }
                        while (Accept(TokenKind.Comma));
                        Expect(TokenKind.RBracket, "']'");
                    }
                    break;
                default: throw Error(k, $"unknown graph field '{k.Text}'");
            }
        }
        while (Accept(TokenKind.Comma));
        Expect(TokenKind.RBrace, "'}'");
    }

    private abstract record PendingConst(Token Tok);
    private sealed record PendingDefault(Token Tok, Value Input, TensorConstant Data) : PendingConst(Tok);
    private sealed record PendingDense(Token Tok, TensorConstant Data, bool HasType, IrType? Type) : PendingConst(Tok);
    private sealed record PendingSparse(Token Tok, SparseTensorConstant Data, bool HasType, IrType? Type) : PendingConst(Tok);

    /// <summary>
    /// Constant lines are collected and defined together when the first other statement comes, so that input
    /// defaults without a <c>const default</c> line can lead the constant list.
    /// </summary>
    private sealed class BodyState(Graph g, Signature sig)
    {
        public readonly Graph Graph = g;
        public readonly Signature Sig = sig;
        public readonly List<PendingConst> Pending = [];
        public readonly HashSet<string> PendingNames = new(StringComparer.Ordinal);
        public readonly HashSet<Value> Placed = [];
        public bool Flushed;
    }

    private void Flush(BodyState st)
    {
        if (st.Flushed) return;
        st.Flushed = true;
        var g = st.Graph;
        foreach (var (input, data) in st.Sig.Defaults)
        {
            if (st.Placed.Contains(input)) continue;
            g.SetInputDefault(input, data);
        }
        foreach (var p in st.Pending) Define(st, p);
        st.Pending.Clear();
    }

    private static void Define(BodyState st, PendingConst p)
    {
        var g = st.Graph;
        try
        {
            switch (p)
            {
                case PendingDefault d:
                    g.SetInputDefault(d.Input, d.Data);
                    break;
                case PendingDense d:
                {
                    var v = g.AddConstant(d.Tok.Text, d.Data);
                    if (d.HasType) v.Type = d.Type;
                    break;
                }
                case PendingSparse s:
                {
                    var v = g.AddSparseConstant(s.Tok.Text, s.Data);
                    if (s.HasType) v.Type = s.Type;
                    break;
                }
            }
        }
        catch (IrException e) { throw Error(p.Tok, e.Message); }
    }

    private void ReadBody(Graph g, Signature sig)
    {
        Expect(TokenKind.LBrace, "'{'");
        var st = new BodyState(g, sig);
        while (true)
        {
            var t = Peek();
            if (t.Kind is TokenKind.RBrace or TokenKind.Eof) throw Error(t, $"expected 'return' before {Describe(t)}");
            if (!t.NewLine) throw Error(t, $"expected a new line before {Describe(t)}");
            if (t.IsWord("return"))
            {
                Flush(st);
                ReadReturn(st);
                break;
            }
            ReadStatement(st);
        }
        Expect(TokenKind.RBrace, "'}'");
    }

    private void ReadReturn(BodyState st)
    {
        var g = st.Graph;
        var retTok = ExpectWord("return");
        var values = new List<(Token, Value)>();
        if (Peek().Kind == TokenKind.ValueName && !Peek().NewLine)
        {
            do
            {
                var t = Expect(TokenKind.ValueName, "a value");
                // An output may be a value of an enclosing graph used directly (not captured).
                var v = g.Lookup(t.Text) ?? throw Error(t, $"undefined value '{ValueText(t.Text)}'");
                values.Add((t, v));
            }
            while (Accept(TokenKind.Comma));
        }
        var outs = st.Sig.Outputs;
        if (outs.Count != values.Count)
            throw Error(retTok, $"'return' lists {values.Count} value(s) but the signature declares {outs.Count} output(s)");
        for (int i = 0; i < values.Count; i++)
        {
            var (t, v) = values[i];
            var o = outs[i];
            if (o.Tok.Text != t.Text)
                throw Error(t, $"return value {i} is '{ValueText(t.Text)}' but the signature names '{ValueText(o.Tok.Text)}'");
            if (o.HasType && !Equals(o.Type, v.Type))
                throw Error(o.Tok, $"output '{ValueText(t.Text)}' is declared with a type that differs from its definition");
            if (o.Doc is not null) v.DocString = o.Doc;
            g.AddOutput(v);
        }
    }

    private void ReadStatement(BodyState st)
    {
        var g = st.Graph;
        var t = Peek();
        var results = new List<Token>();
        if (t.Kind == TokenKind.ValueName || t.IsWord("_"))
        {
            do
            {
                var r = Peek();
                if (r.Kind == TokenKind.ValueName || r.IsWord("_")) results.Add(Next());
                else throw Error(r, $"expected a result name or '_' but found {Describe(r)}");
            }
            while (Accept(TokenKind.Comma));
            Expect(TokenKind.Equals, "'='");
            var k = Peek();
            if (k.IsWord("const") || k.IsWord("sparse_const"))
            {
                if (results.Count != 1 || results[0].Kind != TokenKind.ValueName)
                    throw Error(results[results.Count > 1 ? 1 : 0], "a constant defines exactly one named value");
                ReadConstant(st, results[0]);
                return;
            }
        }
        Flush(st);
        ReadNode(g, results);
    }

    private void ReadConstant(BodyState st, Token nameTok)
    {
        var g = st.Graph;
        var kw = Next();
        if (kw.Text == "const" && Peek().IsWord("default"))
        {
            var dt = Next();
            var input = g.FindLocal(nameTok.Text);
            if (input is null || input.Kind != ValueKind.Input)
                throw Error(nameTok, $"'{ValueText(nameTok.Text)}' is not an input of graph '@{g.Name}'");
            int idx = st.Sig.Defaults.FindIndex(d => d.Input == input);
            if (idx < 0) throw Error(dt, $"input '{ValueText(nameTok.Text)}' has no default value");
            if (st.Flushed || !st.Placed.Add(input)) throw Error(nameTok, $"the default of '{ValueText(nameTok.Text)}' is already placed");
            st.Pending.Add(new PendingDefault(nameTok, input, st.Sig.Defaults[idx].Data));
            return;
        }
        if (g.FindLocal(nameTok.Text) is not null || st.PendingNames.Contains(nameTok.Text))
            throw Error(nameTok, $"value '{ValueText(nameTok.Text)}' is defined twice");
        PendingConst p;
        if (kw.Text == "const")
        {
            var data = ReadTensorLiteral();
            var (hasType, type) = OptionalTypeSuffix();
            p = new PendingDense(nameTok, data, hasType, type);
        }
        else
        {
            var data = ReadSparseFields();
            var (hasType, type) = OptionalTypeSuffix();
            p = new PendingSparse(nameTok, data, hasType, type);
        }
        if (st.Flushed) Define(st, p);
        else
        {
            st.PendingNames.Add(nameTok.Text);
            st.Pending.Add(p);
        }
    }

    private (bool, IrType?) OptionalTypeSuffix()
    {
        if (!Accept(TokenKind.Colon)) return (false, null);
        return (true, ReadType());
    }

    // ---- nodes ----

    private Value? ResolveOperand(Graph g, Token t)
    {
        if (t.IsWord("_")) return null;
        var name = t.Text;
        if (g.FindLocal(name) is { } v) return v;
        var outer = g.Parent?.Lookup(name) ?? throw Error(t, $"undefined value '{ValueText(name)}'");
        try { return g.Capture(outer); }
        catch (IrException e) { throw Error(t, e.Message); }
    }

    private void ReadNode(Graph g, List<Token> results)
    {
        var opTok = Peek();
        if (opTok.Kind is not (TokenKind.Ident or TokenKind.String))
            throw Error(opTok, $"expected an operator name but found {Describe(opTok)}");
        string domain = "", overload = "";
        var op = Next().Text;
        if (Accept(TokenKind.ColonColon))
        {
            domain = op;
            op = NameLike("an operator name");
        }
        if (Peek().Kind == TokenKind.Colon && !Peek().SpaceBefore)
        {
            Next();
            overload = NameLike("an overload name");
        }

        var names = new string[results.Count];
        for (int i = 0; i < results.Count; i++)
        {
            var r = results[i];
            var rn = r.Kind == TokenKind.ValueName ? r.Text : "";
            if (rn.Length > 0 && (g.FindLocal(rn) is not null || Array.IndexOf(names, rn, 0, i) >= 0))
                throw Error(r, $"value '{ValueText(rn)}' is defined twice");
            names[i] = rn;
        }

        var operands = new List<Value?>();
        if ((Peek().Kind == TokenKind.ValueName || Peek().IsWord("_")) && !Peek().NewLine)
        {
            do
            {
                var t = Peek();
                if (t.Kind != TokenKind.ValueName && !t.IsWord("_")) throw Error(t, $"expected an operand but found {Describe(t)}");
                Next();
                operands.Add(ResolveOperand(g, t));
            }
            while (Accept(TokenKind.Comma));
        }

        var attrs = new List<Attr>();
        var annotations = new List<KeyValuePair<string, string>>();
        if (Peek().Kind == TokenKind.LBrace)
        {
            Next();
            if (!Accept(TokenKind.RBrace))
            {
                do
                {
                    var kt = Peek();
                    var key = NameLike("an attribute name");
                    Expect(TokenKind.Equals, "'='");
                    var (value, annotation) = ReadAttrValue(g);
                    if (value is not null)
                    {
                        if (attrs.Exists(a => a.Name == key)) throw Error(kt, $"attribute '{key}' is given twice");
                        string? doc = AtSuffix("doc", TokenKind.LParen) ? DocSuffix() : null;
                        attrs.Add(new Attr(key, value) { DocString = doc });
                    }
                    else
                    {
                        if (annotations.Exists(a => a.Key == key)) throw Error(kt, $"annotation '{key}' is given twice");
                        annotations.Add(new(key, annotation!));
                    }
                }
                while (Accept(TokenKind.Comma));
                Expect(TokenKind.RBrace, "'}'");
            }
        }

        List<IrType?>? types = null;
        if (Peek().Kind == TokenKind.Colon)
        {
            var ct = Next();
            if (results.Count == 0) throw Error(ct, "a node without results has no result types");
            types = [];
            do types.Add(ReadType());
            while (Accept(TokenKind.Comma));
            if (types.Count != results.Count)
                throw Error(ct, $"the node has {results.Count} result(s) but {types.Count} type(s)");
        }

        string name = "";
        string? docString = null;
        List<KeyValuePair<string, string>>? meta = null;
        if (AtSuffix("loc", TokenKind.LParen))
        {
            Next();
            name = Paren("a node name");
        }
        if (AtSuffix("doc", TokenKind.LParen)) docString = DocSuffix();
        if (AtSuffix("meta", TokenKind.LBrace))
        {
            Next();
            meta = Dict();
        }

        Node node;
        try { node = g.AddNode(op, operands, names, domain, attributes: attrs); }
        catch (IrException e) { throw Error(opTok, e.Message); }
        node.Overload = overload;
        node.Name = name;
        node.DocString = docString;
        if (meta is not null) node.Metadata.AddRange(meta);
        foreach (var kv in annotations) node.Annotate(kv.Key, kv.Value);
        if (types is not null)
            for (int i = 0; i < types.Count; i++) node.Outputs[i].Type = types[i];
    }

    // ---- attribute values ----

    private static readonly Dictionary<string, AttrKind> ListKinds = new(StringComparer.Ordinal)
    {
        ["ints"] = AttrKind.Ints,
        ["floats"] = AttrKind.Floats,
        ["strings"] = AttrKind.Strings,
        ["tensors"] = AttrKind.Tensors,
        ["graphs"] = AttrKind.Graphs,
        ["sparse_tensors"] = AttrKind.SparseTensors,
        ["types"] = AttrKind.TypeProtos,
    };

    private static readonly Dictionary<string, AttrKind> RefKinds = Enum.GetValues<AttrKind>()
        .ToDictionary(IrWriter.KindName, k => k, StringComparer.Ordinal);

    private static bool IsFloatWord(Token t) => t.Kind == TokenKind.Ident && t.Text is "inf" or "-inf" or "nan" or "-nan";

    private bool AtTensorLiteral()
    {
        var t = Peek();
        if (Peek(1).Kind != TokenKind.LBracket) return false;
        return t.Kind == TokenKind.Question || (t.Kind == TokenKind.Ident && DataTypes.TryParseShortName(t.Text, out _));
    }

    /// <summary>An attribute value, or (null, word) for an annotation value.</summary>
    private (AttrValue?, string?) ReadAttrValue(Graph g)
    {
        var t = Peek();
        switch (t.Kind)
        {
            case TokenKind.Number:
                return t.IsFloat ? (new FloatAttr(ReadFloat()), null) : (new IntAttr(Integer()), null);
            case TokenKind.String:
                return (new StringAttr(Next().Text), null);
            case TokenKind.Bang:
                Next();
                return (null, QuotedString("a quoted annotation value"));
            case TokenKind.LBracket:
                return (ReadList(g), null);
            case TokenKind.Question when AtTensorLiteral():
                return (new TensorAttr(ReadTensorLiteral()), null);
            case TokenKind.Ident:
                break;
            default:
                throw Error(t, $"expected an attribute value but found {Describe(t)}");
        }
        if (IsFloatWord(t)) return (new FloatAttr(ReadFloat()), null);
        var next = Peek(1).Kind;
        switch (t.Text)
        {
            case "graph" when next == TokenKind.GraphName:
                return (new GraphAttr(ReadGraph(g)), null);
            case "type" when next == TokenKind.Less:
                return (new TypeAttr(ReadTypeWrapper()), null);
            case "sparse" when next == TokenKind.LParen:
                return (new SparseTensorAttr(ReadSparse()), null);
            case "ref" when next == TokenKind.Less:
            {
                Next();
                Next();
                var name = NameLike("an attribute name");
                Expect(TokenKind.Comma, "','");
                var kt = Expect(TokenKind.Ident, "an attribute kind");
                if (!RefKinds.TryGetValue(kt.Text, out var kind)) throw Error(kt, $"unknown attribute kind '{kt.Text}'");
                Expect(TokenKind.Greater, "'>'");
                return (new RefAttr(name, kind), null);
            }
        }
        if (next == TokenKind.LBracket && ListKinds.TryGetValue(t.Text, out var lk))
        {
            Next();
            Next();
            Expect(TokenKind.RBracket, "']' (a list named by its kind is empty)");
            return (lk switch
            {
                AttrKind.Ints => new IntsAttr([]),
                AttrKind.Floats => new FloatsAttr([]),
                AttrKind.Strings => new StringsAttr([]),
                AttrKind.Tensors => new TensorsAttr([]),
                AttrKind.Graphs => new GraphsAttr([]),
                AttrKind.SparseTensors => new SparseTensorsAttr([]),
                _ => new TypesAttr([]),
            }, null);
        }
        if (AtTensorLiteral()) return (new TensorAttr(ReadTensorLiteral()), null);
        if (next == TokenKind.LBracket) throw Error(t, $"unknown element type '{t.Text}'");
        return (null, Next().Text);
    }

    private AttrValue ReadList(Graph g)
    {
        var open = Expect(TokenKind.LBracket, "'['");
        var first = Peek();
        if (first.Kind == TokenKind.RBracket)
            throw Error(first, "an empty list must name its kind: ints[], floats[], strings[], tensors[], graphs[], sparse_tensors[] or types[]");
        AttrValue result;
        if (first.Kind == TokenKind.Number && !first.IsFloat)
        {
            var b = ImmutableArray.CreateBuilder<long>();
            do b.Add(Integer());
            while (Accept(TokenKind.Comma));
            result = new IntsAttr(b.ToImmutable());
        }
        else if (first.Kind == TokenKind.Number || IsFloatWord(first))
        {
            var b = ImmutableArray.CreateBuilder<float>();
            do b.Add(ReadFloat());
            while (Accept(TokenKind.Comma));
            result = new FloatsAttr(b.ToImmutable());
        }
        else if (first.Kind == TokenKind.String)
        {
            var b = ImmutableArray.CreateBuilder<string>();
            do b.Add(QuotedString());
            while (Accept(TokenKind.Comma));
            result = new StringsAttr(b.ToImmutable());
        }
        else if (first.IsWord("graph"))
        {
            var b = ImmutableArray.CreateBuilder<Graph>();
            do b.Add(ReadGraph(g));
            while (Accept(TokenKind.Comma));
            result = new GraphsAttr(b.ToImmutable());
        }
        else if (first.IsWord("type"))
        {
            var b = ImmutableArray.CreateBuilder<IrType?>();
            do b.Add(ReadTypeWrapper());
            while (Accept(TokenKind.Comma));
            result = new TypesAttr(b.ToImmutable());
        }
        else if (first.IsWord("sparse"))
        {
            var b = ImmutableArray.CreateBuilder<SparseTensorConstant>();
            do b.Add(ReadSparse());
            while (Accept(TokenKind.Comma));
            result = new SparseTensorsAttr(b.ToImmutable());
        }
        else if (AtTensorLiteral())
        {
            var b = ImmutableArray.CreateBuilder<TensorConstant>();
            do b.Add(ReadTensorLiteral());
            while (Accept(TokenKind.Comma));
            result = new TensorsAttr(b.ToImmutable());
        }
        else throw Error(first, $"expected a list element but found {Describe(first)}");
        Expect(TokenKind.RBracket, "']'");
        _ = open;
        return result;
    }

    private IrType? ReadTypeWrapper()
    {
        ExpectWord("type");
        Expect(TokenKind.Less, "'<'");
        var t = ReadType();
        Expect(TokenKind.Greater, "'>'");
        return t;
    }

    private SparseTensorConstant ReadSparse()
    {
        ExpectWord("sparse");
        Expect(TokenKind.LParen, "'('");
        var s = ReadSparseFields();
        Expect(TokenKind.RParen, "')'");
        return s;
    }

    private SparseTensorConstant ReadSparseFields()
    {
        ExpectWord("values");
        Expect(TokenKind.Colon, "':'");
        var values = ReadTensorLiteral();
        Expect(TokenKind.Comma, "','");
        ExpectWord("indices");
        Expect(TokenKind.Colon, "':'");
        var indices = ReadTensorLiteral();
        Expect(TokenKind.Comma, "','");
        ExpectWord("dims");
        Expect(TokenKind.Colon, "':'");
        return new SparseTensorConstant(values, indices, ReadIntList());
    }

    private ImmutableArray<long> ReadIntList()
    {
        Expect(TokenKind.LBracket, "'['");
        var b = ImmutableArray.CreateBuilder<long>();
        if (!Accept(TokenKind.RBracket))
        {
            do b.Add(Integer());
            while (Accept(TokenKind.Comma));
            Expect(TokenKind.RBracket, "']'");
        }
        return b.ToImmutable();
    }

    // ---- numbers ----

    private float ReadFloat()
    {
        var t = Next();
        if (t.Kind == TokenKind.Number)
            return float.Parse(t.Text, NumberStyles.Float, Inv);
        switch (t.Text)
        {
            case "inf": return float.PositiveInfinity;
            case "-inf": return float.NegativeInfinity;
            case "-nan": return BitConverter.UInt32BitsToSingle(0xFFC00000u);
            case "nan":
                if (Peek().Kind == TokenKind.LParen && !Peek().SpaceBefore)
                {
                    Next();
                    var h = Expect(TokenKind.Hex, "a hex bit pattern");
                    if (h.Text.Length is 0 or > 8 || !uint.TryParse(h.Text, NumberStyles.HexNumber, Inv, out var bits))
                        throw Error(h, "expected up to 8 hex digits");
                    Expect(TokenKind.RParen, "')'");
                    return BitConverter.UInt32BitsToSingle(bits);
                }
                return BitConverter.UInt32BitsToSingle(0x7FC00000u);
        }
        throw Error(t, $"expected a number but found {Describe(t)}");
    }

    private double ReadDouble()
    {
        var t = Next();
        if (t.Kind == TokenKind.Number)
            return double.Parse(t.Text, NumberStyles.Float, Inv);
        return t.Text switch
        {
            "inf" => double.PositiveInfinity,
            "-inf" => double.NegativeInfinity,
            "nan" => BitConverter.UInt64BitsToDouble(0x7FF8000000000000ul),
            "-nan" => BitConverter.UInt64BitsToDouble(0xFFF8000000000000ul),
            _ => throw Error(t, $"expected a number but found {Describe(t)}"),
        };
    }

    // ---- types ----

    private DataType ReadElementType()
    {
        var t = Peek();
        if (t.Kind == TokenKind.Question)
        {
            Next();
            return DataType.Undefined;
        }
        if (t.Kind != TokenKind.Ident) throw Error(t, $"expected an element type but found {Describe(t)}");
        if (!DataTypes.TryParseShortName(t.Text, out var dt)) throw Error(t, $"unknown element type '{t.Text}'");
        Next();
        return dt;
    }

    private IrType? ReadType()
    {
        var t = Peek();
        if (t.Kind == TokenKind.Question)
        {
            Next();
            if (Peek().Kind != TokenKind.LBracket) return null;
            return new TensorType(DataType.Undefined, ReadShape());
        }
        if (t.Kind != TokenKind.Ident) throw Error(t, $"expected a type but found {Describe(t)}");
        if (Peek(1).Kind == TokenKind.Less)
        {
            switch (t.Text)
            {
                case "sparse":
                {
                    Next();
                    Next();
                    var et = ReadElementType();
                    var shape = ReadShape();
                    Expect(TokenKind.Greater, "'>'");
                    return new SparseTensorType(et, shape);
                }
                case "seq":
                case "opt":
                {
                    Next();
                    Next();
                    var inner = ReadType();
                    Expect(TokenKind.Greater, "'>'");
                    return t.Text == "seq" ? new SequenceType(inner) : new OptionalType(inner);
                }
                case "map":
                {
                    Next();
                    Next();
                    var key = ReadElementType();
                    Expect(TokenKind.Comma, "','");
                    var value = ReadType();
                    Expect(TokenKind.Greater, "'>'");
                    return new MapType(key, value);
                }
                case "opaque":
                {
                    Next();
                    Next();
                    var dom = QuotedString("a quoted domain");
                    Expect(TokenKind.Comma, "','");
                    var opaqueName = QuotedString("a quoted name");
                    Expect(TokenKind.Greater, "'>'");
                    return new OpaqueType(dom, opaqueName);
                }
            }
        }
        if (!DataTypes.TryParseShortName(t.Text, out var dt))
            throw Error(t, Peek(1).Kind == TokenKind.LBracket ? $"unknown element type '{t.Text}'" : $"unknown type '{t.Text}'");
        Next();
        if (Peek().Kind != TokenKind.LBracket) throw Error(Peek(), $"expected '[' after element type '{t.Text}' but found {Describe(Peek())}");
        return new TensorType(dt, ReadShape());
    }

    private Shape? ReadShape()
    {
        Expect(TokenKind.LBracket, "'['");
        if (Accept(TokenKind.Star))
        {
            Expect(TokenKind.RBracket, "']'");
            return null;
        }
        var dims = ImmutableArray.CreateBuilder<Dim>();
        if (!Accept(TokenKind.RBracket))
        {
            do
            {
                var t = Peek();
                switch (t.Kind)
                {
                    case TokenKind.Number: dims.Add(Dim.Of(Integer("a dimension"))); break;
                    case TokenKind.Question: Next(); dims.Add(Dim.Unknown); break;
                    case TokenKind.Ident:
                    case TokenKind.String: dims.Add(Dim.Named(Next().Text)); break;
                    default: throw Error(t, $"expected a dimension but found {Describe(t)}");
                }
            }
            while (Accept(TokenKind.Comma));
            Expect(TokenKind.RBracket, "']'");
        }
        return new Shape(dims.ToImmutable());
    }

    // ---- tensor literals ----

    private TensorConstant ReadTensorLiteral()
    {
        var et = ReadElementType();
        Expect(TokenKind.LBracket, "'['");
        var dims = ImmutableArray.CreateBuilder<long>();
        if (!Accept(TokenKind.RBracket))
        {
            do dims.Add(Integer("a dimension"));
            while (Accept(TokenKind.Comma));
            Expect(TokenKind.RBracket, "']'");
        }
        return ReadDense(et, dims.ToImmutable());
    }

    private TensorConstant ReadDense(DataType et, ImmutableArray<long> dims)
    {
        ExpectWord("dense");
        Expect(TokenKind.Less, "'<'");
        var t = Peek();
        TensorData data;
        switch (t.Kind)
        {
            case TokenKind.LBracket:
                data = ReadValues(et, dims);
                break;
            case TokenKind.Hex:
                Next();
                if (t.Text.Length % 2 != 0) throw Error(t, "hex data needs an even number of digits");
                data = new ArrayTensorData(Convert.FromHexString(t.Text));
                break;
            case TokenKind.Digest:
            {
                Next();
                if (t.Text.Length > 64) throw Error(t, "a sha256 digest has at most 64 hex digits");
                Expect(TokenKind.Comma, "','");
                var n = Integer("a byte count");
                if (n < 0) throw Error(_last, "a byte count cannot be negative");
                ExpectWord("bytes");
                data = new DigestTensorData(t.Text.ToLowerInvariant(), n);
                break;
            }
            default:
                throw Error(t, $"expected '[', hex data or 'sha256:' but found {Describe(t)}");
        }
        Expect(TokenKind.Greater, "'>'");
        string? name = null, doc = null;
        IReadOnlyList<KeyValuePair<string, string>> meta = [];
        if (AtSuffix("name", TokenKind.LParen))
        {
            Next();
            name = Paren("a tensor name");
        }
        if (AtSuffix("tensor_doc", TokenKind.LParen))
        {
            Next();
            doc = Paren("a doc string");
        }
        if (AtSuffix("tensor_meta", TokenKind.LBrace))
        {
            Next();
            meta = Dict();
        }
        return new TensorConstant(et, dims, data) { Name = name, DocString = doc, Metadata = meta };
    }

    private TensorData ReadValues(DataType et, ImmutableArray<long> dims)
    {
        var open = Expect(TokenKind.LBracket, "'['");
        long expected = IrWriter.SafeCount(dims);
        if (expected < 0) throw Error(open, "the dimensions are negative or too large for listed values");
        if (Accept(TokenKind.RBracket))
        {
            if (expected != 0) throw Error(open, $"expected {expected} value(s) but found 0");
            return et == DataType.String ? new StringTensorData([]) : new ArrayTensorData([]);
        }
        if (Peek().Kind == TokenKind.String)
        {
            var strings = new List<byte[]>();
            do
            {
                var s = Expect(TokenKind.String, "a string");
                strings.Add(IrLexer.DecodeBytes(_lex.Source.AsSpan(s.Pos + 1, s.End - s.Pos - 2)));
            }
            while (Accept(TokenKind.Comma));
            Expect(TokenKind.RBracket, "']'");
            if (strings.Count != expected) throw Error(open, $"expected {expected} value(s) but found {strings.Count}");
            return new StringTensorData(strings);
        }
        if (!IrWriter.IsListType(et) && et is not (DataType.Float16 or DataType.BFloat16))
            throw Error(Peek(), $"{et.ShortName()} data is written as hex bytes (dense<0x...>), not as a list");
        int size = et.Facts().StorageBytes;
        if (expected > int.MaxValue / size) throw Error(open, "too many values");
        var bytes = new byte[expected * size];
        long n = 0;
        do
        {
            var vt = Peek();
            if (n >= expected) throw Error(vt, $"expected {expected} value(s) but found more");
            var span = bytes.AsSpan((int)(n * size));
            switch (et)
            {
                case DataType.Float: BinaryPrimitives.WriteSingleLittleEndian(span, ReadFloat()); break;
                case DataType.Double: BinaryPrimitives.WriteDoubleLittleEndian(span, ReadDouble()); break;
                case DataType.Float16: BinaryPrimitives.WriteHalfLittleEndian(span, (Half)ReadDouble()); break;
                case DataType.BFloat16: BinaryPrimitives.WriteUInt16LittleEndian(span, ToBFloat16(ReadFloat())); break;
                case DataType.UInt64:
                {
                    Next();
                    if (vt.Kind != TokenKind.Number || vt.IsFloat || !ulong.TryParse(vt.Text, NumberStyles.None, Inv, out var u))
                        throw Error(vt, $"expected a u64 value but found {Describe(vt)}");
                    BinaryPrimitives.WriteUInt64LittleEndian(span, u);
                    break;
                }
                default:
                {
                    var v = Integer($"an {et.ShortName()} value");
                    var f = et.Facts();
                    double min = et == DataType.Bool ? 0 : f.IntegerMin;
                    double max = et == DataType.Bool ? 255 : f.IntegerMax;
                    if (et != DataType.Int64 && (v < min || v > max)) throw Error(vt, $"{v} is out of range for {et.ShortName()}");
                    switch (size)
                    {
                        case 1: span[0] = (byte)v; break;
                        case 2: BinaryPrimitives.WriteInt16LittleEndian(span, (short)v); break;
                        case 4: BinaryPrimitives.WriteInt32LittleEndian(span, (int)v); break;
                        default: BinaryPrimitives.WriteInt64LittleEndian(span, v); break;
                    }
                    break;
                }
            }
            n++;
        }
        while (Accept(TokenKind.Comma));
        Expect(TokenKind.RBracket, "']'");
        if (n != expected) throw Error(open, $"expected {expected} value(s) but found {n}");
        return new ArrayTensorData(bytes);
    }

    private static ushort ToBFloat16(float f)
    {
        uint bits = BitConverter.SingleToUInt32Bits(f);
        if (float.IsNaN(f)) return (ushort)((bits >> 16) | 0x40);
        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }
}
