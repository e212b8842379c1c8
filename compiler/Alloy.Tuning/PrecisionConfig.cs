namespace Alloy.Tuning;

/// <summary>One family of candidates the tuner may choose from (an entry of <see cref="TuningConfig.ConfigSet"/>).</summary>
public abstract record PrecisionConfig
{
    /// <summary>The low-precision type of the family: <c>bf16</c>, <c>fp16</c> or <c>int8</c>.</summary>
    public abstract string LowType { get; }
}
