#!/usr/bin/env bash
# Builds onnx_key_bench, writes a model with SIZE_MB (default 1024) of embedded initializers to a temp
# folder and prints key time vs read-the-file time side by side. Usage: bench/onnx/run.sh [BUILD_DIR]
set -euo pipefail
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then
  echo "usage: bench/onnx/run.sh [BUILD_DIR]   (env SIZE_MB, default 1024: the model's initializer bytes)"
  exit 0
fi
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
cmake -S "$root" -B "$build" >/dev/null
cmake --build "$build" -j2 --target onnx_key_bench >/dev/null
tmp="$(mktemp -d "${TMPDIR:-/tmp}/graphcache_onnx_bench.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
"$build/bench/onnx/onnx_key_bench" "$tmp/big_model.onnx" "${SIZE_MB:-1024}"
