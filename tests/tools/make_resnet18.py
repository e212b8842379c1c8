#!/usr/bin/env python3
"""Exports torchvision's full-width resnet18 with seeded random weights to ONNX (opset 13, batch 1, float32
input "input" [1,3,224,224], output "output" [1,1000]) as .deps/models/resnet18.onnx under the repository,
unless that file already exists. The model benchmark (tests/Alloy.Benchmarks/ModelBenchmark.cs) runs it when
present. Needs torch and torchvision (Debian: python3-torchvision, installed by scripts/setup-test-deps.sh).

usage: /usr/bin/python3 tests/tools/make_resnet18.py [--force] [--out PATH]
"""
import argparse
import os
import sys


def main() -> int:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(root, ".deps", "models", "resnet18.onnx"))
    parser.add_argument("--force", action="store_true", help="export even when the file exists")
    args = parser.parse_args()
    if os.path.exists(args.out) and not args.force:
        print(f"{args.out} exists")
        return 0

    import torch
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None)  # random init, seeded above
    model.eval()
    x = torch.randn(1, 3, 224, 224)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    tmp = args.out + ".tmp"
    with torch.no_grad():
        torch.onnx.export(model, x, tmp, opset_version=13, input_names=["input"], output_names=["output"],
                          do_constant_folding=True)
    os.replace(tmp, args.out)
    print(f"wrote {args.out} (torch {torch.__version__}, torchvision {torchvision.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
