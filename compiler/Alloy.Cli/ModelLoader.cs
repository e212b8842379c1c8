using System.CommandLine;
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

    /// <summary>The <c>--input-types</c> option every command that takes a MODEL offers (TorchScript archives only).</summary>
    public static Option<string?> InputTypesOption() => new("--input-types")
    {
        Description = "Input types of a TorchScript archive, e.g. 'x=f32[N,3,224,224];ids=i64[N,16]' (default: "
            + TorchScriptInputsVariable + ", else float32 of the rank the model's ops determine)",
    };

    /// <summary>Loads <paramref name="path"/>; <paramref name="inputTypes"/> (from <c>--input-types</c>) wins over the environment.</summary>
    public static Model Load(string path, string? inputTypes = null)
    {
        var ext = Path.GetExtension(path).ToLowerInvariant();
        if (inputTypes is not null && ext is not (".pt" or ".pth"))
            throw new UserError($"{path}: --input-types applies to TorchScript archives (.pt/.pth) only; an ONNX model declares its input types");
        return ext switch
        {
            ".onnx" => OnnxImporter.Load(path),
            ".pt" or ".pth" => LoadTorchScript(path, inputTypes ?? Environment.GetEnvironmentVariable(TorchScriptInputsVariable)),
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
            throw new UserError($"input types '{inputTypes}': {e.Message}");
        }
        try
        {
            return TorchScriptImporter.Load(path, options);
        }
        catch (TorchScriptException e)
        {
            var hint = e.Reason.Contains("give the input shapes", StringComparison.Ordinal)
                ? " (give them with --input-types, for example --input-types 'x=f32[N,3,224,224]')"
                : "";
            throw new UserError(e.Message + hint);
        }
    }
}
