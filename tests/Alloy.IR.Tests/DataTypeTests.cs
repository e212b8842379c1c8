namespace Alloy.IR.Tests;

public class DataTypeTests
{
    [Theory]
    [InlineData(DataType.Float, DataType.BFloat16, true)]
    [InlineData(DataType.BFloat16, DataType.Float, false)]
    [InlineData(DataType.Float, DataType.Float16, true)]
    [InlineData(DataType.BFloat16, DataType.Float16, false)] // mantissa
    [InlineData(DataType.Float16, DataType.BFloat16, false)] // range
    [InlineData(DataType.BFloat16, DataType.Int8, true)]
    [InlineData(DataType.BFloat16, DataType.UInt8, true)]
    [InlineData(DataType.BFloat16, DataType.Int16, false)]
    [InlineData(DataType.Float16, DataType.UInt8, true)]
    [InlineData(DataType.Float16, DataType.Int16, false)]
    [InlineData(DataType.Double, DataType.Int32, true)]
    [InlineData(DataType.Float, DataType.Int32, false)]
    [InlineData(DataType.Float16, DataType.Float8E4M3FN, true)]
    [InlineData(DataType.Float16, DataType.Float8E5M2, true)]
    [InlineData(DataType.BFloat16, DataType.Float8E5M2, true)]
    [InlineData(DataType.BFloat16, DataType.Float8E4M3FN, true)]
    [InlineData(DataType.Int8, DataType.Bool, true)]
    [InlineData(DataType.Int64, DataType.Float, false)]
    [InlineData(DataType.Int4, DataType.Int8, false)]
    [InlineData(DataType.Int8, DataType.Int4, true)]
    [InlineData(DataType.Int8, DataType.UInt4, true)]
    [InlineData(DataType.UInt8, DataType.Int8, false)]
    [InlineData(DataType.Float, DataType.Float, true)]
    [InlineData(DataType.Float, DataType.String, false)]
    [InlineData(DataType.Float, DataType.Undefined, false)]
    public void RepresentsExactly(DataType to, DataType from, bool expected) =>
        Assert.Equal(expected, to.RepresentsExactly(from));

    [Fact]
    public void EveryEnumMemberHasFacts()
    {
        var names = new HashSet<string>();
        foreach (var t in Enum.GetValues<DataType>())
        {
            var f = t.Facts();
            Assert.Equal(t, f.Type);
            Assert.False(string.IsNullOrEmpty(f.ShortName));
            Assert.True(names.Add(f.ShortName), $"short name {f.ShortName} is used twice");
            Assert.True(DataTypes.TryParseShortName(f.ShortName, out var back));
            Assert.Equal(t, back);
            if (t == DataType.Undefined) continue;
            Assert.NotEqual(NumberKind.None, f.Kind);
            if (f.IsFloat)
            {
                Assert.True(f.ExponentBits > 0 && f.MantissaBits > 0 && f.MaxFinite > 0, t.ToString());
                Assert.Equal(f.BitWidth, 1 + f.ExponentBits + f.MantissaBits);
            }
            if (f.Kind != NumberKind.String) Assert.True(f.BitWidth > 0, t.ToString());
        }
        Assert.Equal(Enum.GetValues<DataType>().Length - 1, DataTypes.All.Count());
    }

    [Fact]
    public void UnknownShortNameIsRejected() => Assert.False(DataTypes.TryParseShortName("f33", out _));
}
