#!/usr/bin/env bash
# The main job on the bundled default: set up, train models/default if it is missing,
# score the sample corpus and print a summary of who speaks and with what stance.
set -euo pipefail
cd "$(dirname "$0")"
bash setup.sh
if [ ! -f models/default/model.safetensors ]; then
  .venv/bin/sourcestance train --config configs/default.yaml --output models/default
fi
.venv/bin/sourcestance score --model models/default --input data/sample.jsonl \
  --output out/sample.scored.jsonl --overwrite
