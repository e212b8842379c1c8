using System.Collections.Immutable;
using Alloy.IR;
using Alloy.TorchScript.Pickle;

namespace Alloy.TorchScript.Lowering;

/// <summary>Tensor helpers shared by the op lowerings: constants from the pickle, sizes, casts, shape tensors.</summary>
internal sealed partial class Lowerer
{
    // ---- parameters and buffers ----

    /// <summary>A pickled tensor as an IR constant (created once; contiguous views of stored storages stay mapped).</summary>
    public TensorValue Param(TorchTensor t, string path)
    {
        if (_params.TryGetValue(t, out var known)) return known;
        var data = Materialize(t, path);
        var constant = new TensorConstant(t.ElementType, [.. t.Sizes], data);
        var v = _b.Constant(constant, path);
        var tv = new TensorValue(v, t.ElementType, t.Sizes.Select(Dim.Of).ToArray()) { RequiresGrad = t.RequiresGrad };
        _params[t] = tv;
        return tv;
    }

    private TensorData Storage(StorageRef s, string folder)
    {
        var name = folder + "/" + s.Key;
        if (_storages.TryGetValue(name, out var d)) return d;
        d = _archive.ReadStorage(name);
        long need = s.Numel * s.ElementType.Facts().StorageBytes;
        if (d.ByteLength < need) throw Fail($"storage {name} holds {d.ByteLength} bytes but {s.Numel} elements of {s.ElementType} need {need}");
        _storages[name] = d;
        return d;
    }

    /// <summary>The storage folder persistent ids refer to while a pickle is read (data/ or constants/).</summary>
    public string StorageFolder { get; set; } = "data";

    private readonly Dictionary<StorageRef, string> _storageFolders = new(ReferenceEqualityComparer.Instance);

    public void RememberFolder(StorageRef s, string folder) => _storageFolders[s] = folder;

    private TensorData Materialize(TorchTensor t, string path)
    {
        var folder = _storageFolders.GetValueOrDefault(t.Storage, "data");
        var storage = Storage(t.Storage, folder);
        int es = t.ElementType.Facts().StorageBytes;
        long count = t.ElementCount;
        // Contiguous row-major view: a slice of the storage.
        bool contiguous = true;
        long expect = 1;
        for (int i = t.Sizes.Length - 1; i >= 0; i--)
        {
            if (t.Sizes[i] != 1 && t.Strides[i] != expect) { contiguous = false; break; }
            expect *= t.Sizes[i];
        }
        if (count == 0) return ArrayTensorData.Empty;
        long maxIndex = t.Offset;
        for (int i = 0; i < t.Sizes.Length; i++) maxIndex += (t.Sizes[i] - 1) * Math.Max(0, t.Strides[i]);
        if (t.Offset < 0 || (maxIndex + 1) * es > storage.ByteLength || t.Strides.Any(s => s < 0))
            throw Fail($"tensor '{path}' (offset {t.Offset}, size [{string.Join(",", t.Sizes)}], stride [{string.Join(",", t.Strides)}]) lies outside its storage");
        if (contiguous)
        {
            if (storage is MappedTensorData m) return new MappedTensorData(m.File, m.Offset + t.Offset * es, count * es);
            return new ArrayTensorData(storage.Slice(t.Offset * es, checked((int)(count * es))).ToArray());
        }
        var bytes = new byte[checked(count * es)];
        var index = new long[t.Sizes.Length];
        for (long k = 0; k < count; k++)
        {
            long src = t.Offset;
            for (int i = 0; i < index.Length; i++) src += index[i] * t.Strides[i];
            storage.Slice(src * es, es).CopyTo(bytes.AsSpan((int)(k * es), es));
            for (int i = index.Length - 1; i >= 0; i--)
            {
                if (++index[i] < t.Sizes[i]) break;
                index[i] = 0;
            }
        }
        return new ArrayTensorData(bytes);
    }

    /// <summary>The single number a 0-d tensor constant holds (for constants.pkl scalars).</summary>
    public object ScalarFromTensor(TorchTensor t, string path)
    {
        var data = Materialize(t, path).AsSpan();
        return t.ElementType switch
        {
            DataType.Int64 => BitConverter.ToInt64(data),
            DataType.Int32 => (long)BitConverter.ToInt32(data),
            DataType.Double => BitConverter.ToDouble(data),
            DataType.Float => (double)BitConverter.ToSingle(data),
            DataType.Bool => data[0] != 0,
            _ => throw Fail($"scalar constant '{path}' of element type {t.ElementType} is not supported"),
        };
    }

    // ---- shapes ----

    public int RequireRank(TensorValue t, string op)
    {
        if (t.Rank is { } r) return r;
        throw Fail($"{op} needs the rank of %{t.Ir.Name}, which is unknown; give the input shapes when importing");
    }

    /// <summary>Gives a graph input of unknown rank the rank an op requires (its dimensions stay unknown).</summary>
    public void RefineRank(TensorValue t, int rank)
    {
        if (t.Shape is not null || t.Ir.Kind != ValueKind.Input) return;
        t.Shape = Enumerable.Repeat(Dim.Unknown, rank).ToArray();
        t.Ir.Type = GraphBuilder.TypeOf(t.Type, t.Shape);
    }

    private static int Axis(long dim, int rank) => (int)(dim < 0 ? dim + rank : dim);

    /// <summary>size(x, d): a known int, or a run-time int (named after its symbolic dimension when it has one).</summary>
    public object Size(TensorValue t, long dim)
    {
        int d;
        Dim dimInfo = Dim.Unknown;
        if (t.Rank is null && dim >= 0) d = (int)dim; // Shape(start, end) needs no rank for a non-negative dim
        else
        {
            int r = RequireRank(t, "size");
            d = Axis(dim, r);
            if (d < 0 || d >= r) throw Fail($"dimension {dim} out of range for a tensor of rank {r}");
            dimInfo = t.Shape![d];
        }
        if (dimInfo.Size is { } s) return s;
        if (_sizes.TryGetValue((t.Ir, d), out var cached) && cached.Ir.Owner == _b.Current) return cached;
        var shape = _b.Emit("Shape", [t.Ir], [Attr.Int("start", d), Attr.Int("end", d + 1)], DataType.Int64, [Dim.Of(1)]);
        var scalar = _b.Emit("Squeeze", [shape.Ir, _b.Ints([0], "axes")], null, DataType.Int64, []);
        var n = new DynNumber(scalar.Ir, NumberKind.SignedInteger, dimInfo);
        _sizes[(t.Ir, d)] = n;
        return n;
    }

    public List<object?> SizeList(TensorValue t)
    {
        int r = RequireRank(t, "size");
        var l = new List<object?>(r);
        for (int i = 0; i < r; i++) l.Add(Size(t, i));
        return l;
    }

    /// <summary>A 1-D int64 shape tensor from ints known now or at run time, and the dims it describes.</summary>
    public (Value Tensor, Dim[] Dims) ShapeTensor(IReadOnlyList<object?> items, bool allowInfer)
    {
        var dims = new Dim[items.Count];
        int dynamic = 0, minusOne = 0;
        for (int i = 0; i < items.Count; i++)
        {
            switch (items[i])
            {
                case long l: dims[i] = l >= 0 ? Dim.Of(l) : Dim.Unknown; if (l == -1) minusOne++; break;
                case DynNumber d: dims[i] = d.Dim; dynamic++; break;
                default: throw Fail($"shape element {i} is {Describe(items[i])}, not an int");
            }
        }
        if (dynamic == 0) return (_b.Ints(items.Select(x => (long)x!).ToArray(), "shape"), dims);
        if (allowInfer && dynamic == 1 && minusOne == 0)
            return (_b.Ints(items.Select(x => x is long l ? l : -1L).ToArray(), "shape"), dims);
        var parts = items.Select(x => x is DynNumber d
            ? _b.Emit("Unsqueeze", [NumberAs(d, DataType.Int64), _b.Ints([0], "axes")], null, DataType.Int64, [Dim.Of(1)]).Ir
            : _b.Ints([(long)x!], "dim")).ToArray();
        return (_b.Emit("Concat", parts, [Attr.Int("axis", 0)], DataType.Int64, [Dim.Of(items.Count)]).Ir, dims);
    }

    /// <summary>Items of a list argument that may be a single int (torch broadcasts int to int[]).</summary>
    public IReadOnlyList<object?> IntList(object? v, int repeat, string what)
    {
        return v switch
        {
            long or DynNumber => Enumerable.Repeat(v, repeat).ToList(),
            List<object?> l => l,
            PickleTuple t => t.Items,
            _ => throw Fail($"{what} is {Describe(v)}, not an int list"),
        };
    }

    public long[] KnownInts(object? v, int repeat, string what)
    {
        var items = IntList(v, repeat, what);
        var r = new long[items.Count];
        for (int i = 0; i < r.Length; i++)
            r[i] = items[i] is long l ? l : throw Fail($"{what}[{i}] is {Describe(items[i])}; only ints known at import time are supported here");
        return r;
    }

    // ---- tensors ----

    /// <summary>A tensor, or a number as a 0-d tensor (int64, float32 or bool, as torch types Python scalars).</summary>
    public TensorValue AsTensor(object? v) => v switch
    {
        TensorValue t => t,
        long l => new TensorValue(_b.Scalar(DataType.Int64, l), DataType.Int64, []),
        bool b => new TensorValue(_b.Scalar(DataType.Bool, b ? 1 : 0), DataType.Bool, []),
        double d => new TensorValue(_b.Scalar(DataType.Float, d), DataType.Float, []),
        DynNumber n => new TensorValue(n.Ir, n.IrType, []),
        _ => throw Fail($"{Describe(v)} is not a tensor"),
    };

    public TensorValue CastTo(TensorValue t, DataType type)
    {
        if (t.Type == type) return t;
        return _b.Emit("Cast", [t.Ir], [Attr.Int("to", (long)type)], type, t.Shape);
    }

    public TensorValue Unary(string op, TensorValue x, params Attr[] attrs) => _b.Emit(op, [x.Ir], attrs, x.Type, x.Shape);

    /// <summary>Two operands of a binary op as tensors of one element type (numbers take the tensor's type, as torch does).</summary>
    private (TensorValue, TensorValue) Operands(object? a, object? b, bool trueDivide = false)
    {
        DataType type;
        if (a is TensorValue ta && b is TensorValue tb) type = ScalarTypes.Promote(ta.Type, tb.Type);
        else
        {
            var t = (a as TensorValue ?? b as TensorValue)!;
            var other = a is TensorValue ? b : a;
            type = t.Type;
            if (!ScalarTypes.IsFloat(type) && (other is double || other is DynNumber { Kind: NumberKind.BinaryFloat })) type = DataType.Float;
        }
        if (trueDivide && !ScalarTypes.IsFloat(type)) type = DataType.Float;
        return (Convert(a, type), Convert(b, type));
    }

    private TensorValue Convert(object? v, DataType type) => v switch
    {
        TensorValue t => CastTo(t, type),
        long or double or bool => new TensorValue(_b.Scalar(type, ToDouble(v)), type, []),
        DynNumber n => new TensorValue(NumberAs(n, type), type, []),
        _ => throw Fail($"{Describe(v)} is not a tensor or number"),
    };

    public TensorValue Elementwise(string op, object? a, object? b, bool trueDivide = false)
    {
        var (x, y) = Operands(a, b, trueDivide);
        return _b.Emit(op, [x.Ir, y.Ir], null, x.Type, GraphBuilder.Broadcast(x.Shape, y.Shape));
    }

    public TensorValue Compare(string op, object? a, object? b, bool negate = false)
    {
        var (x, y) = Operands(a, b);
        var r = _b.Emit(op, [x.Ir, y.Ir], null, DataType.Bool, GraphBuilder.Broadcast(x.Shape, y.Shape));
        return negate ? _b.Emit("Not", [r.Ir], null, DataType.Bool, r.Shape) : r;
    }

    private object TensorBinary(string op, object? a, object? b) => op switch
    {
        "+" => Elementwise("Add", a, b),
        "-" => Elementwise("Sub", a, b),
        "*" => Elementwise("Mul", a, b),
        "/" => Elementwise("Div", a, b, trueDivide: true),
        "@" => MatMul(AsTensor(a), AsTensor(b)),
        "**" => Elementwise("Pow", a, b),
        "==" => Compare("Equal", a, b),
        "!=" => Compare("Equal", a, b, negate: true),
        "<" => Compare("Less", a, b),
        ">" => Compare("Greater", a, b),
        "<=" => Compare("LessOrEqual", a, b),
        ">=" => Compare("GreaterOrEqual", a, b),
        _ => throw Fail($"operator '{op}' on tensors is not supported"),
    };

    public TensorValue Reshape(TensorValue x, IReadOnlyList<object?> shape)
    {
        var (tensor, dims) = ShapeTensor(shape, allowInfer: true);
        // Resolve one -1 when every other size is known.
        int infer = Array.FindIndex(dims, d => d.IsUnknown);
        if (infer >= 0 && dims.Count(d => d.IsUnknown) == 1 && x.Shape is { } xs && xs.All(d => d.IsKnown) && dims.Where((d, i) => i != infer).All(d => d.IsKnown))
        {
            long total = xs.Aggregate(1L, (p, d) => p * d.Size!.Value);
            long rest = dims.Where((d, i) => i != infer).Aggregate(1L, (p, d) => p * d.Size!.Value);
            if (rest != 0) dims[infer] = Dim.Of(total / rest);
        }
        return _b.Emit("Reshape", [x.Ir, tensor], null, x.Type, dims);
    }

    public TensorValue Permute(TensorValue x, long[] perm)
    {
        int r = RequireRank(x, "permute");
        if (perm.Length != r) throw Fail($"permutation of {perm.Length} dims for a tensor of rank {r}");
        var p = perm.Select(d => (long)Axis(d, r)).ToArray();
        if (p.Select((d, i) => d == i).All(b => b)) return x;
        return _b.Emit("Transpose", [x.Ir], [Attr.Ints("perm", p)], x.Type, p.Select(i => x.Shape![i]).ToArray());
    }

    public TensorValue Transpose(TensorValue x, long a, long b)
    {
        int r = RequireRank(x, "transpose");
        var perm = Enumerable.Range(0, r).Select(i => (long)i).ToArray();
        (perm[Axis(a, r)], perm[Axis(b, r)]) = (perm[Axis(b, r)], perm[Axis(a, r)]);
        return Permute(x, perm);
    }

    public TensorValue Select(TensorValue x, long dim, object? index)
    {
        int r = RequireRank(x, "select");
        int d = Axis(dim, r);
        var idx = index is long k ? _b.Scalar(DataType.Int64, k) : NumberAs(index, DataType.Int64);
        var shape = x.Shape!.Where((_, i) => i != d).ToArray();
        return _b.Emit("Gather", [x.Ir, idx], [Attr.Int("axis", d)], x.Type, shape);
    }

    public TensorValue Unsqueeze(TensorValue x, long dim)
    {
        int r = RequireRank(x, "unsqueeze");
        int d = Axis(dim, r + 1);
        var shape = x.Shape!.ToList();
        shape.Insert(d, Dim.Of(1));
        return _b.Emit("Unsqueeze", [x.Ir, _b.Ints([d], "axes")], null, x.Type, [.. shape]);
    }

    public TensorValue MatMul(TensorValue a, TensorValue b)
    {
        Dim[]? shape = null;
        if (a.Shape is { Length: >= 1 } sa && b.Shape is { Length: >= 1 } sb)
        {
            if (sa.Length == 1 && sb.Length == 1) shape = [];
            else if (sb.Length == 1) shape = sa[..^1];
            else if (sa.Length == 1) shape = [.. sb[..^2], sb[^1]];
            else
            {
                var batch = GraphBuilder.Broadcast(sa[..^2], sb[..^2])!;
                shape = [.. batch, sa[^2], sb[^1]];
            }
        }
        return _b.Emit("MatMul", [a.Ir, b.Ir], null, a.Type, shape);
    }

    /// <summary>A constant with the two dims of a 2-D constant swapped (linear weights, done once offline).</summary>
    public TensorValue TransposedConstant(TensorValue w)
    {
        var c = w.Ir.Constant!;
        long rows = c.Dims[0], cols = c.Dims[1];
        int es = c.ElementType.Facts().StorageBytes;
        var src = c.Data.AsSpan();
        var dst = new byte[src.Length];
        for (long i = 0; i < rows; i++)
            for (long j = 0; j < cols; j++)
                src.Slice((int)((i * cols + j) * es), es).CopyTo(dst.AsSpan((int)((j * rows + i) * es), es));
        var v = _b.Constant(new TensorConstant(c.ElementType, [cols, rows], new ArrayTensorData(dst)), w.Ir.Name + ".T");
        return new TensorValue(v, w.Type, [Dim.Of(cols), Dim.Of(rows)]);
    }

    public TensorValue ConstantTensor(DataType type, long[] dims, double fill, string hint)
    {
        long count = dims.Aggregate(1L, (a, b) => a * b);
        var bytes = GraphBuilder.Encode(type, Enumerable.Repeat(fill, (int)count).ToArray());
        var v = _b.Constant(new TensorConstant(type, [.. dims], new ArrayTensorData(bytes)), hint);
        return new TensorValue(v, type, dims.Select(Dim.Of).ToArray());
    }

    public TensorValue Filled(IReadOnlyList<object?> size, DataType type, double fill)
    {
        if (size.All(s => s is long)) return ConstantTensor(type, size.Select(s => (long)s!).ToArray(), fill, fill == 0 ? "zeros" : "full");
        var (shape, dims) = ShapeTensor(size, allowInfer: false);
        var value = new TensorConstant(type, [1], new ArrayTensorData(GraphBuilder.Encode(type, [fill])));
        return _b.Emit("ConstantOfShape", [shape], [new Attr("value", new TensorAttr(value))], type, dims);
    }
}
