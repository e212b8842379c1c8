using Alloy.TorchScript.Archive;
using Alloy.TorchScript.Script;

namespace Alloy.TorchScript.Lowering;

/// <summary>
/// The classes and functions of an archive's <c>code/</c> folder, keyed by qualified name: the file
/// <c>code/__torch__/a/b.py</c> is module <c>__torch__.a.b</c>, and class <c>C</c> in it is <c>__torch__.a.b.C</c>
/// (mangled names such as <c>___torch_mangle_7</c> are just part of the path, never matched on).
/// </summary>
internal sealed class CodeTable
{
    private readonly Dictionary<string, ClassDef> _classes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, FunctionDef> _functions = new(StringComparer.Ordinal);

    public CodeTable(TorchArchive archive)
    {
        foreach (var name in archive.Names.Where(n => n.StartsWith("code/", StringComparison.Ordinal) && n.EndsWith(".py", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            var module = name["code/".Length..^".py".Length].Replace('/', '.');
            var (classes, functions) = Parser.ParseFile(archive.ReadText(name), name, module,
                (line, reason) => new TorchScriptException(archive.Path, name, line, reason));
            foreach (var c in classes) _classes[c.QualifiedName] = c;
            foreach (var f in functions) _functions[module + "." + f.Name] = f;
        }
    }

    public IReadOnlyDictionary<string, ClassDef> Classes => _classes;
    public ClassDef? FindClass(string qualifiedName) => _classes.GetValueOrDefault(qualifiedName);
    public FunctionDef? FindFunction(string qualifiedName) => _functions.GetValueOrDefault(qualifiedName);
}
