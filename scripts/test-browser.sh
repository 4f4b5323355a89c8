#!/usr/bin/env bash
# Browser end-to-end tests (headless Chromium, playwright-core): builds the package and the demo
# page (scripts/build-wasm.sh), ranks the fixture tests/fixtures/browser/request.jsonl with the
# native CLI, then runs tests/browser/e2e.test.mjs, which loads the page with WebGPU disabled (CPU
# fallback) and with WebGPU (SwiftShader), compares the rankings with the native ones, fails on any
# network request after the model has loaded, and checks the package's error messages.
# Screenshots and timings go to artifacts/browser/ (git-ignored).
#
# The native answers come from the debug `alro` binary in the main target dir (target/debug/alro),
# which `cargo test --workspace` in scripts/test.sh has already built; ALRO_BIN overrides it, and
# it is built (debug, -p alro-trainer) when missing.
# Environment: ALRO_PAGE_MODEL (the GGUF to test; default the setup's backbone), CHROMIUM
# (default /usr/bin/chromium), ALRO_SKIP_WEBGPU (1 skips the WebGPU run).
# Usage: bash scripts/test-browser.sh     (after scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[test-browser] %s\n' "$*"; }

MODEL=${ALRO_PAGE_MODEL:-$PWD/.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf}
ALRO_BIN=${ALRO_BIN:-target/debug/alro}
FIXTURE=tests/fixtures/browser/request.jsonl
OUT=artifacts/browser
mkdir -p "$OUT"

if [ ! -x "$ALRO_BIN" ]; then
  say "$ALRO_BIN missing: cargo build -p alro-trainer (debug)"
  CARGO_TARGET_DIR=target cargo build --locked -p alro-trainer
  ALRO_BIN=target/debug/alro
fi
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || { echo "Chromium not found: run bash scripts/setup.sh" >&2; exit 1; }
[ -d tests/browser/node_modules/playwright-core ] || (cd tests/browser && npm ci --no-audit --no-fund)

ALRO_PAGE_MODEL=$MODEL bash scripts/build-wasm.sh

say "native answers: $ALRO_BIN rank --model $MODEL --input $FIXTURE --mode greedy|single|bootstrap"
"$ALRO_BIN" rank --model "$MODEL" --input "$FIXTURE" --mode greedy > "$OUT/native-greedy.jsonl"
"$ALRO_BIN" rank --model "$MODEL" --input "$FIXTURE" --mode single > "$OUT/native-single.jsonl"
# Bootstrap as the page's check asks for it (e2e.test.mjs BOOTSTRAP): 2 orders, seed 3.
"$ALRO_BIN" rank --model "$MODEL" --input "$FIXTURE" --mode bootstrap --orders 2 --seed 3 \
  > "$OUT/native-bootstrap.jsonl"
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
doc = {m: [json.loads(l) for l in open(f"{out}/native-{m}.jsonl") if l.strip()] for m in ("greedy", "single", "bootstrap")}
json.dump(doc, open(f"{out}/native.json", "w"), indent=2)
PY

# The WebGPU run uses Chromium's SwiftShader adapter (software: ~1 min per 100-token prompt on
# 2 cores), so it ranks only the small fixture. ALRO_SKIP_WEBGPU=1 skips it.
export ALRO_SKIP_WEBGPU=${ALRO_SKIP_WEBGPU:-0}
say "headless Chromium: $("${CHROMIUM:-/usr/bin/chromium}" --version 2>/dev/null || echo unknown)"
ALRO_NATIVE_RESULTS=$PWD/$OUT/native.json node --test --test-reporter=spec tests/browser/e2e.test.mjs
say "screenshots and timings in $OUT/"
