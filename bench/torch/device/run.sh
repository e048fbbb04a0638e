#!/usr/bin/env bash
# Run THERE (the GPU machine, through the device tool, carrying .devroot made by pack.sh), from the
# repository root: builds the graphcache extension for that machine's Python with the CUDA weight
# fingerprint (GRAPHCACHE_DEVICE_CUDA=OFF: without it, a quicker build for key-only runs), then runs the
# given command with it importable. Results go to $OUT (or /tmp/out).
#   bash bench/torch/device/run.sh python3 bench/torch/aoti_e2e_bench.py --layers 4 32
set -euo pipefail
cd "$(dirname "$0")/../../.."
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
ROOT=/tmp/graphcache-devroot
BUILD=/tmp/graphcache-device-build
mkdir -p "$ROOT"
for deb in .devroot/debs/*.deb; do dpkg -x "$deb" "$ROOT"; done
LIBDIR=$ROOT/usr/lib/x86_64-linux-gnu
# pkg-config from the carried packages, finding only the carried .pc files, paths under the prefix.
cat >"$ROOT/pkg-config" <<WRAP
#!/bin/sh
LD_LIBRARY_PATH=$LIBDIR PKG_CONFIG_SYSROOT_DIR=$ROOT PKG_CONFIG_LIBDIR=$LIBDIR/pkgconfig:$ROOT/usr/share/pkgconfig exec $ROOT/usr/bin/pkgconf "\$@"
WRAP
chmod +x "$ROOT/pkg-config"
rm -f "$BUILD/CMakeCache.txt"  # the carried prefix may have changed since the last run
start=$(date +%s)
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGRAPHCACHE_PYTHON=ON -DGRAPHCACHE_ONNX=OFF \
  -DGRAPHCACHE_BUILD_TESTS=OFF -DGRAPHCACHE_BUILD_BENCH=OFF -DGRAPHCACHE_BUILD_CLI=OFF -DGRAPHCACHE_WERROR=OFF \
  -DGRAPHCACHE_CUDA=${GRAPHCACHE_DEVICE_CUDA:-ON} -DCMAKE_CUDA_ARCHITECTURES=90 -DPKG_CONFIG_EXECUTABLE="$ROOT/pkg-config" \
  -DOPENSSL_ROOT_DIR="$ROOT/usr" -DCMAKE_PREFIX_PATH="$ROOT/usr" -DPython_EXECUTABLE="$(command -v python3)" \
  >"$OUT/build.log" 2>&1 || { tail -40 "$OUT/build.log"; exit 1; }
cmake --build "$BUILD" --target graphcache_python_core -j"$(nproc)" >>"$OUT/build.log" 2>&1 ||
  { tail -40 "$OUT/build.log"; exit 1; }
echo "device: extension built in $(( $(date +%s) - start )) s"
export PYTHONPATH=$BUILD/python${PYTHONPATH:+:$PYTHONPATH}
export LD_LIBRARY_PATH=$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
python3 -c "import graphcache, graphcache._core as c; print('device: graphcache from', c.__file__)"
export PYTHONUNBUFFERED=1
if (($#)); then "$@"; fi
