namespace Alloy.TorchScript.Lowering;

internal enum FlowKind { Normal, Return, Break, Continue }

/// <summary>How a block of statements ended, and the returned value.</summary>
internal readonly record struct Flow(FlowKind Kind, object? Value)
{
    public static readonly Flow Normal = new(FlowKind.Normal, null);
}

/// <summary><c>ops.prim.RaiseException</c> reached with conditions that fold to true: the model raises for this input.</summary>
internal sealed class ScriptRaiseException(string message) : Exception(message);
