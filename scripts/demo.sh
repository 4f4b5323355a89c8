#!/usr/bin/env bash
# The main job, on a fresh machine: set up the default ranker (SmolLM2-135M fine-tuned with ALRO,
# models/README.md), rank the built-in example users' candidates, then show that it works: rank
# held-out users' real next candidates of MovieLens latest-small (vendored; never seen in
# training), mark the films each went on to rate, and print the ranker's NDCG@10 beside
# popularity's for those users.
# Usage: bash scripts/demo.sh            (ALRO_DEMO_USERS=N changes the number of users, default 8)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --demo
echo "[demo] building alro (release)"
cargo build --release --locked -p alro-trainer
RANKER=.cache/models/alro-ranker.q8_0.gguf
[ -f "$RANKER" ] || RANKER=.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf
echo "[demo] ranking examples/requests.jsonl with $RANKER (notes computed from models/items-ml-latest-small.json)"
./target/release/alro rank --model "$RANKER" --input examples/requests.jsonl --format text
USERS=${ALRO_DEMO_USERS:-8}
echo
echo "[demo] does it rank well? $USERS held-out users of MovieLens latest-small: their last 5 ratings"
echo "       hidden among 15 films they never rated; ★ = a film they rated 4 or 5, ☆ = rated below 4"
./target/release/alro eval --dataset ml-latest-small --model "$RANKER" --llm \
  --baseline popularity --limit "$USERS" --show "$USERS"
