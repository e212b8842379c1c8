namespace Alloy.Tuning;

/// <summary>One family of candidates the tuner may choose from (an entry of <see cref="TuningConfig.ConfigSet"/>).</summary>
public abstract record PrecisionConfig
{
    /// <summary>The low-precision type of the family: <c>bf16</c>, <c>fp16</c>, <c>int8</c> or <c>int8+bf16</c>.</summary>
    public abstract string LowType { get; }

    /// <summary>The <c>prec</c> annotation the family's passes give the nodes that run low precision.</summary>
    public virtual string PrecisionAnnotation => LowType;
}
