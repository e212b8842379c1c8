using Alloy.IR;
using Alloy.Onnx;

namespace Alloy.Cli;

/// <summary>Runs a command body and maps failures to the exit-code contract: 0 success, 1 user error, 2 internal error.</summary>
public static class CliRunner
{
    public const int Success = 0;
    public const int UserErrorCode = 1;
    public const int InternalErrorCode = 2;

    public static int Run(TextWriter errors, Action body)
    {
        try
        {
            body();
            return Success;
        }
        catch (UserError e)
        {
            return Report(errors, e.Message);
        }
        catch (OnnxImportException e)
        {
            return Report(errors, e.Message);
        }
        catch (IrException e)
        {
            return Report(errors, e.Message);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Report(errors, e.Message);
        }
        catch (Exception e)
        {
            errors.WriteLine($"alloy: internal error: {e.Message}");
            errors.WriteLine(e.ToString());
            return InternalErrorCode;
        }
    }

    private static int Report(TextWriter errors, string message)
    {
        errors.WriteLine($"alloy: error: {message}");
        return UserErrorCode;
    }
}
