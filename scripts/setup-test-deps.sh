#!/usr/bin/env bash
# Installs what the tests need, idempotently: the ONNX backend conformance data, the ONNX checker, and
# ONNX Runtime (the reference peer of the differential tests; its CPU library ships inside the npm package
# onnxruntime-node, installed under .deps/ without running its install script).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
need=()
[ -d /usr/share/libonnx-testdata/data/node ] || need+=(libonnx-testdata)
/usr/bin/python3 -c 'import onnx, numpy' 2>/dev/null || need+=(python3-onnx python3-numpy)
# torchvision exports the full-width resnet18 the model benchmark runs (tests/tools/make_resnet18.py).
/usr/bin/python3 -c 'import torchvision' 2>/dev/null || need+=(python3-torchvision)
# The TorchScript frontend tests run archives made by Debian's torch (tests/tools/make_torchscript_fixtures.py).
/usr/bin/python3 -c 'import torch' 2>/dev/null || need+=(python3-torch)
command -v npm >/dev/null 2>&1 || need+=(npm)
# oneDNN 2.x (libdnnl.so.2): the oneDNN kernel tests and `--kernels onednn` (runtime/Alloy.Runtime.OneDnn).
dpkg-query -W -f='${Status}' libdnnl2 2>/dev/null | grep -q "install ok installed" || need+=(libdnnl2)
# Headless Chromium renders the tuning report (tests/Alloy.Tuning.Tests/ReportRenderingTests.cs).
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

# ONNX Runtime for linux-x64. The tests find the library through ALLOY_ORT_LIB, else under .deps/onnxruntime.
ort_version=1.30.0
ort_prefix="$root/.deps/onnxruntime"
ort_pkg="$ort_prefix/node_modules/onnxruntime-node"
find_ort_lib() {
  [ -d "$ort_pkg/bin" ] || return 0
  { find "$ort_pkg/bin" -path '*/linux/x64/libonnxruntime.so.1*' \( -type f -o -type l \) 2>/dev/null || true; } | sort | sed -n 1p
}
installed_version=""
[ -f "$ort_pkg/package.json" ] && installed_version="$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$ort_pkg/package.json" | sed -n 1p)"
if [ "$installed_version" != "$ort_version" ] || [ -z "$(find_ort_lib)" ]; then
  mkdir -p "$ort_prefix"
  npm install --ignore-scripts --no-audit --no-fund --prefix "$ort_prefix" "onnxruntime-node@$ort_version" >/dev/null
fi
ort_lib="$(find_ort_lib)"
if [ -z "$ort_lib" ]; then
  echo "setup-test-deps: onnxruntime-node@$ort_version has no linux/x64 libonnxruntime.so.1* under $ort_pkg/bin" >&2
  exit 1
fi
echo "ONNX Runtime $ort_version: $ort_lib"

# TorchScript fixtures (torchvision resnet18 / mobilenet_v2, nn.TransformerEncoder) with torch's reference outputs;
# a no-op when they are up to date.
/usr/bin/python3 "$root/tests/tools/make_torchscript_fixtures.py" "$root/.deps/torchscript"

# The full-width torchvision resnet18 the model benchmark runs (written once; skipped when it exists).
if [ ! -f "$root/.deps/models/resnet18.onnx" ]; then
  /usr/bin/python3 "$root/tests/tools/make_resnet18.py"
fi
