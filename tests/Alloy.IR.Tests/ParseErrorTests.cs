namespace Alloy.IR.Tests;

public class ParseErrorTests
{
    private static IrParseException Fails(string text) => Assert.Throws<IrParseException>(() => IrParser.ParseModel(text));

    [Fact]
    public void UnterminatedString()
    {
        var e = Fails("graph @g() -> () {\n  Foo {s = \"abc}\n  return\n}\n");
        Assert.Equal("line 2, col 12: unterminated string", e.Message);
        Assert.Equal((2, 12), (e.Line, e.Column));
    }

    [Fact]
    public void UnknownTypeName()
    {
        var e = Fails("graph @g(%x: f33[3]) -> () {\n  return\n}\n");
        Assert.Equal("line 1, col 14: unknown element type 'f33'", e.Message);
    }

    [Fact]
    public void UnknownTypeWord()
    {
        var e = Fails("graph @g() -> () {\n  %a = Foo : tensor\n  return\n}\n");
        Assert.Equal("line 2, col 14: unknown type 'tensor'", e.Message);
    }

    [Fact]
    public void UndefinedValueIsNamed()
    {
        var e = Fails("graph @g() -> () {\n  %a = Relu %nope : ?\n  return\n}\n");
        Assert.Equal("line 2, col 13: undefined value '%nope'", e.Message);
    }

    [Fact]
    public void UndefinedQuotedValueIsNamed()
    {
        var e = Fails("graph @g() -> () {\n  return %\"a b\"\n}\n");
        Assert.Equal("line 2, col 10: undefined value '%\"a b\"'", e.Message);
    }

    [Fact]
    public void ForwardReferenceIsUndefined()
    {
        var e = Fails("graph @g(%x: f32[1]) -> () {\n  %a = Relu %b : ?\n  %b = Relu %x : ?\n  return\n}\n");
        Assert.Equal("line 2, col 13: undefined value '%b'", e.Message);
    }

    [Theory]
    [InlineData("graph @g(%a: f32[1]) -> () {\n  %a = Relu %a : ?\n  return\n}\n", "line 2, col 3: value '%a' is defined twice")]
    [InlineData("graph @g(%a: f32[1], %a: f32[1]) -> () {\n  return\n}\n", "line 1, col 22: value '%a' is defined twice")]
    [InlineData("graph @g() -> () {\n  %k = const i64[] dense<[1]>\n  %k = const i64[] dense<[2]>\n  return\n}\n", "line 3, col 3: value '%k' is defined twice")]
    [InlineData("graph @g(%x: f32[1]) -> () {\n  %a, %a = Split %x : ?, ?\n  return\n}\n", "line 2, col 7: value '%a' is defined twice")]
    public void ValueDefinedTwice(string text, string message) => Assert.Equal(message, Fails(text).Message);

    [Fact]
    public void MissingReturn()
    {
        var e = Fails("graph @g() -> () {\n  Foo\n}\n");
        Assert.Equal("line 3, col 1: expected 'return' before '}'", e.Message);
    }

    [Fact]
    public void MissingReturnAtEnd()
    {
        var e = Fails("graph @g() -> () {\n  Foo\n");
        Assert.Equal("line 3, col 1: expected 'return' before end of input", e.Message);
    }

    [Fact]
    public void ExpectedBracket()
    {
        var e = Fails("graph @g(%x: f32[3,4) -> () {\n  return\n}\n");
        Assert.Equal("line 1, col 21: expected ']' but found ')'", e.Message);
    }

    [Theory]
    [InlineData("graph @g() -> () {\n  Foo {a = []}\n  return\n}\n", "line 2, col 13: an empty list must name its kind")]
    [InlineData("graph @g() -> () {\n  Foo {a = ref<x, bogus>}\n  return\n}\n", "line 2, col 19: unknown attribute kind 'bogus'")]
    [InlineData("graph @g() -> () {\n  Foo {a = 1, a = 2}\n  return\n}\n", "line 2, col 15: attribute 'a' is given twice")]
    [InlineData("graph @g(%x: f32[1]) -> (%x: f32[1]) {\n  return\n}\n", "line 2, col 3: 'return' lists 0 value(s) but the signature declares 1 output(s)")]
    [InlineData("graph @g(%x: f32[1], %y: f32[1]) -> (%x: f32[1]) {\n  return %y\n}\n", "line 2, col 10: return value 0 is '%y' but the signature names '%x'")]
    [InlineData("graph @g(%x: f32[1]) -> (%x: f32[2]) {\n  return %x\n}\n", "line 1, col 26: output '%x' is declared with a type that differs")]
    [InlineData("graph @g() -> () {\n  %k = const f32[2] dense<[1.0]>\n  return\n}\n", "line 2, col 27: expected 2 value(s) but found 1")]
    [InlineData("graph @g() -> () {\n  %k = const i8[1] dense<[300]>\n  return\n}\n", "line 2, col 27: 300 is out of range for i8")]
    [InlineData("graph @g() -> () {\n  %k = const f16[1] dense<0x0>\n  return\n}\n", "line 2, col 27: hex data needs an even number of digits")]
    [InlineData("graph @g() -> () {\n  %k = const f8e5m2[1] dense<[1.0]>\n  return\n}\n", "line 2, col 31: f8e5m2 data is written as hex bytes")]
    [InlineData("graph @g() -> () {\n  %a = Foo : ?, ?\n  return\n}\n", "line 2, col 12: the node has 1 result(s) but 2 type(s)")]
    [InlineData("graph @g() -> () {\n  Foo : ?\n  return\n}\n", "line 2, col 7: a node without results has no result types")]
    [InlineData("graph @g() -> () {\n  Foo Bar\n  return\n}\n", "line 2, col 7: expected a new line before 'Bar'")]
    [InlineData("graph @g() captures(%x) -> () {\n  return\n}\n", "line 1, col 12: a top-level graph cannot capture values")]
    [InlineData("graph @g(%x: f32[1]) -> () {\n  %x = const default\n  return\n}\n", "line 2, col 14: input '%x' has no default value")]
    [InlineData("graph @g() -> () {\n  Foo {s = \"a\\q\"}\n  return\n}\n", "line 2, col 14: invalid escape '\\q'")]
    [InlineData("graph @g() -> () {\n  %a = Foo : f32\n  return\n}\n", "line 3, col 3: expected '[' after element type 'f32'")]
    [InlineData("module {ir_version = 8, bogus = 1}\ngraph @g() -> () {\n  return\n}\n", "line 1, col 25: unknown module field 'bogus'")]
    [InlineData("graph @g() -> () {\n  return\n}\ngraph @h() -> () {\n  return\n}\n", "line 4, col 1: expected end of input but found 'graph'")]
    [InlineData("graph @g() -> () {\n  Foo $\n  return\n}\n", "line 2, col 7: unexpected character '$'")]
    public void MalformedInput(string text, string messagePrefix) => Assert.StartsWith(messagePrefix, Fails(text).Message);

    [Fact]
    public void ParseGraphRejectsModuleHeader()
    {
        var e = Assert.Throws<IrParseException>(() => IrParser.ParseGraph("module {}\ngraph @g() -> () {\n  return\n}\n"));
        Assert.Equal("line 1, col 1: expected 'graph' but found 'module'", e.Message);
    }

    [Fact]
    public void CaptureOfUnknownOuterValue()
    {
        var e = Fails("graph @g(%c: bool[]) -> () {\n  If %c {then_branch = graph @t() captures(%zz) -> () {\n      return\n    }}\n  return\n}\n");
        Assert.Equal("line 2, col 44: undefined value '%zz'", e.Message);
    }

    [Fact]
    public void SubgraphCannotSeeLaterOuterValues()
    {
        var e = Fails("graph @g(%c: bool[]) -> () {\n  If %c {then_branch = graph @t() -> (%z) {\n      %z = Relu %later : ?\n      return %z\n    }}\n  %later = Foo : ?\n  return\n}\n");
        Assert.Equal("line 3, col 17: undefined value '%later'", e.Message);
    }

    [Fact]
    public void SiblingSubgraphValuesAreNotVisible()
    {
        var e = Fails("graph @g(%c: bool[]) -> () {\n  If %c {then_branch = graph @t() -> (%z) {\n      %z = Foo : ?\n      return %z\n    }, else_branch = graph @e() -> (%w) {\n      %w = Relu %z : ?\n      return %w\n    }}\n  return\n}\n");
        Assert.Equal("line 6, col 17: undefined value '%z'", e.Message);
    }
}
