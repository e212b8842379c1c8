namespace Alloy.Calibration;

/// <summary>Calibration cannot run: bad calibration data (wrong shape or type, NaN/Inf, empty), a model it cannot observe, bad options.</summary>
public sealed class CalibrationException(string message, Exception? inner = null) : Exception(message, inner);
