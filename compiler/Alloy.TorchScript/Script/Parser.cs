using System.Globalization;

namespace Alloy.TorchScript.Script;

/// <summary>
/// Parses one code file of a TorchScript archive: top-level classes (typed attributes, <c>Final</c> constants,
/// <c>__annotations__</c> entries, methods) and functions, with the statement and expression subset torch writes.
/// </summary>
public sealed class Parser
{
    private readonly List<Token> _tokens;
    private readonly string _file;
    private readonly string _module;
    private readonly Func<int, string, Exception> _fail;
    private int _pos;

    private Parser(List<Token> tokens, string file, string module, Func<int, string, Exception> fail)
    {
        _tokens = tokens;
        _file = file;
        _module = module;
        _fail = fail;
    }

    /// <summary>Parses <paramref name="text"/> (the file <paramref name="file"/>, Python module <paramref name="module"/>).</summary>
    public static (List<ClassDef> Classes, List<FunctionDef> Functions) ParseFile(string text, string file, string module, Func<int, string, Exception> fail)
    {
        var p = new Parser(Lexer.Tokenize(text, fail), file, module, fail);
        return p.ParseModule();
    }

    private Token Peek => _tokens[_pos];
    private Token PeekAt(int k) => _tokens[Math.Min(_pos + k, _tokens.Count - 1)];
    private Token Next() => _tokens[_pos++];
    private Exception Fail(string message) => _fail(Peek.Line, message);

    private Token Expect(string op)
    {
        if (!Peek.Is(op)) throw Fail($"expected '{op}' but found {Peek}");
        return Next();
    }

    private string ExpectName()
    {
        if (Peek.Kind != TokenKind.Name) throw Fail($"expected a name but found {Peek}");
        return Next().Text;
    }

    private void ExpectNewline()
    {
        if (Peek.Kind != TokenKind.Newline && Peek.Kind != TokenKind.End) throw Fail($"expected end of line but found {Peek}");
        if (Peek.Kind == TokenKind.Newline) _pos++;
    }

    private bool Accept(string op)
    {
        if (!Peek.Is(op)) return false;
        _pos++;
        return true;
    }

    private (List<ClassDef>, List<FunctionDef>) ParseModule()
    {
        var classes = new List<ClassDef>();
        var functions = new List<FunctionDef>();
        while (Peek.Kind != TokenKind.End)
        {
            if (Peek.Kind == TokenKind.Newline) { _pos++; continue; }
            if (Peek.IsName("class")) classes.Add(ParseClass());
            else if (Peek.IsName("def")) functions.Add(ParseFunction());
            else if (Peek.IsName("import") || Peek.IsName("from"))
            {
                while (Peek.Kind is not (TokenKind.Newline or TokenKind.End)) _pos++;
                ExpectNewline();
            }
            else
            {
                // Module-level assignments (e.g. op_version_set) carry nothing the importer needs.
                ParseStatement();
            }
        }
        return (classes, functions);
    }

    private ClassDef ParseClass()
    {
        int line = Next().Line;
        var name = ExpectName();
        string baseName = "";
        if (Accept("("))
        {
            if (!Peek.Is(")")) baseName = ParseDotted();
            Expect(")");
        }
        Expect(":");
        ExpectNewline();
        var attributes = new List<ClassAttribute>();
        var methods = new Dictionary<string, FunctionDef>(StringComparer.Ordinal);
        if (Peek.Kind != TokenKind.Indent) throw Fail($"class {name} has no body");
        _pos++;
        while (Peek.Kind != TokenKind.Dedent && Peek.Kind != TokenKind.End)
        {
            if (Peek.Kind == TokenKind.Newline) { _pos++; continue; }
            if (Peek.IsName("def"))
            {
                var f = ParseFunction();
                methods[f.Name] = f;
                continue;
            }
            if (Peek.IsName("pass")) { _pos++; ExpectNewline(); continue; }
            int memberLine = Peek.Line;
            // __annotations__["0"] = Type
            if (Peek.IsName("__annotations__") && PeekAt(1).Is("["))
            {
                _pos += 2;
                var key = Next();
                if (key.Kind != TokenKind.String) throw Fail("expected a string key in __annotations__[...]");
                Expect("]");
                Expect("=");
                var type = ParseExpr();
                ExpectNewline();
                attributes.Add(new ClassAttribute(key.Text, type, null, memberLine));
                continue;
            }
            var attrName = ExpectName();
            if (Accept(":"))
            {
                var type = ParseExpr();
                Expr? value = Accept("=") ? ParseExprList() : null;
                ExpectNewline();
                attributes.Add(new ClassAttribute(attrName, type, value, memberLine));
            }
            else if (Accept("="))
            {
                var value = ParseExprList();
                ExpectNewline();
                // __parameters__ / __buffers__ lists: names only, the pickle holds the tensors.
                attributes.Add(new ClassAttribute(attrName, new NameExpr("__list__", memberLine), value, memberLine));
            }
            else throw Fail($"unexpected {Peek} in the body of class {name}");
        }
        if (Peek.Kind == TokenKind.Dedent) _pos++;
        var qualified = _module.Length == 0 ? name : _module + "." + name;
        return new ClassDef(qualified, baseName, attributes, methods, _file, line);
    }

    private string ParseDotted()
    {
        var s = ExpectName();
        while (Accept(".")) s += "." + ExpectName();
        return s;
    }

    private FunctionDef ParseFunction()
    {
        int line = Next().Line;
        var name = ExpectName();
        Expect("(");
        var parameters = new List<Parameter>();
        while (!Peek.Is(")"))
        {
            var pname = ExpectName();
            Expr? type = Accept(":") ? ParseExpr() : null;
            Expr? def = Accept("=") ? ParseExpr() : null;
            parameters.Add(new Parameter(pname, type, def));
            if (!Accept(",")) break;
        }
        Expect(")");
        Expr? ret = Accept("->") ? ParseExpr() : null;
        Expect(":");
        var body = ParseBlock();
        return new FunctionDef(name, parameters, ret, body, _file, line);
    }

    private List<Stmt> ParseBlock()
    {
        if (Peek.Kind != TokenKind.Newline)
        {
            // One-line body: def f(): return x
            var single = new List<Stmt> { ParseStatement() };
            return single;
        }
        _pos++;
        if (Peek.Kind != TokenKind.Indent) throw Fail("expected an indented block");
        _pos++;
        var stmts = new List<Stmt>();
        while (Peek.Kind != TokenKind.Dedent && Peek.Kind != TokenKind.End)
        {
            if (Peek.Kind == TokenKind.Newline) { _pos++; continue; }
            stmts.Add(ParseStatement());
        }
        if (Peek.Kind == TokenKind.Dedent) _pos++;
        return stmts;
    }

    private Stmt ParseStatement()
    {
        var t = Peek;
        int line = t.Line;
        if (t.Kind == TokenKind.Name)
        {
            switch (t.Text)
            {
                case "pass": _pos++; ExpectNewline(); return new PassStmt(line);
                case "break": _pos++; ExpectNewline(); return new BreakStmt(line);
                case "continue": _pos++; ExpectNewline(); return new ContinueStmt(line);
                case "return":
                {
                    _pos++;
                    Expr? v = Peek.Kind is TokenKind.Newline or TokenKind.End ? null : ParseExprList();
                    ExpectNewline();
                    return new ReturnStmt(v, line);
                }
                case "if": _pos++; return ParseIfRest(line);
                case "while":
                {
                    _pos++;
                    var cond = ParseExpr();
                    Expect(":");
                    return new WhileStmt(cond, ParseBlock(), line);
                }
                case "for":
                {
                    _pos++;
                    var target = ParseTargetList();
                    if (!Peek.IsName("in")) throw Fail($"expected 'in' but found {Peek}");
                    _pos++;
                    var iter = ParseExprList();
                    Expect(":");
                    return new ForStmt(target, iter, ParseBlock(), line);
                }
                case "assert":
                {
                    _pos++;
                    var cond = ParseExpr();
                    Expr? msg = Accept(",") ? ParseExpr() : null;
                    ExpectNewline();
                    return new AssertStmt(cond, msg, line);
                }
            }
        }
        var first = ParseExprList();
        if (Peek.Is(":"))
        {
            _pos++;
            var type = ParseExpr();
            Expr? value = Accept("=") ? ParseExprList() : null;
            ExpectNewline();
            return new AnnotatedAssignStmt(first, type, value, line);
        }
        if (Peek.Kind == TokenKind.Op && Peek.Text is "+=" or "-=" or "*=" or "/=")
        {
            var op = Next().Text[..1];
            var value = ParseExprList();
            ExpectNewline();
            return new AugAssignStmt(first, op, value, line);
        }
        if (Peek.Is("="))
        {
            var targets = new List<Expr> { first };
            Expr value = first;
            while (Accept("="))
            {
                value = ParseExprList();
                targets.Add(value);
            }
            targets.RemoveAt(targets.Count - 1);
            ExpectNewline();
            return new AssignStmt(targets, value, line);
        }
        ExpectNewline();
        return new ExprStmt(first, line);
    }

    private IfStmt ParseIfRest(int line)
    {
        var cond = ParseExpr();
        Expect(":");
        var then = ParseBlock();
        IReadOnlyList<Stmt> otherwise = [];
        if (Peek.IsName("elif"))
        {
            int l = Next().Line;
            otherwise = [ParseIfRest(l)];
        }
        else if (Peek.IsName("else"))
        {
            _pos++;
            Expect(":");
            otherwise = ParseBlock();
        }
        return new IfStmt(cond, then, otherwise, line);
    }

    /// <summary>A target list of a for statement (stops before 'in').</summary>
    private Expr ParseTargetList()
    {
        int line = Peek.Line;
        var items = new List<Expr> { ParseBitOr() };
        bool tuple = false;
        while (Accept(","))
        {
            tuple = true;
            if (Peek.IsName("in")) break;
            items.Add(ParseBitOr());
        }
        return tuple ? new TupleExpr(items, line) : items[0];
    }

    /// <summary>One expression, or a bare tuple <c>a, b,</c>.</summary>
    private Expr ParseExprList()
    {
        int line = Peek.Line;
        var first = ParseExpr();
        if (!Peek.Is(",")) return first;
        var items = new List<Expr> { first };
        while (Accept(","))
        {
            if (Peek.Kind is TokenKind.Newline or TokenKind.End || Peek.Is("=") || Peek.Is(")") || Peek.Is(":")) break;
            items.Add(ParseExpr());
        }
        return new TupleExpr(items, line);
    }

    public Expr ParseExpr()
    {
        var e = ParseOr();
        if (Peek.IsName("if"))
        {
            int line = Next().Line;
            var cond = ParseOr();
            if (!Peek.IsName("else")) throw Fail($"expected 'else' but found {Peek}");
            _pos++;
            var other = ParseExpr();
            return new ConditionalExpr(cond, e, other, line);
        }
        return e;
    }

    private Expr ParseOr()
    {
        var e = ParseAnd();
        while (Peek.IsName("or")) { int l = Next().Line; e = new BinaryExpr("or", e, ParseAnd(), l); }
        return e;
    }

    private Expr ParseAnd()
    {
        var e = ParseNot();
        while (Peek.IsName("and")) { int l = Next().Line; e = new BinaryExpr("and", e, ParseNot(), l); }
        return e;
    }

    private Expr ParseNot()
    {
        if (Peek.IsName("not")) { int l = Next().Line; return new UnaryExpr("not", ParseNot(), l); }
        return ParseComparison();
    }

    private Expr ParseComparison()
    {
        var e = ParseBitOr();
        while (true)
        {
            var t = Peek;
            string? op = null;
            if (t.Kind == TokenKind.Op && t.Text is "==" or "!=" or "<" or ">" or "<=" or ">=") { op = t.Text; _pos++; }
            else if (t.IsName("is")) { _pos++; op = "is"; if (Peek.IsName("not")) { _pos++; op = "is not"; } }
            else if (t.IsName("in")) { _pos++; op = "in"; }
            else if (t.IsName("not") && PeekAt(1).IsName("in")) { _pos += 2; op = "not in"; }
            if (op is null) return e;
            e = new BinaryExpr(op, e, ParseBitOr(), t.Line);
        }
    }

    private Expr ParseBitOr()
    {
        var e = ParseBitXor();
        while (Peek.Is("|")) { int l = Next().Line; e = new BinaryExpr("|", e, ParseBitXor(), l); }
        return e;
    }

    private Expr ParseBitXor()
    {
        var e = ParseBitAnd();
        while (Peek.Is("^")) { int l = Next().Line; e = new BinaryExpr("^", e, ParseBitAnd(), l); }
        return e;
    }

    private Expr ParseBitAnd()
    {
        var e = ParseShift();
        while (Peek.Is("&")) { int l = Next().Line; e = new BinaryExpr("&", e, ParseShift(), l); }
        return e;
    }

    private Expr ParseShift()
    {
        var e = ParseArith();
        while (Peek.Is("<<") || Peek.Is(">>")) { var t = Next(); e = new BinaryExpr(t.Text, e, ParseArith(), t.Line); }
        return e;
    }

    private Expr ParseArith()
    {
        var e = ParseTerm();
        while (Peek.Is("+") || Peek.Is("-")) { var t = Next(); e = new BinaryExpr(t.Text, e, ParseTerm(), t.Line); }
        return e;
    }

    private Expr ParseTerm()
    {
        var e = ParseUnary();
        while (Peek.Kind == TokenKind.Op && Peek.Text is "*" or "/" or "//" or "%" or "@") { var t = Next(); e = new BinaryExpr(t.Text, e, ParseUnary(), t.Line); }
        return e;
    }

    private Expr ParseUnary()
    {
        if (Peek.Kind == TokenKind.Op && Peek.Text is "-" or "+" or "~")
        {
            var t = Next();
            var operand = ParseUnary();
            if (t.Text == "-" && operand is ConstExpr { Value: long l }) return new ConstExpr(-l, t.Line);
            if (t.Text == "-" && operand is ConstExpr { Value: double d }) return new ConstExpr(-d, t.Line);
            return new UnaryExpr(t.Text, operand, t.Line);
        }
        return ParsePower();
    }

    private Expr ParsePower()
    {
        var e = ParsePostfix();
        if (Peek.Is("**")) { int l = Next().Line; return new BinaryExpr("**", e, ParseUnary(), l); }
        return e;
    }

    private Expr ParsePostfix()
    {
        var e = ParseAtom();
        while (true)
        {
            var t = Peek;
            if (t.Is("."))
            {
                _pos++;
                e = new AttributeExpr(e, ExpectName(), t.Line);
            }
            else if (t.Is("("))
            {
                _pos++;
                var args = new List<Expr>();
                var kw = new List<KeyValuePair<string, Expr>>();
                while (!Peek.Is(")"))
                {
                    if (Peek.Kind == TokenKind.Name && PeekAt(1).Is("="))
                    {
                        var k = Next().Text;
                        _pos++;
                        kw.Add(new(k, ParseExpr()));
                    }
                    else args.Add(ParseExpr());
                    if (!Accept(",")) break;
                }
                Expect(")");
                e = new CallExpr(e, args, kw, t.Line);
            }
            else if (t.Is("["))
            {
                _pos++;
                var index = ParseSubscriptIndex();
                Expect("]");
                e = new SubscriptExpr(e, index, t.Line);
            }
            else return e;
        }
    }

    private Expr ParseSubscriptIndex()
    {
        int line = Peek.Line;
        var items = new List<Expr>();
        bool tuple = false;
        while (true)
        {
            if (Peek.Is(":")) throw Fail("slice syntax in subscripts is not supported");
            items.Add(ParseExpr());
            if (!Accept(",")) break;
            tuple = true;
            if (Peek.Is("]")) break;
        }
        return tuple || items.Count > 1 ? new TupleExpr(items, line) : items[0];
    }

    private Expr ParseAtom()
    {
        var t = Next();
        switch (t.Kind)
        {
            case TokenKind.Int:
                if (long.TryParse(t.Text, NumberStyles.None, CultureInfo.InvariantCulture, out var l)) return new ConstExpr(l, t.Line);
                if (t.Text == "9223372036854775808") return new ConstExpr(long.MinValue, t.Line);
                throw _fail(t.Line, $"integer {t.Text} does not fit 64 bits");
            case TokenKind.Float:
                return new ConstExpr(double.Parse(t.Text, NumberStyles.Float, CultureInfo.InvariantCulture), t.Line);
            case TokenKind.String:
            {
                var s = t.Text;
                while (Peek.Kind == TokenKind.String) s += Next().Text;
                return new ConstExpr(s, t.Line);
            }
            case TokenKind.Name:
                return t.Text switch
                {
                    "None" => new ConstExpr(null, t.Line),
                    "True" => new ConstExpr(true, t.Line),
                    "False" => new ConstExpr(false, t.Line),
                    _ => new NameExpr(t.Text, t.Line),
                };
            case TokenKind.Op when t.Text == "(":
            {
                if (Accept(")")) return new TupleExpr([], t.Line);
                var first = ParseExpr();
                if (Accept(")")) return first;
                var items = new List<Expr> { first };
                while (Accept(","))
                {
                    if (Peek.Is(")")) break;
                    items.Add(ParseExpr());
                }
                Expect(")");
                return new TupleExpr(items, t.Line);
            }
            case TokenKind.Op when t.Text == "[":
            {
                var items = new List<Expr>();
                while (!Peek.Is("]"))
                {
                    items.Add(ParseExpr());
                    if (!Accept(",")) break;
                }
                Expect("]");
                return new ListExpr(items, t.Line);
            }
            case TokenKind.Op when t.Text == "{":
            {
                var items = new List<KeyValuePair<Expr, Expr>>();
                while (!Peek.Is("}"))
                {
                    var k = ParseExpr();
                    Expect(":");
                    items.Add(new(k, ParseExpr()));
                    if (!Accept(",")) break;
                }
                Expect("}");
                return new DictExpr(items, t.Line);
            }
            default:
                _pos--;
                throw Fail($"unexpected {t}");
        }
    }
}
