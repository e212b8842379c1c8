#!/usr/bin/python3
"""Semantic comparison of ONNX models, in batch.

Reads a JSON list of {"original": path, "exported": path} objects from a file named as the first argument,
or from stdin when there is no argument (or the argument is "-"), and writes one JSON object per pair, one
per line, to stdout (or to the file given with --out):

    {"original": ..., "exported": ..., "equal": bool, "differences": [...],
     "checker_original": "ok" | error text, "checker_exported": "ok" | error text}

"differences" holds at most the first 20 differences, each as "path: description" with a path like
graph.node[3].attribute[alpha].t.

Semantic identity (what an importer/exporter round trip must preserve):
  * model fields: ir_version, opset_import (ordered), producer_name/producer_version, domain, model_version,
    doc_string, metadata_props, training_info (serialized equality), functions (every field);
  * graph: name, doc_string, metadata_props, quantization_annotation, inputs and outputs in order with full
    types (dim_value / dim_param / denotation), value_info as a name -> entry map (order ignored; every
    original entry must exist in the exported graph with an equal type), initializers in order (name,
    data_type, dims, doc_string and values compared bit-exactly as the bytes of onnx.numpy_helper.to_array,
    with external data loaded relative to the model's folder), sparse initializers likewise, nodes in order
    (op_type, domain exactly, name, doc_string, inputs, outputs, attributes in order with name, type and
    value; tensor attributes by to_array bytes; graph attributes recursively);
  * how a tensor is stored (raw_data vs typed fields, embedded vs external) is not semantic.
A field left unset and a field set to its default value are the same.

onnx.checker.check_model(path, full_check=False) runs on both files (the path form, which resolves
external data). Run with Debian's /usr/bin/python3, which has python3-onnx.
"""

import json
import os
import struct
import sys

import numpy as np
import onnx
from onnx import numpy_helper
from google.protobuf.descriptor import FieldDescriptor

MAX_DIFFS = 20


class TooMany(Exception):
    pass


class Diffs:
    def __init__(self):
        self.items = []
        self.truncated = False

    def add(self, path, text):
        if len(self.items) >= MAX_DIFFS:
            self.truncated = True
            raise TooMany()
        self.items.append(f"{path}: {text}")


def short(v, limit=160):
    s = repr(v)
    return s if len(s) <= limit else s[:limit] + "..."


# ---------------------------------------------------------------------------------------------------
# tensors

def tensor_values(t, base_dir):
    """A comparable representation of a tensor's values, independent of how they are stored.

    Raises when onnx.numpy_helper.to_array cannot convert the tensor: element types newer than onnx 1.12
    (float8, int4, ...), complex values held in float_data/double_data (a bug of onnx 1.12), bad data."""
    a = numpy_helper.to_array(t, base_dir)
    if a.dtype == object or a.dtype.kind in ("U", "S"):
        return ("strings", [x if isinstance(x, bytes) else str(x).encode("utf-8") for x in a.reshape(-1).tolist()])
    return ("array", str(a.dtype), tuple(a.shape), np.ascontiguousarray(a).tobytes())


def fallback_bytes(t, base_dir):
    """The tensor's values in ONNX's little-endian raw layout, read from whichever field holds them."""
    if t.data_location == onnx.TensorProto.EXTERNAL:
        info = {e.key: e.value for e in t.external_data}
        path = os.path.join(base_dir, info.get("location", ""))
        try:
            with open(path, "rb") as f:
                f.seek(int(info.get("offset", "0")))
                n = int(info["length"]) if "length" in info else -1
                return f.read(n)
        except Exception as e2:
            return f"<unreadable external data: {e2}>"
    if t.HasField("raw_data"):
        return bytes(t.raw_data)
    dt = t.data_type
    if dt in (onnx.TensorProto.FLOAT, onnx.TensorProto.COMPLEX64):
        return struct.pack(f"<{len(t.float_data)}f", *t.float_data)
    if dt in (onnx.TensorProto.DOUBLE, onnx.TensorProto.COMPLEX128):
        return struct.pack(f"<{len(t.double_data)}d", *t.double_data)
    if dt == onnx.TensorProto.INT64:
        return struct.pack(f"<{len(t.int64_data)}q", *t.int64_data)
    if dt == onnx.TensorProto.UINT64:
        return struct.pack(f"<{len(t.uint64_data)}Q", *t.uint64_data)
    if dt == onnx.TensorProto.UINT32:
        return struct.pack(f"<{len(t.uint64_data)}I", *t.uint64_data)
    if dt == onnx.TensorProto.INT32:
        return struct.pack(f"<{len(t.int32_data)}i", *t.int32_data)
    if dt in (onnx.TensorProto.INT16, onnx.TensorProto.UINT16, onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16):
        return struct.pack(f"<{len(t.int32_data)}H", *[v & 0xFFFF for v in t.int32_data])
    if dt == onnx.TensorProto.STRING:
        return b"\0".join(t.string_data)
    # 8-bit and packed 4-bit types: one byte per int32 entry
    return bytes(v & 0xFF for v in t.int32_data)


def compare_tensor(a, b, path, d, base_a, base_b):
    for f in ("name", "doc_string", "data_type"):
        va, vb = getattr(a, f), getattr(b, f)
        if va != vb:
            d.add(f"{path}.{f}", f"{short(va)} != {short(vb)}")
    if list(a.dims) != list(b.dims):
        d.add(f"{path}.dims", f"{list(a.dims)} != {list(b.dims)}")
        return
    if a.HasField("segment") or b.HasField("segment"):
        if a.segment.SerializeToString() != b.segment.SerializeToString():
            d.add(f"{path}.segment", "segments differ")
    try:
        va, vb = tensor_values(a, base_a), tensor_values(b, base_b)
    except Exception:
        # When to_array fails on either side, compare both in the raw layout instead.
        va, vb = ("raw", fallback_bytes(a, base_a)), ("raw", fallback_bytes(b, base_b))
    if va != vb:
        d.add(f"{path}.values", describe_value_difference(va, vb))


def describe_value_difference(va, vb):
    if va[0] != vb[0]:
        return f"stored differently: {va[0]} vs {vb[0]}"
    if va[0] == "array":
        if va[1] != vb[1] or va[2] != vb[2]:
            return f"dtype/shape {va[1]}{va[2]} != {vb[1]}{vb[2]}"
        ba, bb = va[3], vb[3]
        first = next((i for i in range(min(len(ba), len(bb))) if ba[i] != bb[i]), min(len(ba), len(bb)))
        return f"bytes differ ({len(ba)} vs {len(bb)} bytes; first difference at byte {first})"
    if va[0] == "strings":
        return f"strings differ ({len(va[1])} vs {len(vb[1])} elements)"
    a, b = va[1], vb[1]
    if isinstance(a, str) or isinstance(b, str):
        return f"{short(a)} vs {short(b)}"
    return f"raw bytes differ ({len(a)} vs {len(b)} bytes)"


def compare_sparse(a, b, path, d, base_a, base_b):
    if list(a.dims) != list(b.dims):
        d.add(f"{path}.dims", f"{list(a.dims)} != {list(b.dims)}")
    compare_tensor(a.values, b.values, f"{path}.values", d, base_a, base_b)
    compare_tensor(a.indices, b.indices, f"{path}.indices", d, base_a, base_b)


# ---------------------------------------------------------------------------------------------------
# generic messages (unset == default; oneof choice compared)

def float_bits(x):
    return struct.pack("<f", x)


def compare_scalar(field, va, vb):
    if field.type == FieldDescriptor.TYPE_FLOAT:
        return float_bits(va) == float_bits(vb)
    if field.type == FieldDescriptor.TYPE_DOUBLE:
        return struct.pack("<d", va) == struct.pack("<d", vb)
    return va == vb


def compare_message(a, b, path, d, ctx, skip=()):
    desc = a.DESCRIPTOR
    for oneof in desc.oneofs:
        wa, wb = a.WhichOneof(oneof.name), b.WhichOneof(oneof.name)
        if wa != wb:
            d.add(f"{path}.{oneof.name}", f"one chooses {wa}, the other {wb}")
    for field in desc.fields:
        if field.name in skip:
            continue
        if field.containing_oneof is not None and a.WhichOneof(field.containing_oneof.name) != field.name:
            continue
        compare_field(a, b, field, f"{path}.{field.name}", d, ctx)


def compare_field(a, b, field, path, d, ctx):
    va, vb = getattr(a, field.name), getattr(b, field.name)
    special = SPECIAL.get((field.containing_type.full_name, field.name))
    if field.label == FieldDescriptor.LABEL_REPEATED:
        if len(va) != len(vb):
            d.add(path, f"{len(va)} entries != {len(vb)} entries")
            return
        for i, (x, y) in enumerate(zip(va, vb)):
            p = f"{path}[{item_label(x, i)}]"
            if special is not None:
                special(x, y, p, d, ctx)
            elif field.type == FieldDescriptor.TYPE_MESSAGE:
                compare_message(x, y, p, d, ctx)
            elif not compare_scalar(field, x, y):
                d.add(p, f"{short(x)} != {short(y)}")
        return
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        ha, hb = a.HasField(field.name), b.HasField(field.name)
        if ha != hb:
            # an unset message and an empty one are the same
            if (va if ha else vb).ByteSize() != 0:
                d.add(path, "present in only one model" + (" (original)" if ha else " (exported)"))
            return
        if not ha:
            return
        if special is not None:
            special(va, vb, path, d, ctx)
        else:
            compare_message(va, vb, path, d, ctx)
        return
    if not compare_scalar(field, va, vb):
        d.add(path, f"{short(va)} != {short(vb)}")


def item_label(x, i):
    """Attributes are addressed by name (attribute[alpha]); everything else by index."""
    if isinstance(x, onnx.AttributeProto):
        return x.name
    return str(i)


# ---------------------------------------------------------------------------------------------------
# graphs, nodes, attributes

ATTR_FIELD = {
    onnx.AttributeProto.FLOAT: "f",
    onnx.AttributeProto.INT: "i",
    onnx.AttributeProto.STRING: "s",
    onnx.AttributeProto.TENSOR: "t",
    onnx.AttributeProto.GRAPH: "g",
    onnx.AttributeProto.FLOATS: "floats",
    onnx.AttributeProto.INTS: "ints",
    onnx.AttributeProto.STRINGS: "strings",
    onnx.AttributeProto.TENSORS: "tensors",
    onnx.AttributeProto.GRAPHS: "graphs",
    onnx.AttributeProto.SPARSE_TENSOR: "sparse_tensor",
    onnx.AttributeProto.SPARSE_TENSORS: "sparse_tensors",
    onnx.AttributeProto.TYPE_PROTO: "tp",
    onnx.AttributeProto.TYPE_PROTOS: "type_protos",
}


def attr_type(a):
    """The attribute's type; for an untyped attribute (IR version 1) the type its value field implies."""
    if a.type != onnx.AttributeProto.UNDEFINED:
        return a.type
    for t, f in ATTR_FIELD.items():
        fd = a.DESCRIPTOR.fields_by_name[f]
        if fd.label == FieldDescriptor.LABEL_REPEATED:
            if len(getattr(a, f)) > 0:
                return t
        elif a.HasField(f):
            return t
    return onnx.AttributeProto.UNDEFINED


def compare_attribute(a, b, path, d, ctx):
    for f in ("name", "doc_string", "ref_attr_name"):
        if getattr(a, f) != getattr(b, f):
            d.add(f"{path}.{f}", f"{short(getattr(a, f))} != {short(getattr(b, f))}")
    ta, tb = attr_type(a), attr_type(b)
    if ta != tb:
        d.add(f"{path}.type", f"{ta} != {tb}")
        return
    if a.ref_attr_name:
        return
    f = ATTR_FIELD.get(ta)
    if f is None:
        return
    compare_field(a, b, a.DESCRIPTOR.fields_by_name[f], f"{path}.{f}", d, ctx)


def compare_tensor_field(a, b, path, d, ctx):
    compare_tensor(a, b, path, d, ctx["base_a"], ctx["base_b"])


def compare_sparse_field(a, b, path, d, ctx):
    compare_sparse(a, b, path, d, ctx["base_a"], ctx["base_b"])


def compare_value_info_map(la, lb, path, d, ctx):
    exported = {}
    for vi in lb:
        exported.setdefault(vi.name, vi)
    for vi in la:
        other = exported.get(vi.name)
        p = f"{path}[{vi.name}]"
        if other is None:
            d.add(p, "missing from the exported model")
            continue
        compare_message(vi, other, p, d, ctx, skip=("name",))


def compare_graph(a, b, path, d, ctx):
    compare_message(a, b, path, d, ctx, skip=("value_info",))
    compare_value_info_map(a.value_info, b.value_info, f"{path}.value_info", d, ctx)


def compare_function(a, b, path, d, ctx):
    compare_message(a, b, path, d, ctx, skip=("value_info",))
    if "value_info" in a.DESCRIPTOR.fields_by_name:
        compare_value_info_map(a.value_info, b.value_info, f"{path}.value_info", d, ctx)


def compare_training_info(a, b, path, d, ctx):
    if a.SerializeToString(deterministic=True) != b.SerializeToString(deterministic=True):
        d.add(path, "serialized training_info differs")


SPECIAL = {
    ("onnx.GraphProto", "initializer"): compare_tensor_field,
    ("onnx.GraphProto", "sparse_initializer"): compare_sparse_field,
    ("onnx.AttributeProto", "t"): compare_tensor_field,
    ("onnx.AttributeProto", "tensors"): compare_tensor_field,
    ("onnx.AttributeProto", "sparse_tensor"): compare_sparse_field,
    ("onnx.AttributeProto", "sparse_tensors"): compare_sparse_field,
    ("onnx.AttributeProto", "g"): compare_graph,
    ("onnx.AttributeProto", "graphs"): compare_graph,
    ("onnx.NodeProto", "attribute"): compare_attribute,
    ("onnx.ModelProto", "graph"): compare_graph,
    ("onnx.ModelProto", "functions"): compare_function,
    ("onnx.ModelProto", "training_info"): compare_training_info,
    ("onnx.FunctionProto", "attribute_proto"): compare_attribute,
    ("onnx.SparseTensorProto", "values"): compare_tensor_field,
    ("onnx.SparseTensorProto", "indices"): compare_tensor_field,
}


# ---------------------------------------------------------------------------------------------------
# driver

def load(path):
    # External data stays on disk: to_array reads it relative to the model's folder when comparing.
    return onnx.load(path, load_external_data=False)


def check(path):
    try:
        onnx.checker.check_model(path, full_check=False)
        return "ok"
    except Exception as e:
        text = str(e).strip() or type(e).__name__
        return text if len(text) <= 2000 else text[:2000] + "..."


def compare_pair(original, exported):
    result = {"original": original, "exported": exported, "equal": False, "differences": []}
    d = Diffs()
    try:
        a = load(original)
    except Exception as e:
        d.items.append(f"<original>: cannot load: {e}")
        a = None
    try:
        b = load(exported)
    except Exception as e:
        d.items.append(f"<exported>: cannot load: {e}")
        b = None
    if a is not None and b is not None:
        ctx = {"base_a": os.path.dirname(os.path.abspath(original)),
               "base_b": os.path.dirname(os.path.abspath(exported))}
        try:
            compare_message(a, b, "model", d, ctx)
        except TooMany:
            pass
        except Exception as e:
            d.items.append(f"<comparer>: {type(e).__name__}: {e}")
    if d.truncated:
        d.items.append("... (more differences)")
    result["differences"] = d.items
    result["equal"] = a is not None and b is not None and not d.items
    result["checker_original"] = check(original)
    result["checker_exported"] = check(exported) if os.path.exists(exported) else "exported file does not exist"
    return result


def main(argv):
    out = sys.stdout
    args = list(argv[1:])
    if "--out" in args:
        i = args.index("--out")
        out = open(args[i + 1], "w", encoding="utf-8")
        del args[i:i + 2]
    if args and args[0] != "-":
        with open(args[0], encoding="utf-8") as f:
            pairs = json.load(f)
    else:
        pairs = json.load(sys.stdin)
    for p in pairs:
        try:
            r = compare_pair(p["original"], p["exported"])
        except Exception as e:  # never lose the other pairs' results
            r = {"original": p.get("original"), "exported": p.get("exported"), "equal": False,
                 "differences": [f"<comparer>: {type(e).__name__}: {e}"],
                 "checker_original": "not run", "checker_exported": "not run"}
        out.write(json.dumps(r) + "\n")
        out.flush()
    if out is not sys.stdout:
        out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
