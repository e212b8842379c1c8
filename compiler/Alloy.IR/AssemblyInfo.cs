using System.Runtime.CompilerServices;

// The ONNX importer builds graphs in bulk and uses the IR's scratch fields and internal lists.
[assembly: InternalsVisibleTo("Alloy.Onnx")]
// Tests corrupt use-lists on purpose to check the verifier.
[assembly: InternalsVisibleTo("Alloy.IR.Tests")]
