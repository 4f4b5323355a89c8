#!/usr/bin/env bash
# The paper's claims (ALRO, Chao et al. 2024) measured at one CPU budget, on the release protocol
# (ML-100K, L 10, m 20, P 5, similarity notes in 20 tiers of 1/40 cosine, uniform negatives):
#  1. a note-order warm-up (the release recipe's stage 1, models/recipe/stage1-note-order.toml),
#     trained once and shared: every recipe starts from a ranker that reads its notes (from the
#     bare backbone, 20-candidate runs of this size stay at chance: research/release-ranker-log.md);
#  2. SFT, SFT+SLL, SFT+PSL and ALRO (`alro train --preset`), each with several seeds (a seed draws
#     the training lists and their order), research/configs/claims-m20.toml, STEPS optimizer steps
#     of 4 lists;
#  3. every run scored single pass on the first N test lists;
#  4. position bias of SFT and ALRO (first seed): each list ranked under K presentation orders,
#     mean pairwise Kendall τ and the spread of NDCG@10 (`alro eval --position-bias K`);
#  5. ALRO (first seed): bootstrap (B = 5 greedy lists, Borda count) against its single pass,
#     quality and time.
# Each result is a file in OUT/results/ (commit them to keep a piece of the work: training
# folders are scratch); a result already there is skipped, so after an interruption the script
# continues where it stopped. OUT/summary.md: mean and spread over seeds per recipe, then the
# position-bias and bootstrap rows (research/claims_summary.py).
#
# Usage: bash scripts/claims.sh [N_TEST_LISTS (default 200)]
# Env: ALRO_CLAIMS_OUT (default artifacts/claims), ALRO_CLAIMS_SEEDS (default "1 2 3"),
#      ALRO_CLAIMS_PRESETS (default "sft sft+sll sft+psl alro"), ALRO_CLAIMS_STEPS (default 20),
#      ALRO_CLAIMS_ORDERS (K, default 5), ALRO_CLAIMS_BIAS_LISTS (default 50),
#      ALRO_CLAIMS_WARMUP_STEPS (default 25, as the release).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200}
OUT=${ALRO_CLAIMS_OUT:-artifacts/claims}
SEEDS=(${ALRO_CLAIMS_SEEDS:-1 2 3})
PRESETS=(${ALRO_CLAIMS_PRESETS:-sft sft+sll sft+psl alro})
STEPS=${ALRO_CLAIMS_STEPS:-20}
ORDERS=${ALRO_CLAIMS_ORDERS:-5}
BIAS_LISTS=${ALRO_CLAIMS_BIAS_LISTS:-50}
WARMUP_STEPS=${ALRO_CLAIMS_WARMUP_STEPS:-25}
ML100K=../shared/data/ml-100k
ALRO=./target/release/alro
NOTES=(--similarity-tiers 20 --similarity-steps 40)
say() { printf '[claims] %s\n' "$*"; }

[ -x "$ALRO" ] || cargo build --release --locked -p alro-trainer
mkdir -p "$OUT/results" "$OUT/runs"
[ -f "$OUT/m20/train.jsonl" ] ||
  $ALRO data prepare --dataset ml-100k --path "$ML100K" "${NOTES[@]}" --out "$OUT/m20"
[ -f "$OUT/warmup-lists/train.jsonl" ] ||
  python3 scripts/tier_sanity_lists.py "$OUT/m20" "$OUT/warmup-lists" --note similarity \
    --train-sample 2000

# train RUN_DIR ARGS...: trains, resumes (a killed run), or skips (RUN_DIR/done) one run; its wall
# time goes to RUN_DIR.seconds (the sum over the pieces).
train() {
  local run=$1 t0=$SECONDS resume=()
  shift
  [ -f "$run/done" ] && return
  [ -f "$run/last.safetensors" ] && resume=(--resume)
  $ALRO train --quiet --out "$run" "$@" "${resume[@]}"
  echo $(( $(cat "$run.seconds" 2>/dev/null || echo 0) + SECONDS - t0 )) > "$run.seconds"
  touch "$run/done"
}

# score RESULT ADAPTER_NAME=CHECKPOINT ARGS...: one `alro eval --json` of the adapter on the
# first N test lists (or as ARGS say), its per-list NDCG@10 and its wall time, unless done.
score() {
  local result=$1 adapter=$2 t0=$SECONDS
  shift 2
  [ -f "$result.json" ] && return
  $ALRO eval --dataset ml-100k --path "$ML100K" "${NOTES[@]}" --adapter "$adapter" --limit "$N" \
    --json --per-list "$result.per-list.jsonl.part" "$@" > "$result.json.part"
  python3 - "$result.json.part" "$((SECONDS - t0))" <<'PY'
import json, sys
path, seconds = sys.argv[1], int(sys.argv[2])
rows = [json.loads(l) for l in open(path) if l.strip()]
for r in rows:
    r["seconds"] = seconds
open(path, "w").write("".join(json.dumps(r) + "\n" for r in rows))
PY
  mv "$result.per-list.jsonl.part" "$result.per-list.jsonl"
  mv "$result.json.part" "$result.json"
}

say "warm-up: note order, $WARMUP_STEPS steps"
train "$OUT/runs/warmup" --data "$OUT/warmup-lists" --config models/recipe/stage1-note-order.toml \
  --stop-at-step "$WARMUP_STEPS"
WARMUP=$OUT/runs/warmup/last.safetensors
score "$OUT/results/warmup" "warm-up=$WARMUP"

for seed in "${SEEDS[@]}"; do
  for p in "${PRESETS[@]}"; do
    name=$p-seed$seed
    # A measured run needs no training folder (results copied from research/claims/results).
    [ -f "$OUT/results/$name.json" ] && { say "$name: measured"; continue; }
    say "$name: $STEPS steps, then $N test lists"
    train "$OUT/runs/$name" --data "$OUT/m20" --config research/configs/claims-m20.toml \
      --preset "$p" --seed "$seed" --train-examples $((4 * STEPS)) --init-adapter "$WARMUP"
    [ -f "$OUT/results/$name.train-seconds" ] ||
      cp "$OUT/runs/$name.seconds" "$OUT/results/$name.train-seconds"
    score "$OUT/results/$name" "$p=$OUT/runs/$name/last.safetensors" --mode single
  done
  if [ "$seed" = "${SEEDS[0]}" ]; then
    for p in sft alro; do
      [ -d "$OUT/runs/$p-seed$seed" ] || continue
      say "$p-seed$seed: position bias, $ORDERS orders of $BIAS_LISTS lists"
      N=$BIAS_LISTS score "$OUT/results/$p-seed$seed.position-bias" \
        "$p=$OUT/runs/$p-seed$seed/last.safetensors" --mode single --position-bias "$ORDERS"
    done
    if [ -d "$OUT/runs/alro-seed$seed" ]; then
      for mode in "single" "bootstrap --orders 5"; do
        say "alro-seed$seed: --mode $mode on $BIAS_LISTS lists"
        N=$BIAS_LISTS score "$OUT/results/alro-seed$seed.${mode%% *}-$BIAS_LISTS" \
          "alro=$OUT/runs/alro-seed$seed/last.safetensors" --mode $mode
      done
    fi
  fi
done
python3 research/claims_summary.py "$OUT/results" | tee "$OUT/summary.md"
