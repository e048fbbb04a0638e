#!/usr/bin/env bash
# Every test: sets up the machine, builds, runs the C++ suite (ctest), the Python suite (pytest) and the
# READMEs' code blocks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
status=0
(cd build && ctest --output-on-failure -j"$(nproc)") || status=1
if [ -d tests/python ]; then
  .venv/bin/python -m pytest -q tests/python tests/hardening tests/frontends/onnx || status=1
fi
# The READMEs' shell and Python blocks, run as a reader would (scripts/readme_snippets.py).
.venv/bin/python scripts/readme_snippets.py || status=1
exit $status
