#!/usr/bin/env bash
# Installs everything graphcache needs on a fresh Debian 12 machine (run as root). Idempotent and quick
# when everything is already there. Versions are pinned where the registry allows (PyPI); Debian
# packages are pinned by the release (bookworm).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake pkg-config ccache git clang clang-format libclang-rt-14-dev
  libonnx-dev libonnx-testdata libprotobuf-dev protobuf-compiler
  libssl-dev libxxhash-dev xxhash libzstd-dev libhiredis-dev redis-server redis-tools
  libcli11-dev nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev pybind11-dev
  robin-map-dev
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python: a project venv with pinned packages (torch is the CPU build that pip finds on local disk).
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -r python/requirements-dev.txt
# Torch-TensorRT without its CUDA/TensorRT dependencies (the tests stand in for tensorrt).
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -r python/requirements-trt.txt
.venv/bin/python -m pip install -q --disable-pip-version-check -r python/requirements-test-hf.txt  # export-cache oracle
.venv/bin/python -m pip install -q --disable-pip-version-check --no-build-isolation -e .  # graphcache + C++ extension (incremental: build-wheel/)
