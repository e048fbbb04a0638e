#!/usr/bin/env bash
# The main job on the bundled default model (models/tiny_cnn.onnx): set up, build, then show the key,
# a rename/reorder that keeps it, and the operand swap that a name-only key would miss.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh >/dev/null
GC=build/src/cli/graphcache
MODEL=${1:-models/tiny_cnn.onnx}

echo "== graphcache key --json $MODEL"
"$GC" key --json "$MODEL" --setting precision=fp16 --toolchain tensorrt=10.3 --toolchain gpu=sm_90
echo
echo "== renamed + reordered copy: same key"
"$GC" diff "$MODEL" models/tiny_cnn_renamed.onnx
echo
echo "== Sub operands swapped: different key, and why"
"$GC" diff "$MODEL" models/tiny_cnn_swapped.onnx || true
