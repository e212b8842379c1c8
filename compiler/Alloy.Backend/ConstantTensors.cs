using Alloy.IR;
using Alloy.Runtime;

namespace Alloy.Backend;

/// <summary>IR constants as runtime tensors.</summary>
public static class ConstantTensors
{
    public static Tensor ToTensor(TensorConstant c)
    {
        var shape = c.Dims.ToArray();
        var type = (ElementType)(int)c.ElementType;
        if (c.Data is StringTensorData s)
            return Tensor.FromStrings(shape, s.Strings.Select(b => System.Text.Encoding.UTF8.GetString(b)).ToArray());
        if (!c.Data.HasBytes)
            throw new InvalidOperationException("a constant read from IR text holds only its digest and cannot run");
        var t = Tensor.Create(type, shape);
        if (t.ByteLength != c.Data.ByteLength)
            throw new InvalidOperationException($"constant has {c.Data.ByteLength} bytes, its shape needs {t.ByteLength}");
        c.Data.AsSpan().CopyTo(t.Bytes);
        return t;
    }

    /// <summary>A sparse constant (COO: values, and indices either [NNZ] linear or [NNZ, rank]) as a dense tensor.</summary>
    public static Tensor ToDense(SparseTensorConstant s)
    {
        var values = ToTensor(s.Values);
        using var indices = ToTensor(s.Indices);
        var shape = s.Dims.ToArray();
        var dense = Tensor.Create(values.Type, shape);
        long nnz = values.Length;
        var idx = Alloy.Runtime.Numerics.ElementConvert.ToLongs(indices);
        var strides = new long[shape.Length];
        long stride = 1;
        for (int i = shape.Length - 1; i >= 0; i--) { strides[i] = stride; stride *= shape[i]; }
        int elem = (int)Math.Max(1, values.Type.Bits() / 8);
        for (long k = 0; k < nnz; k++)
        {
            long flat = 0;
            if (indices.Rank == 1) flat = idx[k];
            else for (int d = 0; d < shape.Length; d++) flat += idx[k * shape.Length + d] * strides[d];
            values.Bytes.Slice((int)(k * elem), elem).CopyTo(dense.Bytes[(int)(flat * elem)..]);
        }
        values.Dispose();
        return dense;
    }
}
