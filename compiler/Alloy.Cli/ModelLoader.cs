using Alloy.IR;
using Alloy.Onnx;

namespace Alloy.Cli;

/// <summary>Loads a model file by its extension.</summary>
public static class ModelLoader
{
    public static Model Load(string path)
    {
        var ext = Path.GetExtension(path).ToLowerInvariant();
        return ext switch
        {
            ".onnx" => OnnxImporter.Load(path),
            ".pt" or ".pth" => throw new UserError($"{path}: TorchScript archives are not supported by this build; export the model to ONNX"),
            _ => File.Exists(path)
                ? OnnxImporter.Load(path)
                : throw new UserError($"{path}: file not found"),
        };
    }
}
