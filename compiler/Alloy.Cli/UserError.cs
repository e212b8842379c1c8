namespace Alloy.Cli;

/// <summary>A problem with the user's input or arguments: reported as one message, exit code 1.</summary>
public sealed class UserError(string message) : Exception(message);
