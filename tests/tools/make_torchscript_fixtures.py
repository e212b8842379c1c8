#!/usr/bin/python3
"""TorchScript fixtures for Alloy's TorchScript frontend tests.

Writes, into the folder given as the only argument (default: .deps/torchscript):

    alloy_ts_resnet18.{traced,scripted}.pt      torchvision resnet18, torch.jit.trace and torch.jit.script
    alloy_ts_mobilenet_v2.{traced,scripted}.pt  torchvision mobilenet_v2, torch.jit.trace and torch.jit.script
    alloy_ts_transformer_encoder.{traced,scripted}.pt  nn.TransformerEncoder (2 layers, d_model 64, 4 heads, batch_first)
    <stem>.input_0.npy, <stem>.output_0.npy the seeded reference input and the archive's own output

Weights are random with a fixed seed; inputs are small (1x3x64x64 images, 2x10x64 sequences) so the files
and the tests stay quick. Run with Debian's interpreter (/usr/bin/python3, python3-torch 1.13 and
python3-torchvision 0.14). Every file is written under a temporary name and renamed into place, so
concurrent runs never see half-written files; a stamp file with this script's SHA-256 makes reruns no-ops.
"""
import hashlib
import os
import sys
import tempfile

import numpy as np
import torch
import torchvision

SEED = 20260522


def atomic_write(path, write):
    folder = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-" + os.path.basename(path) + "-", dir=folder)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_npy(path, array):
    def write(tmp):
        with open(tmp, "wb") as f:
            np.save(f, array)
    atomic_write(path, write)


def export(folder, stem, module, example, script=False):
    module.eval()
    saved = torch.jit.script(module) if script else torch.jit.trace(module, (example,), check_trace=False)
    pt = os.path.join(folder, stem + ".pt")
    atomic_write(pt, lambda tmp: torch.jit.save(saved, tmp))
    # The reference is what the saved archive itself computes.
    loaded = torch.jit.load(pt)
    with torch.no_grad():
        out = loaded(example)
    save_npy(os.path.join(folder, stem + ".input_0.npy"), example.numpy())
    save_npy(os.path.join(folder, stem + ".output_0.npy"), out.detach().numpy())
    print(f"wrote {pt} ({os.path.getsize(pt)} bytes), output {tuple(out.shape)}")


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", ".deps", "torchscript")
    folder = os.path.abspath(folder)
    os.makedirs(folder, exist_ok=True)
    with open(__file__, "rb") as f:
        digest = hashlib.sha256(f.read() + torch.__version__.encode()).hexdigest()
    stamp = os.path.join(folder, "alloy_ts_fixtures.sha256")
    if os.path.exists(stamp) and open(stamp).read().strip() == digest:
        print(f"TorchScript fixtures in {folder} are up to date")
        return
    torch.manual_seed(SEED)
    torch.set_num_threads(1)

    torch.manual_seed(SEED)
    resnet = torchvision.models.resnet18(weights=None)
    image = torch.randn(1, 3, 64, 64)
    export(folder, "alloy_ts_resnet18.traced", resnet, image)
    export(folder, "alloy_ts_resnet18.scripted", resnet, image, script=True)

    torch.manual_seed(SEED + 1)
    mobilenet = torchvision.models.mobilenet_v2(weights=None)
    # Random BN statistics so the normalisation is not the identity.
    for m in mobilenet.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    image = torch.randn(1, 3, 64, 64)
    export(folder, "alloy_ts_mobilenet_v2.traced", mobilenet, image)
    export(folder, "alloy_ts_mobilenet_v2.scripted", mobilenet, image, script=True)

    torch.manual_seed(SEED + 2)
    layer = torch.nn.TransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=128, dropout=0.1, batch_first=True)
    encoder = torch.nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
    # Traced with autograd on, so the encoder takes its composite path (not the fused inference kernel).
    sequence = torch.randn(2, 10, 64)
    export(folder, "alloy_ts_transformer_encoder.traced", encoder, sequence)
    export(folder, "alloy_ts_transformer_encoder.scripted", encoder, sequence, script=True)

    atomic_write(stamp, lambda tmp: open(tmp, "w").write(digest + "\n"))


if __name__ == "__main__":
    main()
