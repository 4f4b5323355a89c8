#!/usr/bin/env bash
# Runs every test of the workspace: setup (idempotent), the native test suites (one build, reused
# by every suite), the browser end-to-end tests (release wasm32 build of the core and the browser
# crate, headless Chromium: CPU fallback and WebGPU on SwiftShader), and the fuzz targets for a
# bounded time each (ALRO_FUZZ_SECONDS, default 30).
# Usage: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "[test] native test suites"
cargo test --workspace --locked
echo "[test] browser: wasm32 package + demo page in headless Chromium"
bash scripts/test-browser.sh
echo "[test] fuzzing: ${ALRO_FUZZ_SECONDS:-30}s per target from the committed corpus"
bash scripts/fuzz.sh "${ALRO_FUZZ_SECONDS:-30}"
echo "[test] all suites passed"
