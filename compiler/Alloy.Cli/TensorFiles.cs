using Alloy.Backend;
using Alloy.IR;
using Alloy.Onnx;
using Alloy.Runtime;
using Alloy.Runtime.IO;

namespace Alloy.Cli;

/// <summary>Tensors in files, by extension: NumPy <c>.npy</c> or ONNX <c>TensorProto</c> <c>.pb</c>.</summary>
public static class TensorFiles
{
    public static Tensor Read(string path)
    {
        if (!File.Exists(path)) throw new UserError($"{path}: file not found");
        return Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".npy" => NpyFile.Read(path),
            ".pb" => ConstantTensors.ToTensor(OnnxTensorFile.Read(path).Value),
            _ => throw new UserError($"{path}: unknown tensor file type (use .npy or .pb)"),
        };
    }

    public static void Write(string path, string name, Tensor t)
    {
        switch (Path.GetExtension(path).ToLowerInvariant())
        {
            case ".npy":
                NpyFile.Write(path, t);
                break;
            case ".pb":
                TensorData data = t.Type == ElementType.String
                    ? new StringTensorData(t.Strings.Select(System.Text.Encoding.UTF8.GetBytes).ToArray())
                    : new ArrayTensorData(t.Bytes.ToArray());
                OnnxTensorFile.Write(path, name, new TensorConstant((DataType)(int)t.Type, [.. t.Shape], data));
                break;
            default:
                throw new UserError($"{path}: unknown tensor file type (use .npy or .pb)");
        }
    }
}
