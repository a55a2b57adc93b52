#!/usr/bin/env bash
# Create .venv and install sourcestance with its dependencies (CPU torch first, so pip
# does not pull a multi-GB CUDA build). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# TORCH_SPEC picks another torch build (e.g. a CUDA one on a GPU machine).
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  .venv/bin/python -m pip install -q "${TORCH_SPEC:-torch==2.13.0}"
fi
.venv/bin/python -m pip install -q -e ".[dev]"
