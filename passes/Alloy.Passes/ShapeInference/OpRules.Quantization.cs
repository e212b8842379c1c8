using Alloy.IR;

namespace Alloy.Passes.ShapeInference;

internal static partial class OpRules
{
    private static void AddQuantization(Dictionary<string, Action<NodeContext>> t)
    {
        // y = saturate(x / scale + zero_point): the zero point's type, else output_dtype, else uint8.
        t["QuantizeLinear"] = c =>
        {
            var elem = c.Has(2) && c.Elem(2) != DataType.Undefined ? c.Elem(2) : c.TypeAttr("output_dtype", c.Has(2) ? DataType.Undefined : DataType.UInt8);
            c.Set(0, elem, c.ShapeOf(0));
        };
        // y = (x − zero_point) × scale: output_dtype, else the scale's type (float32 before opset 19).
        t["DequantizeLinear"] = c =>
        {
            var elem = c.TypeAttr("output_dtype", c.Elem(1) != DataType.Undefined ? c.Elem(1) : DataType.Float);
            c.Set(0, elem, c.ShapeOf(0));
        };
        t["DynamicQuantizeLinear"] = c =>
        {
            c.Set(0, DataType.UInt8, c.ShapeOf(0));
            c.Set(1, DataType.Float, Shape.Scalar);
            c.Set(2, DataType.UInt8, Shape.Scalar);
        };
    }
}
