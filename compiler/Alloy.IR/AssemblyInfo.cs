using System.Runtime.CompilerServices;

// The ONNX importer builds graphs in bulk and uses the IR's scratch fields and internal lists.
[assembly: InternalsVisibleTo("Alloy.Onnx")]
