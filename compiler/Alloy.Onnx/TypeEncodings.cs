using System.Runtime.CompilerServices;
using Alloy.IR;
using Alloy.Onnx.Proto;

namespace Alloy.Onnx;

/// <summary>
/// The encoded <c>TypeProto</c> payloads of the types an export writes, memoized by type object: the values of a
/// graph share few type objects (the importer shares identical types), so most of the export's type records are a
/// copy of bytes encoded once instead of four to six nested records sized and written again. A small
/// direct-mapped table of reusable buffers keeps the memory bounded whatever the number of distinct types.
/// </summary>
internal sealed class TypeEncodings : IDisposable
{
    private const int Slots = 16;

    private readonly IrType?[] _types = new IrType?[Slots];
    private readonly byte[][] _bytes = new byte[Slots][];
    private readonly int[] _lengths = new int[Slots];
    private ProtoEmitter? _scratch;

    /// <summary>The fields of the <c>TypeProto</c> for <paramref name="type"/> (IR types are immutable).</summary>
    public ReadOnlySpan<byte> Encode(IrType type)
    {
        int slot = RuntimeHelpers.GetHashCode(type) & (Slots - 1);
        if (!ReferenceEquals(_types[slot], type))
        {
            var e = _scratch ??= new ProtoEmitter();
            e.Reset();
            TypeFields(e, type);
            int length = checked((int)e.Size);
            var buffer = _bytes[slot];
            if (buffer is null || buffer.Length < length) _bytes[slot] = buffer = new byte[Math.Max(length, 32)];
            e.StartWriting(buffer, null);
            TypeFields(e, type);
            e.FinishWriting();
            _types[slot] = type;
            _lengths[slot] = length;
        }
        return _bytes[slot].AsSpan(0, _lengths[slot]);
    }

    public void Dispose() => _scratch?.Dispose();

    /// <summary>A nested <c>TypeProto</c> field; null writes an empty one.</summary>
    private static void Type(ProtoEmitter e, int field, IrType? type)
    {
        e.BeginMessage(field);
        TypeFields(e, type);
        e.EndMessage();
    }

    /// <summary>The fields of a <c>TypeProto</c> (none for null).</summary>
    private static void TypeFields(ProtoEmitter e, IrType? type)
    {
        switch (type)
        {
            case null: break;
            case TensorType t:
                e.BeginMessage(TypeProto.TensorTypeFieldNumber);
                e.Int32(TypeProto.Types.Tensor.ElemTypeFieldNumber, (int)t.ElementType);
                if (t.Shape is not null) Shape(e, TypeProto.Types.Tensor.ShapeFieldNumber, t.Shape);
                e.EndMessage();
                break;
            case SparseTensorType s:
                e.BeginMessage(TypeProto.SparseTensorTypeFieldNumber);
                e.Int32(TypeProto.Types.SparseTensor.ElemTypeFieldNumber, (int)s.ElementType);
                if (s.Shape is not null) Shape(e, TypeProto.Types.SparseTensor.ShapeFieldNumber, s.Shape);
                e.EndMessage();
                break;
            case SequenceType q:
                e.BeginMessage(TypeProto.SequenceTypeFieldNumber);
                if (q.ElementType is not null) Type(e, TypeProto.Types.Sequence.ElemTypeFieldNumber, q.ElementType);
                e.EndMessage();
                break;
            case OptionalType o:
                e.BeginMessage(TypeProto.OptionalTypeFieldNumber);
                if (o.ElementType is not null) Type(e, TypeProto.Types.Optional.ElemTypeFieldNumber, o.ElementType);
                e.EndMessage();
                break;
            case MapType m:
                e.BeginMessage(TypeProto.MapTypeFieldNumber);
                e.Int32(TypeProto.Types.Map.KeyTypeFieldNumber, (int)m.KeyType);
                if (m.ValueType is not null) Type(e, TypeProto.Types.Map.ValueTypeFieldNumber, m.ValueType);
                e.EndMessage();
                break;
            case OpaqueType o:
                e.BeginMessage(TypeProto.OpaqueTypeFieldNumber);
                e.String(TypeProto.Types.Opaque.DomainFieldNumber, o.Domain);
                e.String(TypeProto.Types.Opaque.NameFieldNumber, o.Name);
                e.EndMessage();
                break;
            default:
                throw new InvalidOperationException($"unknown IR type {type}");
        }
    }

    private static void Shape(ProtoEmitter e, int field, Shape s)
    {
        e.BeginMessage(field);
        foreach (var d in s.Dims)
        {
            e.BeginMessage(TensorShapeProto.DimFieldNumber);
            if (d.Size is { } size) e.Int64(TensorShapeProto.Types.Dimension.DimValueFieldNumber, size);
            else if (d.Symbol is { } symbol) e.String(TensorShapeProto.Types.Dimension.DimParamFieldNumber, symbol);
            e.EndMessage();
        }
        e.EndMessage();
    }

}
