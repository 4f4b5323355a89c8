#!/usr/bin/env bash
# Fuzzes alro's input parsers with cargo-fuzz (libFuzzer), each target for a bounded time, starting
# from the committed corpus (fuzz/corpus/<target>/). First replays every committed crash
# reproducer (fuzz/regressions/<target>/), so a fixed bug stays fixed.
# New corpus entries go to a scratch folder (artifacts/fuzz/), never into the committed corpus;
# `cargo +nightly fuzz cmin` + a commit adds them when worthwhile. A crash fails the script and
# leaves its input in artifacts/fuzz/<target>/crash-* (turn it into a regression: copy it to
# fuzz/regressions/<target>/ and fix the bug).
# Usage: bash scripts/fuzz.sh [SECONDS_PER_TARGET (default 60)] [TARGET...]
# Needs: the nightly toolchain and cargo-fuzz (scripts/setup.sh installs cargo-fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[fuzz] %s\n' "$*"; }

SECONDS_PER_TARGET=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(gguf_model gguf_tokenizer hf_checkpoint data_loaders prompt request_json item_table)
# Sanitizer: none by default (the code under test is safe Rust, where the bugs to find are panics,
# hangs and runaway allocation, which libFuzzer catches without ASan; ASan doubles build and run
# time). ALRO_FUZZ_SANITIZER=address for a deeper run.
SANITIZER=${ALRO_FUZZ_SANITIZER:-none}
FUZZ=(cargo +nightly fuzz)
# Bounds every input must respect: 1 MiB of input, 2 GiB of memory, 10 s per input.
LIBFUZZER_FLAGS=(-max_len=1048576 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1)

say "building ${#TARGETS[@]} targets (sanitizer: $SANITIZER)"
"${FUZZ[@]}" build --sanitizer "$SANITIZER"

mkdir -p artifacts/fuzz
summary=artifacts/fuzz/summary.tsv
printf 'target\tseconds\texecutions\tcorpus\tcrashes\n' > "$summary"
for t in "${TARGETS[@]}"; do
  if compgen -G "fuzz/regressions/$t/*" >/dev/null; then
    say "$t: replaying fuzz/regressions/$t/"
    "${FUZZ[@]}" run --sanitizer "$SANITIZER" "$t" fuzz/regressions/$t/* -- -runs=1 "${LIBFUZZER_FLAGS[@]}" >/dev/null 2>&1 \
      || { echo "[fuzz] $t: a committed regression input fails again" >&2; exit 1; }
  fi
  scratch=artifacts/fuzz/$t
  rm -rf "$scratch" && mkdir -p "$scratch/corpus"
  say "$t: ${SECONDS_PER_TARGET}s from fuzz/corpus/$t"
  log=$scratch/log.txt
  if ! "${FUZZ[@]}" run --sanitizer "$SANITIZER" "$t" "$scratch/corpus" "fuzz/corpus/$t" -- \
      -max_total_time="$SECONDS_PER_TARGET" -artifact_prefix="$scratch/" "${LIBFUZZER_FLAGS[@]}" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "[fuzz] $t: crash; input saved under $scratch/ (see $log)" >&2
    exit 1
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  corpus=$(find "$scratch/corpus" "fuzz/corpus/$t" -type f | wc -l)
  printf '%s\t%s\t%s\t%s\t0\n' "$t" "$SECONDS_PER_TARGET" "${execs:-?}" "$corpus" >> "$summary"
  say "$t: ${execs:-?} executions, no crash"
done
column -t "$summary"
