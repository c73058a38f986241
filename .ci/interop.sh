#!/usr/bin/env bash
# Runs docs/interop.md's Python blocks, in order, against files the tools make: a network
# trained by `mnist`, converted to .safetensors, .npz and .onnx, and batchprop's own outputs on
# the test images (predict --outputs). Usage: .ci/interop.sh PYTHON (with numpy, safetensors
# and onnxruntime installed).
set -euo pipefail
cd "$(dirname "$0")/.."
python=$1
bin=target/debug/examples
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build -q --examples
"$bin/mnist" --sizes 784,30,10 --epochs 2 --save "$work/net.json" >/dev/null
for ext in safetensors npz onnx; do
    "$bin/convert" "$work/net.json" "$work/net.$ext"
done
"$bin/predict" "$work/net.safetensors" --show 0 --outputs "$work/outputs.npy" >/dev/null
"$bin/predict" "$work/net.safetensors" --show 0 --dtype f32 --outputs "$work/outputs32.npy" >/dev/null
ln -s "$PWD/data" "$work/data"
"$python" - docs/interop.md >"$work/blocks.py" <<'PY'
import re, sys
print("\n".join(re.findall(r"```python\n(.*?)```", open(sys.argv[1]).read(), re.S)))
PY
(cd "$work" && "$python" blocks.py)
