#!/usr/bin/env bash
# The main job, on a fresh machine: set up, build, and rank the built-in example users'
# candidates with the default backbone (SmolLM2-135M-Instruct), printing each ranking.
# Usage: bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "[demo] building alro (release)"
cargo build --release --locked -p alro-trainer
echo "[demo] ranking examples/requests.jsonl with the default backbone"
./target/release/alro rank --input examples/requests.jsonl --format text
