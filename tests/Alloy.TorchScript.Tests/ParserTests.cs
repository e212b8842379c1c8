using Alloy.TorchScript.Pickle;
using Alloy.TorchScript.Script;
using Xunit;

namespace Alloy.TorchScript.Tests;

/// <summary>The code parser and the unpickler on constructs the corpus archives do not all contain.</summary>
public sealed class ParserTests
{
    private static (List<ClassDef> Classes, List<FunctionDef> Functions) Parse(string code) =>
        Parser.ParseFile(code, "code/t.py", "__torch__.t", (line, reason) => new InvalidOperationException($"{line}: {reason}"));

    [Fact]
    public void ClassMembersAndSignatures()
    {
        var (classes, functions) = Parse("""
            class C(Module):
              __parameters__ = ["w", ]
              w : Tensor
              eps : Final[float] = 1.0000000000000001e-05
              __annotations__["0"] = __torch__.a.B
              def forward(self: __torch__.t.C,
                x: Tensor,
                y: Optional[Tensor]=None) -> Tuple[Tensor, Tensor]:
                return (x, x)
            def f(a: int=-3) -> int:
              return a
            """);
        var c = Assert.Single(classes);
        Assert.Equal("__torch__.t.C", c.QualifiedName);
        Assert.Equal(1.0000000000000001e-05, (c.FindAttribute("eps")!.Value as ConstExpr)!.Value);
        Assert.NotNull(c.FindAttribute("0"));
        var forward = c.Methods["forward"];
        Assert.Equal(["self", "x", "y"], forward.Parameters.Select(p => p.Name));
        Assert.IsType<ConstExpr>(forward.Parameters[2].Default);
        Assert.Equal(-3L, (Assert.Single(functions).Parameters[0].Default as ConstExpr)!.Value);
    }

    [Fact]
    public void StatementsAndExpressions()
    {
        var (_, functions) = Parse("""
            def f(x: Tensor) -> Tensor:
              a, b, = torch.chunk(x, 2)
              if torch.eq(1, 2):
                c = 1
              elif not True and False or 3 < 4:
                c = 2
              else:
                pass
              for i in range(3):
                c += i
              while False:
                break
              s = "q\"\n" 'x'
              d = a if c else b
              return getattr(self, "0")[-1]
            """);
        var body = Assert.Single(functions).Body;
        Assert.IsType<TupleExpr>(Assert.IsType<AssignStmt>(body[0]).Targets[0]);
        var ifs = Assert.IsType<IfStmt>(body[1]);
        Assert.IsType<IfStmt>(Assert.Single(ifs.Else));
        Assert.IsType<ForStmt>(body[2]);
        Assert.IsType<AugAssignStmt>(Assert.IsType<ForStmt>(body[2]).Body[0]);
        Assert.IsType<WhileStmt>(body[3]);
        Assert.Equal("q\"\nx", (Assert.IsType<AssignStmt>(body[4]).Value as ConstExpr)!.Value);
        Assert.IsType<ConditionalExpr>(Assert.IsType<AssignStmt>(body[5]).Value);
        Assert.IsType<SubscriptExpr>(Assert.IsType<ReturnStmt>(body[6]).Value);
    }

    [Fact]
    public void SyntaxErrorsCarryTheLine()
    {
        var e = Assert.Throws<InvalidOperationException>(() => Parse("def f(x: Tensor) -> Tensor:\n  return x[:2]\n"));
        Assert.StartsWith("2: slice syntax", e.Message);
        e = Assert.Throws<InvalidOperationException>(() => Parse("def f(x: Tensor) -> Tensor:\n    y = x\n  return y\n"));
        Assert.StartsWith("3: inconsistent indentation", e.Message);
    }

    [Fact]
    public void UnpicklerOpcodes()
    {
        // (LONG1 -2, BINFLOAT 0.5, SHORT_BINSTRING 'ab', memo get of the list, build_intlist([1, 2]))
        byte[] pickle =
        [
            0x80, 0x02, (byte)'(',
            0x8a, 0x01, 0xfe,
            (byte)'G', 0x3f, 0xe0, 0, 0, 0, 0, 0, 0,
            (byte)'U', 0x02, (byte)'a', (byte)'b',
            (byte)']', (byte)'q', 0x01, (byte)'h', 0x01,
            (byte)'c', .. "torch.jit._pickle\nbuild_intlist\n"u8.ToArray(), (byte)']', (byte)'(', (byte)'K', 1, (byte)'K', 2, (byte)'e', 0x85, (byte)'R',
            (byte)'t', (byte)'.',
        ];
        var t = Assert.IsType<PickleTuple>(new Unpickler(pickle, "test", _ => null).Load());
        Assert.Equal(-2L, t.Items[0]);
        Assert.Equal(0.5, t.Items[1]);
        Assert.Equal("ab", t.Items[2]);
        Assert.Same(t.Items[3], t.Items[4]);
        Assert.Equal([1L, 2L], Assert.IsType<List<object?>>(t.Items[5]).Cast<long>());
    }
}
