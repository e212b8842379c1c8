namespace Alloy.TorchScript.Script;

// ---- expressions ----

/// <summary>An expression of TorchScript code; <see cref="Line"/> is 1-based in its code file.</summary>
public abstract record Expr(int Line);
public sealed record NameExpr(string Id, int Line) : Expr(Line);
/// <summary>A literal: long, double, bool, string or null (None).</summary>
public sealed record ConstExpr(object? Value, int Line) : Expr(Line);
public sealed record AttributeExpr(Expr Target, string Name, int Line) : Expr(Line);
public sealed record CallExpr(Expr Function, IReadOnlyList<Expr> Args, IReadOnlyList<KeyValuePair<string, Expr>> Keywords, int Line) : Expr(Line);
public sealed record SubscriptExpr(Expr Target, Expr Index, int Line) : Expr(Line);
public sealed record ListExpr(IReadOnlyList<Expr> Items, int Line) : Expr(Line);
public sealed record TupleExpr(IReadOnlyList<Expr> Items, int Line) : Expr(Line);
public sealed record DictExpr(IReadOnlyList<KeyValuePair<Expr, Expr>> Items, int Line) : Expr(Line);
public sealed record BinaryExpr(string Op, Expr Left, Expr Right, int Line) : Expr(Line);
public sealed record UnaryExpr(string Op, Expr Operand, int Line) : Expr(Line);
/// <summary><c>a if cond else b</c>.</summary>
public sealed record ConditionalExpr(Expr Condition, Expr Then, Expr Else, int Line) : Expr(Line);

// ---- statements ----

public abstract record Stmt(int Line);
public sealed record AssignStmt(IReadOnlyList<Expr> Targets, Expr Value, int Line) : Stmt(Line);
/// <summary><c>target op= value</c>.</summary>
public sealed record AugAssignStmt(Expr Target, string Op, Expr Value, int Line) : Stmt(Line);
/// <summary><c>name : Type = value</c> inside a function body.</summary>
public sealed record AnnotatedAssignStmt(Expr Target, Expr Type, Expr? Value, int Line) : Stmt(Line);
public sealed record ExprStmt(Expr Value, int Line) : Stmt(Line);
public sealed record ReturnStmt(Expr? Value, int Line) : Stmt(Line);
public sealed record IfStmt(Expr Condition, IReadOnlyList<Stmt> Then, IReadOnlyList<Stmt> Else, int Line) : Stmt(Line);
public sealed record ForStmt(Expr Target, Expr Iterable, IReadOnlyList<Stmt> Body, int Line) : Stmt(Line);
public sealed record WhileStmt(Expr Condition, IReadOnlyList<Stmt> Body, int Line) : Stmt(Line);
public sealed record PassStmt(int Line) : Stmt(Line);
public sealed record BreakStmt(int Line) : Stmt(Line);
public sealed record ContinueStmt(int Line) : Stmt(Line);
public sealed record AssertStmt(Expr Condition, Expr? Message, int Line) : Stmt(Line);

// ---- definitions ----

public sealed record Parameter(string Name, Expr? Type, Expr? Default);

/// <summary>A function or method: parameters (with types and defaults), return type, body, and its code file.</summary>
public sealed record FunctionDef(string Name, IReadOnlyList<Parameter> Parameters, Expr? ReturnType, IReadOnlyList<Stmt> Body, string File, int Line);

/// <summary>A typed class attribute: <c>name : Type</c>, or <c>name : Final[Type] = literal</c>.</summary>
public sealed record ClassAttribute(string Name, Expr Type, Expr? Value, int Line);

/// <summary>A TorchScript class: qualified name, typed attributes, constants and methods.</summary>
public sealed record ClassDef(string QualifiedName, string Base, IReadOnlyList<ClassAttribute> Attributes,
    IReadOnlyDictionary<string, FunctionDef> Methods, string File, int Line)
{
    public ClassAttribute? FindAttribute(string name) => Attributes.FirstOrDefault(a => a.Name == name);
}
