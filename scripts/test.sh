#!/usr/bin/env bash
# Runs every test of the workspace: setup (idempotent), the native test suites (one build, reused
# by every suite), and the wasm32 build of the core and the browser crate.
# Usage: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "[test] native test suites"
cargo test --workspace --locked
echo "[test] alro-core and alro-ranker-wasm build for wasm32-unknown-unknown"
cargo build --locked --target wasm32-unknown-unknown -p alro-core -p alro-ranker-wasm
echo "[test] all suites passed"
