#!/usr/bin/env bash
# Runs every test of the workspace: setup (idempotent), the native test suites (one build, reused
# by every suite), the browser end-to-end tests (release wasm32 build of the core and the browser
# crate, headless Chromium: CPU fallback and WebGPU on SwiftShader), and the fuzz targets for a
# bounded time each (ALRO_FUZZ_SECONDS, default 30).
# Usage: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# Each stage reports its wall time, so a slow CI run shows where its minutes went.
stage() { local name=$1 t0=$SECONDS; shift; echo "[test] $name"; "$@"; echo "[test] $name: $((SECONDS - t0)) s"; }
stage "setup" bash scripts/setup.sh
stage "native test suites" cargo test --workspace --locked
stage "browser: wasm32 package + demo page in headless Chromium" bash scripts/test-browser.sh
stage "fuzzing: ${ALRO_FUZZ_SECONDS:-30}s per target from the committed corpus" \
  bash scripts/fuzz.sh "${ALRO_FUZZ_SECONDS:-30}"
echo "[test] all suites passed in $SECONDS s"
