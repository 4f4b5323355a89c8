#!/usr/bin/env bash
# Rebuilds the release adapter models/ranker/adapter.safetensors from public MovieLens 100K, in
# resumable pieces: run it again after an interruption (or with ALRO_PIECE_MINUTES set) and it
# continues where it stopped — each stage is `alro train ... --resume` once its run folder holds a
# checkpoint. About 5 CPU-hours on 2 cores (stage 1 ~10 min, stages 2, 3 and 4 ~45–80 min each,
# stages 5 and 6 ~30–40 min each; models/README.md).
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

# Lists: the protocol's 20-candidate lists (history 10, 5 rated) with similarity notes in 20
# tiers of 1/40 cosine.
if [ ! -f "$WORK/m20/train.jsonl" ]; then
  $ALRO data prepare --dataset ml-100k --path "$ML100K" --similarity-tiers 20 \
    --similarity-steps 40 --out "$WORK/m20"
fi
# Stage 1 lists: the same lists with the note order as their target (2,000 training lists).
if [ ! -f "$WORK/stage1/train.jsonl" ]; then
  python3 scripts/tier_sanity_lists.py "$WORK/m20" "$WORK/stage1" --note similarity \
    --train-sample 2000
fi

piece=()
[ -n "${ALRO_PIECE_MINUTES:-}" ] && piece=(--time-limit "$ALRO_PIECE_MINUTES")
resume_flag() { if [ -f "$1/last.safetensors" ]; then echo --resume; fi; }

train_stage() { # name, data, config, extra args...
  local name=$1 data=$2 config=$3; shift 3
  local out="$WORK/runs/$name" resume
  if [ -f "$out/done" ]; then say "$name: finished"; return; fi
  resume=$(resume_flag "$out")
  mkdir -p "$WORK/runs"
  say "$name: training${resume:+ (resuming)}"
  $ALRO train --data "$data" --config "$config" --out "$out" $resume "${piece[@]}" "$@" \
    | tee "$out.log"
  if grep -q -e '^done:' -e '(--stop-at-step)' "$out.log"; then touch "$out/done"; else
    say "$name stopped by the time limit: run this script again to continue"; exit 0; fi
}

train_stage stage1 "$WORK/stage1" models/recipe/stage1-note-order.toml --stop-at-step 25
train_stage stage2 "$WORK/m20" models/recipe/stage2-listwise.toml \
  --init-adapter "$WORK/runs/stage1/best.safetensors"
train_stage stage3 "$WORK/m20" models/recipe/stage3-fresh-lists.toml \
  --init-adapter "$WORK/runs/stage2/last.safetensors"

# Stage 4 starts from stage 3's end as it shipped (the f16 adapter), as it was trained.
[ -f "$WORK/stage3-adapter.safetensors" ] ||
  $ALRO export --checkpoint "$WORK/runs/stage3/last.safetensors" --adapter-f16 "$WORK/stage3-adapter.safetensors"
train_stage stage4 "$WORK/m20" models/recipe/stage4-fresh-lists.toml \
  --init-adapter "$WORK/stage3-adapter.safetensors"

# Stage 5 reads match notes instead of similarity notes: the same lists with `match T/20`.
if [ ! -f "$WORK/m20-match/train.jsonl" ]; then
  $ALRO data prepare --dataset ml-100k --path "$ML100K" --match-tiers 20 --out "$WORK/m20-match"
fi
# It starts from stage 4's end as it shipped (the f16 adapter), as it was trained.
[ -f "$WORK/stage4-adapter.safetensors" ] ||
  $ALRO export --checkpoint "$WORK/runs/stage4/last.safetensors" --adapter-f16 "$WORK/stage4-adapter.safetensors"
train_stage stage5 "$WORK/m20-match" models/recipe/stage5-match-notes.toml \
  --init-adapter "$WORK/stage4-adapter.safetensors"

# Stage 6 trains the rows greedy decoding reads (continuation loss on answers in note order), from
# stage 5's end as it shipped (the f16 adapter), on other lists of the same files.
[ -f "$WORK/stage5-adapter.safetensors" ] ||
  $ALRO export --checkpoint "$WORK/runs/stage5/last.safetensors" --adapter-f16 "$WORK/stage5-adapter.safetensors"
train_stage stage6 "$WORK/m20-match" models/recipe/stage6-continuation.toml \
  --init-adapter "$WORK/stage5-adapter.safetensors"

# The release adapter is the state at the end of stage 6's schedule (last.safetensors), not the
# best of the 40-list validations: their differences are within their noise.
$ALRO export --checkpoint "$WORK/runs/stage6/last.safetensors" --adapter-f16 models/ranker/adapter.safetensors
cp "$WORK/m20-match/manifest.json" models/ranker/protocol/manifest.json
say "wrote models/ranker/adapter.safetensors; bash scripts/setup.sh rebuilds the default ranker"
