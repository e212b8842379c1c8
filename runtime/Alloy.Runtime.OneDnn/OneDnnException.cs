namespace Alloy.Runtime.OneDnn;

/// <summary>A oneDNN call failed; the message names the call and oneDNN's status.</summary>
public sealed class OneDnnException(string call, int status)
    : Exception($"{call} failed: {StatusName(status)}")
{
    /// <summary>oneDNN's <c>dnnl_status_t</c>.</summary>
    public int Status { get; } = status;

    private static string StatusName(int status) => status switch
    {
        1 => "out of memory",
        2 => "invalid arguments",
        3 => "unimplemented",
        4 => "iterator ends",
        5 => "runtime error",
        6 => "not required",
        _ => $"status {status}",
    };
}
