using Alloy.IR;
using Alloy.Onnx;
using Alloy.TorchScript;

namespace Alloy.Cli;

/// <summary>Loads a model file by its extension: ONNX, or a TorchScript archive (.pt / .pth).</summary>
public static class ModelLoader
{
    /// <summary>
    /// Input types for TorchScript archives, which do not record them: <c>;</c>-separated specs such as
    /// <c>x=f32[N,1,8,8];ids=i64[N,16]</c>. Inputs not given are float32 of a rank the model's ops determine.
    /// </summary>
    public const string TorchScriptInputsVariable = "ALLOY_TORCHSCRIPT_INPUTS";

    public static Model Load(string path)
    {
        var ext = Path.GetExtension(path).ToLowerInvariant();
        return ext switch
        {
            ".onnx" => OnnxImporter.Load(path),
            ".pt" or ".pth" => LoadTorchScript(path, Environment.GetEnvironmentVariable(TorchScriptInputsVariable)),
            _ => File.Exists(path)
                ? OnnxImporter.Load(path)
                : throw new UserError($"{path}: file not found"),
        };
    }

    /// <summary>Imports a TorchScript archive; <paramref name="inputTypes"/> as in <see cref="TorchScriptInputsVariable"/>.</summary>
    public static Model LoadTorchScript(string path, string? inputTypes)
    {
        if (!File.Exists(path)) throw new UserError($"{path}: file not found");
        TorchScriptImportOptions options;
        try
        {
            options = TorchScriptImportOptions.Parse((inputTypes ?? "").Split(';'));
        }
        catch (FormatException e)
        {
            throw new UserError($"{TorchScriptInputsVariable}: {e.Message}");
        }
        try
        {
            return TorchScriptImporter.Load(path, options);
        }
        catch (TorchScriptException e)
        {
            var hint = e.Reason.Contains("give the input shapes", StringComparison.Ordinal)
                ? $" (set {TorchScriptInputsVariable}, for example {TorchScriptInputsVariable}='x=f32[N,3,224,224]')"
                : "";
            throw new UserError(e.Message + hint);
        }
    }
}
