#!/usr/bin/env bash
# Rebuilds the release adapter models/ranker/adapter.safetensors from public MovieLens 100K, in
# resumable pieces: run it again after an interruption (or with ALRO_PIECE_MINUTES set) and it
# continues where it stopped — each stage is `alro train ... --resume` once its run folder holds a
# checkpoint. About 1.8 CPU-hours on 2 cores (stage 1 ~25 min, stage 2 ~80 min; models/README.md).
#
# Usage: bash models/recipe/rebuild.sh [ML-100K folder, default ../shared/data/ml-100k]
# Env:   ALRO_WORK (scratch folder, default .cache/release-run), ALRO_PIECE_MINUTES (stop each
#        training call cleanly after this many minutes; run the script again to continue).
set -euo pipefail
cd "$(dirname "$0")/../.."
ML100K=${1:-../shared/data/ml-100k}
WORK=${ALRO_WORK:-.cache/release-run}
ALRO=./target/release/alro
say() { printf '[rebuild] %s\n' "$*"; }
[ -x "$ALRO" ] || cargo build --release --locked -p alro-trainer
mkdir -p "$WORK"

# Lists: training on 6 candidates with 2 rated ones (cheap prompts), validation on the 20 the
# ranker serves; similarity notes in 7 tiers on both.
if [ ! -f "$WORK/m6/train.jsonl" ]; then
  $ALRO data prepare --dataset ml-100k --path "$ML100K" --candidates 6 --positives 2 \
    --similarity-tiers 7 --out "$WORK/m6"
fi
if [ ! -f "$WORK/m20/validation.jsonl" ]; then
  $ALRO data prepare --dataset ml-100k --path "$ML100K" --similarity-tiers 7 --out "$WORK/m20"
fi
# Stage 1 lists: three candidates of different similarity tiers, target = the note order.
if [ ! -f "$WORK/stage1/train.jsonl" ]; then
  python3 scripts/tier_sanity_lists.py "$WORK/m6" "$WORK/stage1" --note similarity \
    --candidates 3 --train-sample 3000
fi
# Stage 2 lists: the real m = 6 training lists, validated on m = 20 lists.
mkdir -p "$WORK/stage2"
cp "$WORK/m6/train.jsonl" "$WORK/m6/manifest.json" "$WORK/stage2/"
cp "$WORK/m20/validation.jsonl" "$WORK/stage2/"

piece=()
[ -n "${ALRO_PIECE_MINUTES:-}" ] && piece=(--time-limit "$ALRO_PIECE_MINUTES")
resume_flag() { if [ -f "$1/last.safetensors" ]; then echo --resume; fi; }

train_stage() { # name, data, config, preset, extra args...
  local name=$1 data=$2 config=$3 preset=$4; shift 4
  local out="$WORK/runs/$name" resume
  if [ -f "$out/done" ]; then say "$name: finished"; return; fi
  resume=$(resume_flag "$out")
  mkdir -p "$WORK/runs"
  say "$name: training${resume:+ (resuming)}"
  $ALRO train --data "$data" --config "$config" --preset "$preset" --out "$out" \
    $resume "${piece[@]}" "$@" | tee "$out.log"
  if grep -q '^done:' "$out.log"; then touch "$out/done"; else
    say "$name stopped by the time limit: run this script again to continue"; exit 0; fi
}

train_stage stage1 "$WORK/stage1" models/recipe/stage1-note-order.toml sft
train_stage stage2 "$WORK/stage2" models/recipe/stage2-alro.toml alro \
  --init-adapter "$WORK/runs/stage1/best.safetensors"

$ALRO export --checkpoint "$WORK/runs/stage2" --adapter-f16 models/ranker/adapter.safetensors
say "wrote models/ranker/adapter.safetensors; bash scripts/setup.sh rebuilds the default ranker"
