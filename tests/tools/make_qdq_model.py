#!/usr/bin/python3
"""Quantize an FP32 ONNX CNN into QDQ form (static, per-channel), with numpy and onnx only.

    /usr/bin/python3 tests/tools/make_qdq_model.py MODEL.onnx OUT.onnx [--calib INPUT.npy] [--samples N] [--seed S]

Weights of Conv / Gemm / MatMul become per-channel symmetric int8 initializers (scale max|w| / 127 per output
channel, zero point 0) behind a DequantizeLinear (axis 0 for Conv and transposed Gemm weights, 1 for [K, N]
weights); biases become int32 initializers at scale x_scale * w_scale behind a DequantizeLinear. Activations get
a QuantizeLinear / DequantizeLinear pair with uint8 asymmetric parameters from the min-max range (widened to
include 0) observed while running the FP32 model over the calibration inputs (the given .npy batch, or N seeded
uniform [-1, 1) samples). Quantized are the graph inputs and outputs and the outputs of Conv, Gemm, MatMul, Add,
MaxPool, GlobalAveragePool, Relu, Clip and Flatten, except a value whose only consumer is a Relu or Clip (the pair
goes after the activation, so Conv+Relu and Add+Relu stay one quantized group); MaxPool and Flatten reuse their
input's parameters. The calibration interpreter covers the ops of the corpus CNNs: Conv, Relu, Clip, Add,
MaxPool, GlobalAveragePool, Flatten, Gemm, MatMul, Identity, Constant.
"""
import argparse
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

QUANTIZED_PRODUCERS = {"Conv", "Gemm", "MatMul", "Add", "MaxPool", "GlobalAveragePool", "Relu", "Clip", "Flatten"}
SHARED_PARAMETERS = {"MaxPool", "Flatten"}


def attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def conv2d(x, w, b, a):
    group = a.get("group", 1)
    kh, kw = w.shape[2], w.shape[3]
    sh, sw = a.get("strides", [1, 1])
    dh, dw = a.get("dilations", [1, 1])
    pads = a.get("pads", [0, 0, 0, 0])
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise SystemExit("make_qdq_model: auto_pad is not supported by the calibration interpreter")
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    n, c, h, wd = x.shape
    oh = (h - dh * (kh - 1) - 1) // sh + 1
    ow = (wd - dw * (kw - 1) - 1) // sw + 1
    cg, mg = c // group, w.shape[0] // group
    out = np.empty((n, w.shape[0], oh, ow), dtype=np.float32)
    for g in range(group):
        xs = x[:, g * cg:(g + 1) * cg]
        cols = np.empty((n, cg, kh, kw, oh, ow), dtype=np.float32)
        for i in range(kh):
            for j in range(kw):
                cols[:, :, i, j] = xs[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]
        wg = w[g * mg:(g + 1) * mg].reshape(mg, -1)
        out[:, g * mg:(g + 1) * mg] = np.einsum("mk,nkp->nmp", wg, cols.reshape(n, cg * kh * kw, oh * ow)).reshape(n, mg, oh, ow)
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out


def maxpool(x, a):
    kh, kw = a["kernel_shape"]
    sh, sw = a.get("strides", [1, 1])
    pads = a.get("pads", [0, 0, 0, 0])
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])), constant_values=-np.inf)
    oh = (x.shape[2] - kh) // sh + 1
    ow = (x.shape[3] - kw) // sw + 1
    out = np.full(x.shape[:2] + (oh, ow), -np.inf, dtype=np.float32)
    for i in range(kh):
        for j in range(kw):
            out = np.maximum(out, x[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw])
    return out


def run(model, feeds):
    """Runs the FP32 graph; returns every value by name."""
    env = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    env.update(feeds)
    for node in model.graph.node:
        a = attrs(node)
        x = [env[i] if i else None for i in node.input]
        op = node.op_type
        if op == "Constant":
            y = numpy_helper.to_array(a["value"])
        elif op == "Identity":
            y = x[0]
        elif op == "Conv":
            y = conv2d(x[0], x[1], x[2] if len(x) > 2 else None, a)
        elif op == "Relu":
            y = np.maximum(x[0], 0)
        elif op == "Clip":
            lo = x[1] if len(x) > 1 and x[1] is not None else a.get("min", -np.inf)
            hi = x[2] if len(x) > 2 and x[2] is not None else a.get("max", np.inf)
            y = np.clip(x[0], lo, hi)
        elif op == "Add":
            y = x[0] + x[1]
        elif op == "MaxPool":
            y = maxpool(x[0], a)
        elif op == "GlobalAveragePool":
            y = x[0].mean(axis=(2, 3), keepdims=True)
        elif op == "Flatten":
            axis = a.get("axis", 1)
            y = x[0].reshape(int(np.prod(x[0].shape[:axis])), -1)
        elif op == "Gemm":
            A = x[0].T if a.get("transA", 0) else x[0]
            B = x[1].T if a.get("transB", 0) else x[1]
            y = a.get("alpha", 1.0) * (A @ B)
            if len(x) > 2 and x[2] is not None:
                y = y + a.get("beta", 1.0) * x[2]
        elif op == "MatMul":
            y = x[0] @ x[1]
        else:
            raise SystemExit(f"make_qdq_model: the calibration interpreter does not support {op} (node '{node.name}')")
        env[node.output[0]] = np.asarray(y, dtype=np.float32) if np.asarray(y).dtype.kind == "f" else np.asarray(y)
    return env


def activation_parameters(lo, hi):
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = np.float32((hi - lo) / 255.0) if hi > lo else np.float32(1.0)
    zero_point = int(np.clip(np.round(-lo / scale), 0, 255))
    return scale, zero_point


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model")
    p.add_argument("output")
    p.add_argument("--calib", help=".npy batch of calibration inputs for the (single) graph input")
    p.add_argument("--samples", type=int, default=4, help="random calibration samples when no --calib is given")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    model = onnx.load(args.model)
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    # Identity copies of initializers (torch export shares weights that way): use the initializer itself.
    alias = {n.output[0]: n.input[0] for n in g.node if n.op_type == "Identity" and n.input[0] in inits}
    if alias:
        kept_nodes = [n for n in g.node if n.output[0] not in alias]
        for n in kept_nodes:
            n.input[:] = [alias.get(i, i) for i in n.input]
        del g.node[:]
        g.node.extend(kept_nodes)
    inputs = [i for i in g.input if i.name not in inits]
    if len(inputs) != 1:
        raise SystemExit(f"make_qdq_model: {args.model} has {len(inputs)} graph inputs, one is supported")
    shape = [d.dim_value if d.dim_value > 0 else 1 for d in inputs[0].type.tensor_type.shape.dim]
    if args.calib:
        data = np.load(args.calib).astype(np.float32)
        if list(data.shape[1:]) != shape[1:]:
            raise SystemExit(f"make_qdq_model: calibration data {data.shape} does not match input {shape}")
    else:
        rng = np.random.default_rng(args.seed)
        data = rng.uniform(-1, 1, size=[args.samples] + shape[1:]).astype(np.float32)

    ranges = {}
    for i in range(0, len(data), 2):
        env = run(model, {inputs[0].name: data[i:i + 2]})
        for name, v in env.items():
            if name in inits or not isinstance(v, np.ndarray) or v.dtype != np.float32 or v.size == 0:
                continue
            lo, hi = float(v.min()), float(v.max())
            old = ranges.get(name)
            ranges[name] = (lo, hi) if old is None else (min(old[0], lo), max(old[1], hi))

    consumers = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    producer = {o: n for n in g.node for o in n.output}
    outputs = {o.name for o in g.output}

    def quantized(name):
        users = consumers.get(name, [])
        if len(users) == 1 and users[0].op_type in ("Relu", "Clip") and name not in outputs:
            return False
        return name == inputs[0].name or name in outputs or (name in producer and producer[name].op_type in QUANTIZED_PRODUCERS)

    new_inits, new_nodes, params = [], [], {}

    def parameters_of(name):
        if name in params:
            return params[name]
        src = producer.get(name)
        if src is not None and src.op_type in SHARED_PARAMETERS and src.input[0] in params:
            params[name] = params[src.input[0]]
        else:
            lo, hi = ranges[name]
            s, z = activation_parameters(lo, hi)
            params[name] = (f"{name}_scale", f"{name}_zero_point")
            new_inits.append(numpy_helper.from_array(np.array(s, dtype=np.float32), params[name][0]))
            new_inits.append(numpy_helper.from_array(np.array(z, dtype=np.uint8), params[name][1]))
        return params[name]

    def scale_value(name):
        return next(numpy_helper.to_array(i) for i in new_inits if i.name == params[name][0])

    renamed = {}  # float value -> its dequantized copy

    def internal(name):
        # A quantized graph output is computed under another name; its DequantizeLinear produces the output.
        return name + "_float" if name in outputs and quantized(name) else name

    def qdq(name):
        s, z = parameters_of(name)
        q = f"{name}_quantized"
        dq = name if name in outputs else f"{name}_dequantized"
        new_nodes.append(helper.make_node("QuantizeLinear", [internal(name), s, z], [q], name=f"{name}_QuantizeLinear"))
        new_nodes.append(helper.make_node("DequantizeLinear", [q, s, z], [dq], name=f"{name}_DequantizeLinear"))
        renamed[name] = dq

    replaced = set()
    if quantized(inputs[0].name):
        qdq(inputs[0].name)
    for n in g.node:
        ins = [renamed.get(i, i) for i in n.input]
        if n.op_type in ("Conv", "Gemm", "MatMul") and len(n.input) > 1 and n.input[1] in inits:
            a = attrs(n)
            w = numpy_helper.to_array(inits[n.input[1]]).astype(np.float32)
            axis = 1 if (n.op_type == "MatMul" or (n.op_type == "Gemm" and not a.get("transB", 0))) else 0
            moved = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)
            ws = (np.abs(moved).max(axis=1) / 127.0).astype(np.float32)
            ws[ws == 0] = 1.0
            shape_ = [1] * w.ndim
            shape_[axis] = -1
            wq = np.clip(np.round(w / ws.reshape(shape_)), -127, 127).astype(np.int8)
            wname = n.input[1]
            wkey = f"{n.output[0]}_{wname}"
            new_inits += [numpy_helper.from_array(wq, f"{wkey}_int8"), numpy_helper.from_array(ws, f"{wkey}_scale"),
                          numpy_helper.from_array(np.zeros(len(ws), dtype=np.int8), f"{wkey}_zero_point")]
            new_nodes.append(helper.make_node("DequantizeLinear", [f"{wkey}_int8", f"{wkey}_scale", f"{wkey}_zero_point"],
                                              [f"{wkey}_dequantized"], name=f"{wkey}_DequantizeLinear", axis=axis))
            ins[1] = f"{wkey}_dequantized"
            replaced.add(wname)
            if len(n.input) > 2 and n.input[2] in inits and n.input[0] in params:
                b = numpy_helper.to_array(inits[n.input[2]]).astype(np.float32).reshape(-1)
                bs = (np.float32(scale_value(n.input[0])) * ws).astype(np.float32)
                bq = np.round(b / bs).astype(np.int32)
                bname = n.input[2]
                bkey = f"{n.output[0]}_{bname}"
                new_inits += [numpy_helper.from_array(bq, f"{bkey}_int32"), numpy_helper.from_array(bs, f"{bkey}_scale")]
                new_nodes.append(helper.make_node("DequantizeLinear", [f"{bkey}_int32", f"{bkey}_scale"], [f"{bkey}_dequantized"],
                                                  name=f"{bkey}_DequantizeLinear", axis=0))
                ins[2] = f"{bkey}_dequantized"
                replaced.add(bname)
        out = helper.make_node(n.op_type, ins, [internal(o) if o in ranges else o for o in n.output], name=n.name, domain=n.domain)
        out.attribute.extend(n.attribute)
        new_nodes.append(out)
        for o in n.output:
            if o in ranges and quantized(o):
                qdq(o)

    still_used = {i for n in new_nodes for i in n.input}
    kept = [i for i in g.initializer if i.name not in replaced or i.name in still_used]
    del g.node[:]
    g.node.extend(new_nodes)
    del g.initializer[:]
    g.initializer.extend(kept + new_inits)
    del g.value_info[:]
    model = onnx.shape_inference.infer_shapes(model)
    onnx.checker.check_model(model)
    onnx.save(model, args.output)
    counts = {}
    for n in model.graph.node:
        counts[n.op_type] = counts.get(n.op_type, 0) + 1
    print(f"{args.output}: {sum(counts.values())} nodes {dict(sorted(counts.items()))}")


if __name__ == "__main__":
    sys.exit(main())
