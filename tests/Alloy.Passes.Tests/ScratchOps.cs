namespace Alloy.Passes.Tests;
public class ScratchOps
{
    [Xunit.Fact]
    public void Dump()
    {
        foreach (var f in Directory.EnumerateFiles(Alloy.Testing.RepoPaths.CorpusModels, "*.onnx", SearchOption.AllDirectories))
        {
            using var m = Alloy.Onnx.OnnxImporter.Load(f);
            File.WriteAllText("/tmp/si/" + Path.GetFileNameWithoutExtension(f) + ".ir", Alloy.IR.IrPrinter.Print(m));
        }
    }
}
