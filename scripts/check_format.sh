#!/usr/bin/env bash
# Fails when a tracked C++/CUDA file differs from .clang-format's layout.
set -euo pipefail
cd "$(dirname "$0")/.."
git ls-files -z '*.cpp' '*.hpp' '*.cu' | xargs -0 clang-format --dry-run -Werror
echo "clang-format: $(git ls-files '*.cpp' '*.hpp' '*.cu' | wc -l) files clean"
