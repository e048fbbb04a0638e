#!/usr/bin/env bash
# Run HERE (the Debian build machine), from the repository root: puts what the GPU machine lacks into
# .devroot/ (git-ignored) so that a device `run` can carry it. That machine has Python 3.12, torch,
# CMake, ninja, pybind11, scikit-build-core, g++ and nvcc, but not the C libraries the extension links
# (xxhash, zstd headers, hiredis, OpenSSL headers, nlohmann-json, pkg-config), and it reaches no registry.
# Debian bookworm's packages are carried as .debs and unpacked into a private prefix there (never /).
set -euo pipefail
cd "$(dirname "$0")/../../.."
PACKAGES=(libxxhash-dev libxxhash0 libzstd-dev libzstd1 libhiredis-dev libhiredis0.14 libssl-dev libssl3
          nlohmann-json3-dev pkgconf pkgconf-bin libpkgconf3)
mkdir -p .devroot/debs
cd .devroot/debs
missing=()
for p in "${PACKAGES[@]}"; do ls "${p}"_*.deb >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  apt-get download "${missing[@]}" 2>/dev/null
fi
ls -1 | sed 's/^/pack: /'
echo "pack: $(du -sh . | cut -f1) in .devroot/debs; now call the device tool with carry [\".devroot\"] and"
echo "      command: bash bench/torch/device/run.sh [bench args]"
