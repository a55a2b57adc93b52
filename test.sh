#!/usr/bin/env bash
# Set up and run the tests (and the linter). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
bash setup.sh
.venv/bin/ruff check .
.venv/bin/python -m pytest "$@"
