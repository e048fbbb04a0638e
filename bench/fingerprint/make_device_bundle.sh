#!/usr/bin/env bash
# Builds the fingerprint tests and benchmarks with CUDA (sm_90) and gathers them, with the shared
# libraries the device machine's image lacks (libxxhash, OpenSSL's libcrypto) and xxhsum, into
# $BUILD_DIR/device: a folder that runs on a bare GPU machine with
#   cd device && LD_LIBRARY_PATH=$PWD/lib PATH=$PWD/bin:$PATH ./test_fingerprint_cuda && ./bench_fingerprint_gpu
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${BUILD_DIR:-build-fp}
targets=(test_xxh3_port test_fingerprint_cpu test_fingerprint_cuda bench_fingerprint_cpu bench_fingerprint_gpu)
cmake -S . -B "$BUILD_DIR" -DGRAPHCACHE_CUDA=ON >/dev/null
cmake --build "$BUILD_DIR" -j2 --target "${targets[@]}"
bundle="$BUILD_DIR/device"
rm -rf "$bundle" && mkdir -p "$bundle/lib" "$bundle/bin"
for t in "${targets[@]}"; do cp "$(find "$BUILD_DIR" -type f -name "$t" -perm -u+x | head -1)" "$bundle/"; done
strip "$bundle"/test_* "$bundle"/bench_*
cp -L /usr/lib/x86_64-linux-gnu/libxxhash.so.0 /usr/lib/x86_64-linux-gnu/libcrypto.so.3 "$bundle/lib/"
cp "$(command -v xxhsum)" "$bundle/bin/"
du -sh "$bundle"
