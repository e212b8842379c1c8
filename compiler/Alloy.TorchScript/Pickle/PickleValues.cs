using Alloy.IR;

namespace Alloy.TorchScript.Pickle;

/// <summary>A class or function named by a pickle GLOBAL opcode.</summary>
public sealed record PickleGlobal(string Module, string Name)
{
    public string QualifiedName => Module + "." + Name;
    public override string ToString() => QualifiedName;
}

/// <summary>A pickled tuple.</summary>
public sealed record PickleTuple(object?[] Items)
{
    public override string ToString() => "(" + string.Join(", ", Items) + ")";
}

/// <summary>A pickled dict (insertion order kept, as OrderedDict and Python dicts do).</summary>
public sealed class PickleDict
{
    public List<KeyValuePair<object?, object?>> Items { get; } = [];

    public void Set(object? key, object? value)
    {
        for (int i = 0; i < Items.Count; i++)
            if (Equals(Items[i].Key, key)) { Items[i] = new(key, value); return; }
        Items.Add(new(key, value));
    }
}

/// <summary>An object of a TorchScript class (<c>__torch__.*</c>): its qualified type name and attributes.</summary>
public sealed class TorchObject(string typeName)
{
    public string TypeName { get; } = typeName;
    public Dictionary<string, object?> Attributes { get; } = new(StringComparer.Ordinal);
    public override string ToString() => TypeName;
}

/// <summary>A storage named by <c>persistent_load(('storage', type, key, location, numel))</c>.</summary>
public sealed record StorageRef(string Key, DataType ElementType, long Numel, string Location);

/// <summary>A tensor rebuilt by <c>_rebuild_tensor_v2</c>: a strided view of a storage.</summary>
public sealed record TorchTensor(StorageRef Storage, long Offset, long[] Sizes, long[] Strides, bool RequiresGrad)
{
    public DataType ElementType => Storage.ElementType;
    public long ElementCount => Sizes.Aggregate(1L, (a, b) => a * b);
    public override string ToString() => $"tensor {ElementType}[{string.Join(",", Sizes)}]";
}
