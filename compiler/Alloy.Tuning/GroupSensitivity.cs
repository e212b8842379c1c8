namespace Alloy.Tuning;

/// <summary>Phase-1 sensitivity of one layer group: the metric with only this group in <see cref="LowType"/> and everything else FP32.</summary>
public sealed record GroupSensitivity(string LowType, LayerGroup Group, double Value, bool Reused);
