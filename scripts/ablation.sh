#!/usr/bin/env bash
# The ALRO ablation on ML-100K within a CPU budget: prepare lists (L = 5, m = 10), train each
# preset with configs/ml100k-cpu.toml, then score zero-shot, the four adapters and the classical
# baselines on the same first N test lists; writes artifacts/ablation/{table.md,curves.svg}.
#   bash scripts/ablation.sh [N_TEST_LISTS] [PRESETS...]
# Environment: ALRO_ABLATION_OUT (default artifacts/ablation), ALRO_ABLATION_CONFIG (default
# configs/ml100k-cpu.toml), ALRO_POPULARITY_TIERS (default 0: no popularity notes; see DATA.md),
# ALRO_CANDIDATES / ALRO_POSITIVES (m and P; default 10 and 5).
# E.g. the 60-minute runs with popularity notes:
#   ALRO_ABLATION_OUT=artifacts/notes ALRO_ABLATION_CONFIG=configs/ml100k-cpu-60min.toml \
#   ALRO_POPULARITY_TIERS=7 bash scripts/ablation.sh 100 alro
# and the three-candidate lists a CPU hour can learn (research/benchmarks-history.md "Adapters in every block"):
#   ALRO_ABLATION_OUT=artifacts/m3 ALRO_ABLATION_CONFIG=research/configs/ml100k-cpu-60min-m3.toml \
#   ALRO_CANDIDATES=3 ALRO_POSITIVES=1 ALRO_POPULARITY_TIERS=7 bash scripts/ablation.sh 100
# ALRO_WARMUP_CONFIG adds a curriculum's first stage (research/benchmarks-history.md "A popularity warm-up"): SFT
# with that config on 1,600 training lists whose target is the popularity-note order
# (scripts/tier_sanity_lists.py), trained once; every preset then starts from its adapters.
# Needs notes (ALRO_POPULARITY_TIERS or ALRO_SIMILARITY_TIERS). The CPU-hour curriculum at m = 3:
#   ALRO_ABLATION_OUT=artifacts/m3-warmup ALRO_ABLATION_CONFIG=research/configs/ml100k-cpu-60min-m3-curriculum.toml \
#   ALRO_WARMUP_CONFIG=research/configs/ml100k-popularity-warmup-m3.toml \
#   ALRO_CANDIDATES=3 ALRO_POSITIVES=1 ALRO_POPULARITY_TIERS=7 bash scripts/ablation.sh 100
# ALRO_RULE_WARMUP_CONFIG adds a second warm-up after it (research/benchmarks-history.md "Recent windows"): SFT on
# 1,600 of the real lists whose target is the note + year rule learned from each user's latest
# training window (research/scripts/teacher_lists.py). The three-stage run of the history:
#   ALRO_ABLATION_OUT=artifacts/m3-rule ALRO_ABLATION_CONFIG=research/configs/ml100k-cpu-60min-m3-recent.toml \
#   ALRO_WARMUP_CONFIG=research/configs/ml100k-popularity-warmup-m3.toml \
#   ALRO_RULE_WARMUP_CONFIG=research/configs/ml100k-rule-warmup-m3.toml \
#   ALRO_CANDIDATES=3 ALRO_POSITIVES=1 ALRO_POPULARITY_TIERS=7 bash scripts/ablation.sh 943 alro
# SFT over each user's latest window after the warm-up (research/benchmarks-history.md "SFT on the latest
# windows": above popularity once on a GPU, not in this CPU-hour replica):
#   ALRO_ABLATION_OUT=artifacts/m3-latest ALRO_ABLATION_CONFIG=research/configs/ml100k-cpu-60min-m3-recent-sft.toml \
#   ALRO_WARMUP_CONFIG=research/configs/ml100k-popularity-warmup-m3.toml \
#   ALRO_CANDIDATES=3 ALRO_POSITIVES=1 ALRO_POPULARITY_TIERS=7 bash scripts/ablation.sh 943 sft
# ALRO_SIMILARITY_TIERS adds similarity notes (DATA.md "Similarity notes"); without popularity
# notes the warm-up learns the similarity-note order instead. The CPU hour that beats popularity
# (research/benchmarks-history.md "Similarity notes"):
#   ALRO_ABLATION_OUT=artifacts/m3-similarity ALRO_ABLATION_CONFIG=research/configs/ml100k-cpu-60min-m3-similarity.toml \
#   ALRO_WARMUP_CONFIG=research/configs/ml100k-similarity-warmup-m3.toml \
#   ALRO_CANDIDATES=3 ALRO_POSITIVES=1 ALRO_SIMILARITY_TIERS=7 bash scripts/ablation.sh 943 alro
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100}
shift || true
PRESETS=${*:-sft sft+sll sft+psl alro}
OUT=${ALRO_ABLATION_OUT:-artifacts/ablation}
CONFIG=${ALRO_ABLATION_CONFIG:-configs/ml100k-cpu.toml}
ALRO=./target/release/alro
PROTOCOL=(--history-len 5 --candidates "${ALRO_CANDIDATES:-10}" --positives "${ALRO_POSITIVES:-5}"
  --popularity-tiers "${ALRO_POPULARITY_TIERS:-0}" --similarity-tiers "${ALRO_SIMILARITY_TIERS:-0}")
DATA=(--dataset ml-100k --path ../shared/data/ml-100k)
bash scripts/setup.sh
cargo build -q --release -p alro-trainer
mkdir -p "$OUT"
$ALRO data prepare "${DATA[@]}" "${PROTOCOL[@]}" --out "$OUT/data"

# train NAME RUN_DIR ARGS...: trains (or resumes, or skips when finished) one run.
train() {
  local name=$1 run=$2
  shift 2
  if [ -f "$run/summary.json" ]; then
    echo "== $name: already trained ($run)"
  elif [ -f "$run/last.safetensors" ]; then
    /usr/bin/time -f "$name: %e s, %M KiB peak" $ALRO train --out "$run" "$@" --resume
  else
    /usr/bin/time -f "$name: %e s, %M KiB peak" $ALRO train --out "$run" "$@"
  fi
}

init=()
runs=()
adapters=()
if [ -n "${ALRO_WARMUP_CONFIG:-}" ]; then
  # Stage 1 lists: m = 10 with notes, cut to m candidates of different tiers when m < 10.
  M=${ALRO_CANDIDATES:-10}
  # The popularity-note order when those notes are on, else the similarity-note order.
  if [ "${ALRO_POPULARITY_TIERS:-0}" -gt 0 ]; then NOTE=popularity; else NOTE=similarity; fi
  [ "${ALRO_POPULARITY_TIERS:-0}${ALRO_SIMILARITY_TIERS:-0}" != 00 ] ||
    { echo "the warm-up needs ALRO_POPULARITY_TIERS or ALRO_SIMILARITY_TIERS" >&2; exit 2; }
  $ALRO data prepare "${DATA[@]}" --history-len 5 --candidates 10 --positives 5 \
    --popularity-tiers "${ALRO_POPULARITY_TIERS:-0}" --similarity-tiers "${ALRO_SIMILARITY_TIERS:-0}" \
    --out "$OUT/warmup-source"
  python3 scripts/tier_sanity_lists.py "$OUT/warmup-source" "$OUT/warmup-data" --note "$NOTE" \
    --train-sample 1600 $([ "$M" -lt 10 ] && echo --candidates "$M")
  train warmup "$OUT/runs/warmup" --data "$OUT/warmup-data" --config "$ALRO_WARMUP_CONFIG" --preset sft
  init=(--init-adapter "$OUT/runs/warmup/best.safetensors")
  runs+=("$OUT/runs/warmup")
  adapters+=(--adapter "warm-up only=$OUT/runs/warmup/best.safetensors")
fi
if [ -n "${ALRO_RULE_WARMUP_CONFIG:-}" ]; then
  # Second warm-up: the order of the note + year rule learned from each user's latest training
  # window (research/scripts/teacher_lists.py), from the first warm-up's adapters.
  python3 research/scripts/teacher_lists.py "$OUT/data" "$OUT/rule-data" --train-sample 1600
  train rule-warmup "$OUT/runs/rule-warmup" --data "$OUT/rule-data" \
    --config "$ALRO_RULE_WARMUP_CONFIG" --preset sft "${init[@]:?needs ALRO_WARMUP_CONFIG}"
  init=(--init-adapter "$OUT/runs/rule-warmup/best.safetensors")
  runs+=("$OUT/runs/rule-warmup")
  adapters+=(--adapter "rule warm-up=$OUT/runs/rule-warmup/best.safetensors")
fi
for p in $PRESETS; do
  train "$p" "$OUT/runs/$p" --data "$OUT/data" --config "$CONFIG" --preset "$p" "${init[@]}"
  adapters+=(--adapter "$p=$OUT/runs/$p/best.safetensors")
  runs+=("$OUT/runs/$p")
done
$ALRO plot "${runs[@]}" --out "$OUT/curves.svg"
$ALRO eval "${DATA[@]}" "${PROTOCOL[@]}" --limit "$N" --mode single --llm "${adapters[@]}" \
  --baseline random,popularity,item-mean,item-knn,mf,bpr --markdown | tee "$OUT/table.md"
