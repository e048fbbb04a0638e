#!/usr/bin/env bash
# The main job on the bundled default model (models/tiny_cnn.onnx), then the PyTorch scenario:
#  1. the ONNX key (weights never read), a rename/reorder that keeps it, the operand swap that an
#     op_target-string key would miss, and why;
#  2. the AOTInductor round trip: compile a weight-stripped engine on a miss, then in a new process with
#     new weights: hit, load, refit, outputs checked against eager PyTorch.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh >/dev/null
GC=build/src/cli/graphcache
MODEL=${1:-models/tiny_cnn.onnx}

echo "== graphcache key --json --weights $MODEL"
"$GC" key --json --weights "$MODEL" --setting precision=fp16 --toolchain tensorrt=10.3 --toolchain gpu=sm_90
echo
echo "== renamed + reordered copy: same key"
"$GC" diff "$MODEL" models/tiny_cnn_renamed.onnx
echo
echo "== Sub operands swapped: different key, and why"
"$GC" diff "$MODEL" models/tiny_cnn_swapped.onnx || true
echo
echo "== AOTInductor round trip through the cache (python -m graphcache.demo)"
.venv/bin/python -m graphcache.demo
