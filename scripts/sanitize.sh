#!/usr/bin/env bash
# The whole C++ test suite under AddressSanitizer + UndefinedBehaviorSanitizer (CMake preset "asan").
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --preset asan >/dev/null
cmake --build --preset asan -j"$(nproc)"
export GRAPHCACHE_UNDER_SANITIZER=1  # tests may shrink their largest inputs (ASan is ~3x slower)
ctest --preset asan -j"$(nproc)"
