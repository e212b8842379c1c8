namespace Alloy.Tuning;

/// <summary>Tuning cannot proceed: bad configuration, a candidate that cannot be built or run, an evaluation that failed. The message names the model and the reason.</summary>
public sealed class TuningException(string message, Exception? inner = null) : Exception(message, inner);
